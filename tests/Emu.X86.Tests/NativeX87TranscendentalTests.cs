using System.Runtime.InteropServices;
using Iced.Intel;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

/// <summary>Compares FSIN, FCOS, FSINCOS, FPTAN, F2XM1, FPATAN, FYL2X and FYL2XP1 with the host's x87 for many operands:
/// finite results within 1 ulp of the 64-bit significand; zeros, infinities, NaNs, unsupported encodings and domain
/// errors bit for bit; exception flags (including DE and UE for denormals) and C2 always exactly.</summary>
public unsafe class NativeX87TranscendentalTests(ITestOutputHelper output)
{
    // Buffer layout (both sides): x @0, y @16, control word @32, first result @48, final status @64,
    // second result @80, status right after the instruction @96.
    const int BufSize = 112;

    enum Domain { Trig, Exp2, Atan, Log, LogP1 }

    static readonly (string Name, Domain Domain, Action<Assembler, Func<int, AssemblerMemoryOperand>> Op, bool TwoResults)[] Ops =
    {
        ("fsin", Domain.Trig, (a, at) => { a.fld(T(at(0))); a.fsin(); }, false),
        ("fcos", Domain.Trig, (a, at) => { a.fld(T(at(0))); a.fcos(); }, false),
        ("fsincos", Domain.Trig, (a, at) => { a.fld(T(at(0))); a.fsincos(); }, true),
        ("fptan", Domain.Trig, (a, at) => { a.fld(T(at(0))); a.fptan(); }, true),
        ("f2xm1", Domain.Exp2, (a, at) => { a.fld(T(at(0))); a.f2xm1(); }, false),
        ("fpatan", Domain.Atan, (a, at) => { a.fld(T(at(16))); a.fld(T(at(0))); a.fpatan(); }, false),
        ("fyl2x", Domain.Log, (a, at) => { a.fld(T(at(16))); a.fld(T(at(0))); a.fyl2x(); }, false),
        ("fyl2xp1", Domain.LogP1, (a, at) => { a.fld(T(at(16))); a.fld(T(at(0))); a.fyl2xp1(); }, false),
    };

    static AssemblerMemoryOperand T(AssemblerMemoryOperand m) => __tword_ptr[m];

    static ulong RandomMantissa(Random rng) => ((ulong)(uint)rng.Next() << 32 | (uint)rng.Next()) | 0x8000_0000_0000_0000;

    /// <summary>A special operand: zero, denormal, infinity, quiet or signaling NaN, or an unsupported encoding.</summary>
    static Float80 Special(Random rng)
    {
        ushort sign = (ushort)(rng.Next(2) << 15);
        return rng.Next(7) switch
        {
            0 => new Float80(sign, 0),
            1 => new Float80(sign, RandomMantissa(rng) >> rng.Next(1, 64)),
            2 => new Float80((ushort)(sign | 0x7FFF), 0x8000_0000_0000_0000),
            3 => new Float80((ushort)(sign | 0x7FFF), RandomMantissa(rng) | 0xC000_0000_0000_0000),
            4 => new Float80((ushort)(sign | 0x7FFF), (RandomMantissa(rng) & ~0x4000_0000_0000_0000UL) | 1),
            5 => new Float80((ushort)(sign | rng.Next(1, 0x7FFF)), RandomMantissa(rng) >> 1),
            _ => new Float80(sign, 0x8000_0000_0000_0000 | (uint)rng.Next()),   // pseudo-denormal
        };
    }

    static Float80 Finite(Random rng, int minExp, int maxExp, bool negative) =>
        new((ushort)((negative ? 0x8000 : 0) | rng.Next(minExp, maxExp + 1)), RandomMantissa(rng));

    /// <summary>x (ST0) and y (ST1) for one comparison: mostly inside the instruction's documented domain, some special.</summary>
    static (Float80 X, Float80 Y) Operands(Random rng, Domain d)
    {
        const int B = Float80.Bias;
        bool special = rng.Next(8) == 0;
        Float80 y = rng.Next(10) == 0 ? Special(rng) : Finite(rng, B - 40, B + 40, rng.Next(2) == 0);
        switch (d)
        {
            case Domain.Trig:
                if (special) return (Special(rng), y);
                if (rng.Next(4) == 0)
                {
                    // Near a multiple of π/2: the argument reduction decides the result.
                    var near = Float80.FromDouble(Math.PI / 2 * rng.Next(1, 1 << rng.Next(1, 30)));
                    near.Mantissa += (ulong)rng.Next(-64, 64);
                    return (rng.Next(2) == 0 ? near : near.Negate(), y);
                }
                return (Finite(rng, rng.Next(3) == 0 ? B - 80 : B - 8, B + 66, rng.Next(2) == 0), y);
            case Domain.Exp2:
                if (special) return (Special(rng), y);
                if (rng.Next(20) == 0) return (rng.Next(2) == 0 ? Float80.One : Float80.One.Negate(), y);
                return (Finite(rng, rng.Next(3) == 0 ? B - 200 : B - 20, B - 1, rng.Next(2) == 0), y);
            case Domain.Atan:
                return (special ? Special(rng) : Finite(rng, B - 60, B + 60, rng.Next(2) == 0), rng.Next(8) == 0 ? Special(rng) : y);
            case Domain.Log:
                if (special) return (rng.Next(3) == 0 ? Float80.One : Special(rng), y);
                if (rng.Next(6) == 0)
                {
                    // Just around 1, where the logarithm loses no relative precision on the hardware either.
                    var one = new Float80((ushort)(B - rng.Next(2)), rng.Next(2) == 0 ? ulong.MaxValue - (ulong)rng.Next(1 << 20) : 0x8000_0000_0000_0000 + (ulong)rng.Next(1 << 20));
                    return (one, y);
                }
                return (Finite(rng, 1, 0x7FFE, false), rng.Next(8) == 0 ? Special(rng) : y);
            default:
                if (special) return (Special(rng), rng.Next(8) == 0 ? Special(rng) : y);
                return (Finite(rng, rng.Next(3) == 0 ? B - 300 : B - 30, B - 3, rng.Next(2) == 0), y);
        }
    }

    /// <summary>Finite and nonzero in a supported encoding (denormals included): the hardware approximates results
    /// from such operands to within 1 ulp; zeros, infinities, NaNs and invalid operands have exact answers.</summary>
    static bool Approximated(Float80 f) => !f.IsZero && f.Exponent != Float80.MaxExp && !f.IsUnsupported;

    /// <summary>Distance in units in the last place between two finite values of the same sign.</summary>
    static UInt128 UlpDistance(Float80 a, Float80 b)
    {
        if (a.Sign != b.Sign) return UInt128.MaxValue;
        // Consecutive values differ by one in this key, across binades and into the denormals.
        static UInt128 Key(Float80 f) => f.Exponent == 0 ? f.Mantissa : ((UInt128)f.Exponent << 63) + (f.Mantissa & 0x7FFF_FFFF_FFFF_FFFF);
        UInt128 ka = Key(a), kb = Key(b);
        return ka > kb ? ka - kb : kb - ka;
    }

    static Float80 Read(ReadOnlySpan<byte> s) => new(BitConverter.ToUInt16(s[8..]), BitConverter.ToUInt64(s));

    [Fact]
    public void TranscendentalsMatchTheHostFpuWithinOneUlp()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64 || !OperatingSystem.IsLinux()) return;
        IntPtr mem = NativeX87Harness.AllocateCode();
        var rng = new Random(2718);
        var m = new TestMachine();
        m.Cpu.SetSegmentReal(SegReg.CS, 0);
        const uint Buf = 0x3000;
        var failures = new List<string>();
        var report = new List<string>();
        byte* buf = stackalloc byte[BufSize];
        foreach (var (name, domain, op, twoResults) in Ops)
        {
            void Body(Assembler a, Func<int, AssemblerMemoryOperand> at)
            {
                op(a, at);
                a.fnstsw(__word_ptr[at(96)]);
                a.fstp(T(at(48)));
                if (twoResults) a.fstp(T(at(80)));
            }
            var fn = NativeX87Harness.Prepare(m, mem, Buf, Body);
            bool twoOperands = domain is Domain.Atan or Domain.Log or Domain.LogP1;
            int exact = 0, oneUlp = 0, compared = 0, specials = 0;
            for (int n = 0; n < 3000; n++)
            {
                var (x, y) = Operands(rng, domain);
                ushort cw = (ushort)(0x3F | (rng.Next(4) << 10) | (new[] { 0, 2, 3 }[rng.Next(3)] << 8));
                var span = new Span<byte>(buf, BufSize);
                span.Clear();
                BitConverter.TryWriteBytes(span[0..], x.Mantissa); BitConverter.TryWriteBytes(span[8..], x.SignExp);
                BitConverter.TryWriteBytes(span[16..], y.Mantissa); BitConverter.TryWriteBytes(span[24..], y.SignExp);
                BitConverter.TryWriteBytes(span[32..], cw);
                span.CopyTo(m.Ram.AsSpan((int)Buf, BufSize));
                fn(buf);
                m.ExitCode = null;
                m.Cpu.Eip = TestMachine.CodeBase;
                m.Run(100);
                compared++;
                if (!Approximated(x) || (twoOperands && !Approximated(y))) specials++;
                var emu = m.Ram.AsSpan((int)Buf, BufSize);
                ushort hostSw = BitConverter.ToUInt16(span[64..]), emuSw = BitConverter.ToUInt16(emu[64..]);
                ushort hostC = BitConverter.ToUInt16(span[96..]), emuC = BitConverter.ToUInt16(emu[96..]);
                bool same = true, within = true;
                foreach (int at in twoResults ? new[] { 48, 80 } : new[] { 48 })
                {
                    Float80 h = Read(span[at..]), e = Read(emu[at..]);
                    if (h.Equals(e)) continue;
                    same = false;
                    bool finite = Approximated(h) && Approximated(e) && Approximated(x) && (!twoOperands || Approximated(y));
                    if (!finite || UlpDistance(h, e) > 1) within = false;
                }
                // Exception flags and C2 must match. C1 of an inexact result tells which way the hardware rounded its own
                // internal approximation, which can lie on the other side of a representable value than the true result.
                ushort cMask = (ushort)(X87.C2 | ((emuSw & SoftFloat.PE) == 0 ? X87.C1 : 0));
                bool flagsMatch = (hostSw & 0x3F) == (emuSw & 0x3F) && (hostC & cMask) == (emuC & cMask);
                if (same && flagsMatch) exact++;
                else if (within && flagsMatch) oneUlp++;
                else
                    failures.Add($"{name} cw={cw:X4} x={x} y={y}: emu {Read(emu[48..])} {(twoResults ? Read(emu[80..]) + " " : "")}sw={emuSw & 0x3F:X2} c={emuC & 0x4700:X4}"
                        + $" host {Read(span[48..])} {(twoResults ? Read(span[80..]) + " " : "")}sw={hostSw & 0x3F:X2} c={hostC & 0x4700:X4}");
            }
            report.Add($"{name}: {compared} operands ({specials} with a zero, infinite, NaN or invalid operand), {exact} bit-exact, {oneUlp} within 1 ulp");
        }
        foreach (var line in report) output.WriteLine(line);
        File.WriteAllLines(Path.Combine(Path.GetTempPath(), "emu-x87-transcendentals.txt"), report);
        string byOp = string.Join(", ", failures.GroupBy(f => f.Split(' ')[0]).Select(g => $"{g.Key}: {g.Count()}"));
        Assert.True(failures.Count == 0, $"{failures.Count} mismatches ({byOp}):\n"
            + string.Join("\n", failures.GroupBy(f => f.Split(' ')[0]).SelectMany(g => g.Take(8))));
    }
}
