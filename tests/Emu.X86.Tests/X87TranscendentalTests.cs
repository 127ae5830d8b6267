using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

/// <summary>x87 transcendentals against values known to all 64 bits (runs on any host, unlike the native differential test).</summary>
public class X87TranscendentalTests
{
    const uint Data = 0x1000, Out = 0x2000, Sw = 0x2100;

    static TestMachine Run(Action<TestMachine> setup, Action<Iced.Intel.Assembler> body)
    {
        var m = new TestMachine();
        setup(m);
        m.RunReal(a => { a.xor(ax, ax); a.mov(ds, ax); a.fninit(); body(a); a.fnstsw(__word_ptr[Sw]); a.hlt(); });
        Assert.True(m.Cpu.Halted);
        return m;
    }

    static Float80 Ext(TestMachine m, uint at) => new(m.Word(at + 8), BitConverter.ToUInt64(m.Ram, (int)at));

    static void PutInt(TestMachine m, uint at, int v) => BitConverter.GetBytes(v).CopyTo(m.Ram, at);

    static void SetRounding(Iced.Intel.Assembler a, int rc)
    {
        a.mov(__word_ptr[Data + 0x80], (ushort)(0x37F | (rc << 10)));
        a.fldcw(__word_ptr[Data + 0x80]);
    }

    [Theory]
    [InlineData(SoftFloat.RoundNearest, 0xC90FDAA22168C235UL)]   // π/4 = 0.C90FDAA22168C234C4C6...: nearest rounds up
    [InlineData(SoftFloat.RoundDown, 0xC90FDAA22168C234UL)]
    [InlineData(SoftFloat.RoundChop, 0xC90FDAA22168C234UL)]
    [InlineData(SoftFloat.RoundUp, 0xC90FDAA22168C235UL)]
    public void FpatanOfOneOverOneIsPiOverFourRoundedByControl(int rc, ulong mantissa)
    {
        var m = Run(_ => { }, a => { SetRounding(a, rc); a.fld1(); a.fld1(); a.fpatan(); a.fstp(__tword_ptr[Out]); });
        Assert.Equal(new Float80(0x3FFE, mantissa), Ext(m, Out));
        Assert.NotEqual(0, m.Word(Sw) & SoftFloat.PE);
    }

    [Fact]
    public void F2xm1OfOneHalfIsSqrtTwoMinusOne()
    {
        // sqrt(2) - 1 = 0.6A09E667F3BCC908B2FB...: normalized D413CCCFE7799211 | 65F6..., rounds down.
        var m = Run(m => PutInt(m, Data, 2), a => { a.fld1(); a.fidiv(__dword_ptr[Data]); a.f2xm1(); a.fstp(__tword_ptr[Out]); });
        Assert.Equal(new Float80(0x3FFD, 0xD413CCCFE7799211), Ext(m, Out));
    }

    [Fact]
    public void Fyl2xOfAPowerOfTwoIsExact()
    {
        var m = Run(m => { PutInt(m, Data, 3); PutInt(m, Data + 4, 8); },
            a => { a.fild(__dword_ptr[Data]); a.fild(__dword_ptr[Data + 4]); a.fyl2x(); a.fstp(__tword_ptr[Out]); });
        Assert.Equal(SoftFloat.FromInt64(9), Ext(m, Out));
        Assert.Equal(0, m.Word(Sw) & SoftFloat.PE);
        Assert.Equal(0, m.Cpu.Fpu.Top);
    }

    [Fact]
    public void Fyl2xOfZeroDividesByZero()
    {
        var m = Run(_ => { }, a => { a.fld1(); a.fldz(); a.fyl2x(); a.fstp(__tword_ptr[Out]); });
        Assert.Equal(Float80.Infinity(true), Ext(m, Out));
        Assert.NotEqual(0, m.Word(Sw) & SoftFloat.ZE);
    }

    [Fact]
    public void FsinOfHugeOperandSetsC2AndLeavesIt()
    {
        var m = Run(m => PutInt(m, Data, 64),
            a => { a.fild(__dword_ptr[Data]); a.fld1(); a.fscale(); a.fstp(st1); a.fsin(); a.fstp(__tword_ptr[Out]); });
        Assert.Equal(new Float80(0x3FFF + 64, 0x8000_0000_0000_0000), Ext(m, Out));
        Assert.NotEqual(0, m.Word(Sw) & X87.C2);
    }

    [Fact]
    public void FsinNearPiUsesTheHardwareReduction()
    {
        // FLDPI loads C90FDAA22168C235 * 2^-62; the hardware reduces by the 66-bit π C90FDAA22168C234C * 2^-66,
        // which is 4 * 2^-66 = 2^-64 smaller, so FSIN gives -sin(2^-64), -2^-64 to 64 bits (a real x87 agrees).
        var m = Run(_ => { }, a => { a.fldpi(); a.fsin(); a.fstp(__tword_ptr[Out]); });
        var r = Ext(m, Out);
        Assert.True(r.Sign);
        Assert.Equal(0x3FFF - 64, r.Exponent);
        Assert.Equal(0x8000_0000_0000_0000UL, r.Mantissa);
    }

    [Fact]
    public void FsincosPushesCosineOverSine()
    {
        var m = Run(_ => { }, a => { a.fldz(); a.fsincos(); a.fstp(__tword_ptr[Out]); a.fstp(__tword_ptr[Out + 16]); });
        Assert.Equal(Float80.One, Ext(m, Out));
        Assert.Equal(Float80.Zero, Ext(m, Out + 16));
        Assert.Equal(0, m.Word(Sw) & SoftFloat.PE);
    }
}
