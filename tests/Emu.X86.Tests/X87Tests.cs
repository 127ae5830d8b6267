using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class X87Tests
{
    const uint Data = 0x1000, Out = 0x2000;

    static TestMachine Run(Action<TestMachine> setup, Action<Iced.Intel.Assembler> body)
    {
        var m = new TestMachine();
        setup(m);
        m.RunReal(a => { a.xor(ax, ax); a.mov(ds, ax); a.fninit(); body(a); a.hlt(); });
        Assert.True(m.Cpu.Halted);
        return m;
    }

    static (ushort SignExp, ulong Mantissa) Ext(TestMachine m, uint at) => (m.Word(at + 8), BitConverter.ToUInt64(m.Ram, (int)at));

    static void Put(TestMachine m, uint at, double d) => BitConverter.GetBytes(d).CopyTo(m.Ram, at);
    static void PutInt(TestMachine m, uint at, int v) => BitConverter.GetBytes(v).CopyTo(m.Ram, at);

    [Fact]
    public void OnePlusOneIsTwoAsDouble()
    {
        var m = Run(_ => { }, a => { a.fld1(); a.fld1(); a.faddp(st1, st0); a.fstp(__qword_ptr[Out]); });
        Assert.Equal(0x4000000000000000UL, BitConverter.ToUInt64(m.Ram, (int)Out));
        Assert.Equal(0, m.Cpu.Fpu.Top);
    }

    [Fact]
    public void OneThirdIsRoundedToNearestIn64Bits()
    {
        var m = Run(m => PutInt(m, Data, 3), a =>
        {
            a.fld1(); a.fidiv(__dword_ptr[Data]); a.fstp(__tword_ptr[Out]);
        });
        Assert.Equal(((ushort)0x3FFD, 0xAAAAAAAAAAAAAAABUL), Ext(m, Out));
    }

    [Theory]
    [InlineData(0x037F, 0xAAAAAAAAAAAAAAABUL)]   // nearest, 64-bit precision
    [InlineData(0x0F7F, 0xAAAAAAAAAAAAAAAAUL)]   // chop
    [InlineData(0x077F, 0xAAAAAAAAAAAAAAAAUL)]   // down
    [InlineData(0x0B7F, 0xAAAAAAAAAAAAAAABUL)]   // up
    [InlineData(0x027F, 0xAAAAAAAAAAAAA800UL)]   // nearest, 53-bit precision control
    [InlineData(0x007F, 0xAAAAAB0000000000UL)]   // nearest, 24-bit precision control
    public void TwoThirdsUnderRoundingAndPrecisionControl(int cw, ulong mantissa)
    {
        var m = Run(m => { PutInt(m, Data, 3); PutInt(m, Data + 4, 2); m.Ram[Data + 8] = (byte)cw; m.Ram[Data + 9] = (byte)(cw >> 8); }, a =>
        {
            a.fldcw(__word_ptr[Data + 8]);
            a.fild(__dword_ptr[Data + 4]); a.fidiv(__dword_ptr[Data]); a.fstp(__tword_ptr[Out]);
        });
        Assert.Equal(((ushort)0x3FFE, mantissa), Ext(m, Out));
        Assert.NotEqual(0, m.Cpu.Fpu.Status & 0x20);   // precision exception flagged
    }

    [Fact]
    public void SquareRootOfTwoIsExact()
    {
        var m = Run(m => PutInt(m, Data, 2), a => { a.fild(__dword_ptr[Data]); a.fsqrt(); a.fstp(__tword_ptr[Out]); });
        Assert.Equal(((ushort)0x3FFF, 0xB504F333F9DE6484UL), Ext(m, Out));
    }

    [Fact]
    public void PiConstantBitPattern()
    {
        var m = Run(_ => { }, a => { a.fldpi(); a.fstp(__tword_ptr[Out]); a.fldln2(); a.fstp(__tword_ptr[Out + 16]); });
        Assert.Equal(((ushort)0x4000, 0xC90FDAA22168C235UL), Ext(m, Out));
        Assert.Equal(((ushort)0x3FFE, 0xB17217F7D1CF79ACUL), Ext(m, Out + 16));
    }

    [Fact]
    public void FloatStoreRoundsToSingle()
    {
        var m = Run(m => Put(m, Data, 0.1), a => { a.fld(__qword_ptr[Data]); a.fstp(__dword_ptr[Out]); });
        Assert.Equal(0x3DCCCCCDu, m.Dword(Out));
    }

    [Fact]
    public void DenormalSingleLoadsExactly()
    {
        var m = Run(m => PutInt(m, Data, 1), a => { a.fld(__dword_ptr[Data]); a.fstp(__tword_ptr[Out]); });
        Assert.Equal(((ushort)(16383 - 149), 0x8000000000000000UL), Ext(m, Out));
        Assert.NotEqual(0, m.Cpu.Fpu.Status & 0x02);   // denormal operand flag
    }

    [Theory]
    [InlineData(2.5, 0x037F, 2)]
    [InlineData(-2.5, 0x037F, -2)]
    [InlineData(3.5, 0x037F, 4)]
    [InlineData(2.7, 0x0F7F, 2)]
    [InlineData(-2.7, 0x077F, -3)]
    [InlineData(-2.2, 0x0B7F, -2)]
    public void IntegerStoreHonoursRoundingControl(double value, int cw, int expected)
    {
        var m = Run(m => { Put(m, Data, value); m.Ram[Data + 8] = (byte)cw; m.Ram[Data + 9] = (byte)(cw >> 8); }, a =>
        {
            a.fldcw(__word_ptr[Data + 8]); a.fld(__qword_ptr[Data]); a.fistp(__dword_ptr[Out]);
        });
        Assert.Equal(expected, (int)m.Dword(Out));
    }

    [Fact]
    public void IntegerStoreOverflowGivesIndefinite()
    {
        var m = Run(m => Put(m, Data, 1e10), a => { a.fld(__qword_ptr[Data]); a.fistp(__dword_ptr[Out]); a.fnstsw(ax); });
        Assert.Equal(0x80000000u, m.Dword(Out));
        Assert.Equal(1u, m.Cpu.Eax & 1);   // IE
    }

    [Fact]
    public void DivideByZeroGivesInfinityAndZe()
    {
        var m = Run(_ => { }, a => { a.fld1(); a.fldz(); a.fdivp(st1, st0); a.fstp(__tword_ptr[Out]); a.fnstsw(ax); });
        Assert.Equal(((ushort)0x7FFF, 0x8000000000000000UL), Ext(m, Out));
        Assert.Equal(4u, m.Cpu.Eax & 4);
    }

    [Fact]
    public void CompareSetsConditionCodesAndEflags()
    {
        var m = Run(m => { Put(m, Data, 1.5); Put(m, Data + 8, 2.5); }, a =>
        {
            a.fld(__qword_ptr[Data + 8]);      // ST1 = 2.5
            a.fld(__qword_ptr[Data]);          // ST0 = 1.5
            a.fcom(st0, st1);
            a.fnstsw(ax);
            a.mov(bx, ax);
            a.fcomi(st0, st1);                 // 1.5 < 2.5 -> CF
            a.setb(cl);
            a.fxch(st0, st1);
            a.fcom(st0, st1);                       // 2.5 > 1.5 -> no bits
            a.fnstsw(ax);
        });
        Assert.Equal(0x0100u, m.Cpu.Ebx & 0x4500);          // C0
        Assert.Equal(1u, m.Cpu.Ecx & 0xFF);
        Assert.Equal(0u, m.Cpu.Eax & 0x4500);
    }

    [Fact]
    public void UnorderedCompareWithNaN()
    {
        var m = Run(m => Put(m, Data, double.NaN), a =>
        {
            a.fld1(); a.fld(__qword_ptr[Data]); a.fucompp(); a.fnstsw(ax);
        });
        Assert.Equal(0x4500u, m.Cpu.Eax & 0x4500);
        Assert.Equal(0u, m.Cpu.Eax & 1);        // quiet NaN: no invalid for FUCOM
        Assert.Equal(0, m.Cpu.Fpu.Top);
    }

    [Fact]
    public void PartialRemainderReportsQuotientBits()
    {
        var m = Run(m => { PutInt(m, Data, 3); PutInt(m, Data + 4, 11); }, a =>
        {
            a.fild(__dword_ptr[Data]); a.fild(__dword_ptr[Data + 4]); a.fprem(); a.fnstsw(ax); a.fistp(__dword_ptr[Out]);
        });
        Assert.Equal(2u, m.Dword(Out));                 // 11 mod 3
        Assert.Equal(0x4200u, m.Cpu.Eax & 0x4700);      // q = 3: C1 (bit 0) and C3 (bit 1), C2 clear
    }

    [Fact]
    public void StackOverflowSetsStackFault()
    {
        var m = Run(_ => { }, a => { for (int i = 0; i < 9; i++) a.fld1(); a.fnstsw(ax); });
        Assert.Equal(0x0241u, m.Cpu.Eax & 0x0241);      // C1 | SF | IE
    }

    [Fact]
    public void SaveAndRestoreRoundTrip()
    {
        var m = Run(m => PutInt(m, Data, 7), a =>
        {
            a.fild(__dword_ptr[Data]); a.fldpi();
            a.fnsave(__zmmword_ptr[0x3000]);     // 94 bytes in 16-bit mode
            a.fld1();                             // state was reset by FNSAVE
            a.frstor(__zmmword_ptr[0x3000]);
            a.fstp(__tword_ptr[Out]);
            a.fistp(__dword_ptr[Out + 16]);
            a.fnstcw(__word_ptr[Out + 32]);
        });
        Assert.Equal(((ushort)0x4000, 0xC90FDAA22168C235UL), Ext(m, Out));
        Assert.Equal(7u, m.Dword(Out + 16));
        Assert.Equal(0x037F, m.Word(Out + 32));
    }

    [Fact]
    public void BcdRoundTrip()
    {
        var m = Run(m => PutInt(m, Data, -1234567), a => { a.fild(__dword_ptr[Data]); a.fbstp(__tword_ptr[Out]); a.fbld(__tword_ptr[Out]); a.fistp(__dword_ptr[Out + 16]); });
        Assert.Equal(0x01234567UL, BitConverter.ToUInt64(m.Ram, (int)Out));
        Assert.Equal(0x80, m.Ram[Out + 9]);
        Assert.Equal(-1234567, (int)m.Dword(Out + 16));
    }

    [Fact]
    public void RegisterStackOperations()
    {
        var m = Run(m => { PutInt(m, Data, 5); PutInt(m, Data + 4, 7); }, a =>
        {
            a.fild(__dword_ptr[Data]);        // 5
            a.fild(__dword_ptr[Data + 4]);    // 7 5
            a.fld(st1);                       // 5 7 5
            a.fistp(__dword_ptr[Out]);        // 7 5      -> 5
            a.fxch(st0, st1);                 // 5 7
            a.fistp(__dword_ptr[Out + 4]);    // 7        -> 5
            a.fld1();                         // 1 7
            a.fstp(st1);                      // 1
            a.fistp(__dword_ptr[Out + 8]);    //          -> 1
            a.fild(__dword_ptr[Data]);        // 5
            a.fild(__dword_ptr[Data + 4]);    // 7 5
            a.stc();
            a.fcmovb(st0, st1);               // CF=1: ST0 = 5
            a.fistp(__dword_ptr[Out + 12]);
            a.fistp(__dword_ptr[Out + 16]);
            a.fnstsw(ax);
        });
        Assert.Equal(new uint[] { 5, 5, 1, 5, 5 }, Enumerable.Range(0, 5).Select(k => m.Dword(Out + (uint)k * 4)).ToArray());
        Assert.Equal(0, m.Cpu.Fpu.Top);
        Assert.Equal(0xFF, m.Cpu.Fpu.Empty);
        Assert.Equal(0u, m.Cpu.Eax & 0x41);    // no stack fault, no invalid
    }

    [Fact]
    public void TranscendentalsAreCloseToDouble()
    {
        var m = Run(m => Put(m, Data, 0.5), a =>
        {
            a.fld(__qword_ptr[Data]); a.fsincos(); a.fstp(__qword_ptr[Out]); a.fstp(__qword_ptr[Out + 8]);
            a.fld1(); a.fld(__qword_ptr[Data]); a.fpatan(); a.fstp(__qword_ptr[Out + 16]);
            a.fld(__qword_ptr[Data]); a.f2xm1(); a.fstp(__qword_ptr[Out + 24]);
        });
        Assert.Equal(Math.Cos(0.5), BitConverter.ToDouble(m.Ram, (int)Out), 15);
        Assert.Equal(Math.Sin(0.5), BitConverter.ToDouble(m.Ram, (int)Out + 8), 15);
        Assert.Equal(Math.Atan2(1, 0.5), BitConverter.ToDouble(m.Ram, (int)Out + 16), 15);   // atan(ST1 / ST0)
        Assert.Equal(Math.Sqrt(2) - 1, BitConverter.ToDouble(m.Ram, (int)Out + 24), 15);
    }
}

public class X87EnvironmentTests
{
    [Fact]
    public void RealModeEnvironmentHoldsLinearInstructionPointer()
    {
        var m = new TestMachine();
        m.Load(0x12340, TestMachine.Assemble(16, 0x0, a =>
        {
            a.fninit();
            a.fld1();                          // at 1234:0002 -> linear 0x12342
            a.fnstenv(__byte_ptr[0x100]);      // 14-byte real-mode layout at DS:0100 (DS = CS)
            a.hlt();
        }));
        m.RunReal(a =>
        {
            a.mov(ax, 0x1234); a.mov(ds, ax);
            a.db(0xEA); a.dw(0); a.dw(0x1234);
        });
        Assert.True(m.Cpu.Halted);
        uint env = 0x12340 + 0x100;
        Assert.Equal(0x037F, m.Word(env));
        Assert.Equal(0x2342, m.Word(env + 6));                 // IP[15:0] of linear 0x12342
        Assert.Equal(0x1000, m.Word(env + 8) & 0xF000);        // IP[19:16] in bits 12-15
        Assert.Equal(0x3FFF, m.Word(env + 4));                 // tag word: physical R7 (ST0) valid, the rest empty
    }
}

public class X87ErrorReportingTests
{
    [Fact]
    public void UnmaskedExceptionRaisesMathFaultWithNe()
    {
        // CR0.NE = 1: the next waiting x87 instruction takes #MF.
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(eax, cr0); a.or(eax, 0x20); a.mov(cr0, eax);
            a.fninit();
            a.mov(__word_ptr[0x500], 0x037B);     // unmask zero-divide
            a.fldcw(__word_ptr[0x500]);
            a.fld1(); a.fldz();
            a.fdivp(st1, st0);                    // ZE pending, no fault yet
            a.mov(ebx, 1);
            a.fld1();                             // #MF here
            a.hlt();
        });
        Assert.Equal(0x80 | 16, m.ExitCode);
        Assert.Equal(1u, m.Cpu.Ebx);
        Assert.Equal(0x0084, m.Cpu.Fpu.Status & 0x0084);   // ZE and ES
    }

    [Fact]
    public void UnmaskedExceptionSignalsFerrWithoutNe()
    {
        var m = new TestMachine();
        int signals = 0;
        m.Cpu.FpuErrorSignaled += () => signals++;
        m.RunReal(a =>
        {
            a.xor(ax, ax); a.mov(ds, ax);
            a.fninit();
            a.mov(__word_ptr[0x500], 0x037B);
            a.fldcw(__word_ptr[0x500]);
            a.fld1(); a.fldz();
            a.fdivp(st1, st0);
            a.fld1();                             // no #MF with CR0.NE = 0
            a.hlt();
        });
        Assert.True(m.Cpu.Halted);
        Assert.Equal(1, signals);
    }
}
