using System.Runtime.InteropServices;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

/// <summary>Compares x87 results bit for bit (and the exception flags) with the host FPU for random operands,
/// all rounding modes and precision controls.</summary>
public unsafe class NativeX87DifferentialTests
{
    // Buffer layout (both sides): a @0 (10 bytes), b @16, control word @32, result @48 (10 bytes), status @64.
    static readonly (string Name, Action<Assembler, Func<int, AssemblerMemoryOperand>> Body, int ResultBytes)[] Ops =
    {
        ("fadd", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fld(__tword_ptr_at(at(16))); a.faddp(st1, st0); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fsub", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fld(__tword_ptr_at(at(16))); a.fsubp(st1, st0); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fmul", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fld(__tword_ptr_at(at(16))); a.fmulp(st1, st0); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fdiv", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fld(__tword_ptr_at(at(16))); a.fdivp(st1, st0); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fsubr", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fld(__tword_ptr_at(at(16))); a.fsubrp(st1, st0); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fdivr", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fld(__tword_ptr_at(at(16))); a.fdivrp(st1, st0); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fsub-st", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fld(__tword_ptr_at(at(16))); a.fsub(st0, st1); a.fstp(__tword_ptr_at(at(48))); a.fstp(st0); }, 10),
        ("fdivr-st", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fld(__tword_ptr_at(at(16))); a.fdivr(st1, st0); a.fstp(st0); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fmul-m64", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fmul(__qword_ptr_at(at(16))); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fsubr-m32", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fsubr(__dword_ptr_at(at(20))); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fidiv-m32", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fidiv(__dword_ptr_at(at(16))); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fisubr-m16", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fisubr(__word_ptr_at(at(18))); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fist16", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fistp(__word_ptr_at(at(48))); }, 2),
        ("fcomi", (a, at) => { a.fld(__tword_ptr_at(at(16))); a.fld(__tword_ptr_at(at(0))); a.fcomip(st0, st1); a.fstp(st0);
            a.setz(__byte_ptr_at(at(48))); a.setp(__byte_ptr_at(at(49))); a.setb(__byte_ptr_at(at(50))); a.seto(__byte_ptr_at(at(51))); a.sets(__byte_ptr_at(at(52))); }, 5),
        ("fsqrt", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fabs(); a.fsqrt(); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fst64", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fstp(__qword_ptr_at(at(48))); }, 8),
        ("fst32", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fstp(__dword_ptr_at(at(48))); }, 4),
        ("fist32", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fistp(__dword_ptr_at(at(48))); }, 4),
        ("fist64", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fistp(__qword_ptr_at(at(48))); }, 8),
        ("frndint", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.frndint(); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fprem", (a, at) => { a.fld(__tword_ptr_at(at(16))); a.fld(__tword_ptr_at(at(0))); a.fprem(); a.fstp(__tword_ptr_at(at(48))); a.fstp(st0); }, 10),
        ("fprem1", (a, at) => { a.fld(__tword_ptr_at(at(16))); a.fld(__tword_ptr_at(at(0))); a.fprem1(); a.fstp(__tword_ptr_at(at(48))); a.fstp(st0); }, 10),
        ("fld64", (a, at) => { a.fld(__qword_ptr_at(at(0))); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fld32", (a, at) => { a.fld(__dword_ptr_at(at(4))); a.fstp(__tword_ptr_at(at(48))); }, 10),
        ("fcom", (a, at) => { a.fld(__tword_ptr_at(at(16))); a.fld(__tword_ptr_at(at(0))); a.fcompp(); }, 0),
        ("fucom", (a, at) => { a.fld(__tword_ptr_at(at(16))); a.fld(__tword_ptr_at(at(0))); a.fucompp(); }, 0),
        ("fxam", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fxam(); a.fstp(st0); }, 0),
        ("fxtract", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fxtract(); a.fstp(__tword_ptr_at(at(48))); a.fstp(__tword_ptr_at(at(64 + 2))); }, 10),
        ("fbstp", (a, at) => { a.fld(__tword_ptr_at(at(0))); a.fbstp(__tword_ptr_at(at(48))); }, 10),
        ("fscale", (a, at) => { a.fld(__tword_ptr_at(at(16))); a.fld(__tword_ptr_at(at(0))); a.fscale(); a.fstp(__tword_ptr_at(at(48))); a.fstp(st0); }, 10),
    };

    static AssemblerMemoryOperand __tword_ptr_at(AssemblerMemoryOperand m) => __tword_ptr[m];
    static AssemblerMemoryOperand __word_ptr_at(AssemblerMemoryOperand m) => __word_ptr[m];
    static AssemblerMemoryOperand __byte_ptr_at(AssemblerMemoryOperand m) => __byte_ptr[m];
    static AssemblerMemoryOperand __qword_ptr_at(AssemblerMemoryOperand m) => __qword_ptr[m];
    static AssemblerMemoryOperand __dword_ptr_at(AssemblerMemoryOperand m) => __dword_ptr[m];

    static Float80 RandomValue(Random rng, int nearExp)
    {
        int kind = rng.Next(40);
        bool sign = rng.Next(2) == 0;
        ulong mant = ((ulong)(uint)rng.Next() << 32 | (uint)rng.Next()) | 0x8000_0000_0000_0000;
        if (rng.Next(4) == 0) mant &= ~((1UL << rng.Next(64)) - 1);   // short significands: exact cases, ties
        int exp = kind switch
        {
            0 => 0,                                   // zero or denormal
            1 => 0x7FFF,                              // infinity or NaN
            2 => rng.Next(1, 80),                     // tiny
            3 => 0x7FFE - rng.Next(80),               // huge
            _ => Math.Clamp(nearExp + rng.Next(-70, 70), 1, 0x7FFE),
        };
        if (exp == 0) mant = rng.Next(3) == 0 ? 0 : mant >> rng.Next(1, 64);
        if (exp == 0x7FFF) mant = rng.Next(2) == 0 ? 0x8000_0000_0000_0000 : mant | 0xC000_0000_0000_0000;
        return new Float80((ushort)((sign ? 0x8000 : 0) | exp), mant);
    }

    [Fact]
    public void ArithmeticMatchesTheHostFpuBitForBit()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64 || !OperatingSystem.IsLinux()) return;
        IntPtr mem = NativeX87Harness.AllocateCode();
        var rng = new Random(4321);
        var m = new TestMachine();
        m.Cpu.SetSegmentReal(SegReg.CS, 0);
        const uint Buf = 0x3000;
        var failures = new List<string>();
        int compared = 0;
        byte* buf = stackalloc byte[80];
        foreach (var (name, body, resultBytes) in Ops)
        {
            var fn = NativeX87Harness.Prepare(m, mem, Buf, body);
            for (int n = 0; n < 2000; n++)
            {
                Float80 x = RandomValue(rng, 16383);
                Float80 y = RandomValue(rng, x.Exponent is 0 or 0x7FFF ? 16383 : x.Exponent);
                if (name == "fscale") y = SoftFloat.FromInt64(rng.Next(-200, 200));
                if (name is "fist32" or "fist64" or "frndint") x = RandomValue(rng, 16383 + rng.Next(-3, 66));
                ushort cw = (ushort)(0x3F | (rng.Next(4) << 10) | (new[] { 0, 2, 3 }[rng.Next(3)] << 8));
                var span = new Span<byte>(buf, 80);
                span.Clear();
                BitConverter.TryWriteBytes(span[0..], x.Mantissa); BitConverter.TryWriteBytes(span[8..], x.SignExp);
                BitConverter.TryWriteBytes(span[16..], y.Mantissa); BitConverter.TryWriteBytes(span[24..], y.SignExp);
                BitConverter.TryWriteBytes(span[32..], cw);
                span.CopyTo(m.Ram.AsSpan((int)Buf, 80));
                fn(buf);
                m.Cpu.InvalidateCode(Buf, 80);
                m.ExitCode = null;
                m.Cpu.Eip = TestMachine.CodeBase;
                m.Run(100);
                compared++;
                var hostRes = span.Slice(48, resultBytes).ToArray();
                var emuRes = m.Ram.AsSpan((int)Buf + 48, resultBytes).ToArray();
                ushort hostSw = BitConverter.ToUInt16(span[64..]), emuSw = m.Word(Buf + 64);
                const ushort swMask = 0x3F | 0x4700;     // exception flags, C0-C3
                if (!hostRes.AsSpan().SequenceEqual(emuRes) || (hostSw & swMask) != (emuSw & swMask))
                    failures.Add($"{name} cw={cw:X4} a={x} b={y}: emu {Convert.ToHexString(emuRes)} sw={emuSw & swMask:X4} host {Convert.ToHexString(hostRes)} sw={hostSw & swMask:X4}");
            }
        }
        string byOp = string.Join(", ", failures.GroupBy(f => f.Split(' ')[0]).Select(g => $"{g.Key}: {g.Count()}"));
        Assert.True(failures.Count == 0, $"{failures.Count}/{compared} mismatches ({byOp}):\n"
            + string.Join("\n", failures.GroupBy(f => f.Split(' ')[0]).SelectMany(g => g.Take(6))));
    }
}
