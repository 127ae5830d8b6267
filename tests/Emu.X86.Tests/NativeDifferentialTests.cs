using System.Runtime.InteropServices;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

/// <summary>Runs ALU instructions on the emulator and on the host x86-64 CPU with the same random operands
/// and compares results and the flags the architecture defines for each case.</summary>
public unsafe class NativeDifferentialTests
{
    const uint All = Exec.Arith;
    const uint NoAf = All & ~Flags.AF;

    delegate void Emit(Assembler a, int size);

    /// <summary>Flags defined for an operation given its size, second operand (count) and the result.</summary>
    delegate uint Defined(int size, uint b);

    static AssemblerRegister32 R32(int n) => n == 0 ? eax : ecx;

    static void Op2(Assembler a, int size, string op)
    {
        switch (size)
        {
            case 4: typeof(Assembler).GetMethod(op, [typeof(AssemblerRegister32), typeof(AssemblerRegister32)])!.Invoke(a, [eax, ecx]); break;
            case 2: typeof(Assembler).GetMethod(op, [typeof(AssemblerRegister16), typeof(AssemblerRegister16)])!.Invoke(a, [ax, cx]); break;
            default: typeof(Assembler).GetMethod(op, [typeof(AssemblerRegister8), typeof(AssemblerRegister8)])!.Invoke(a, [al, cl]); break;
        }
    }

    /// <summary>The scratch memory operand: at RBX on the host, at EBX in the emulator.</summary>
    static AssemblerMemoryOperand Scratch(Assembler a, int size)
    {
        var f = size == 4 ? __dword_ptr : size == 2 ? __word_ptr : __byte_ptr;
        return a.Bitness == 64 ? f[rbx] : f[ebx];
    }

    /// <summary>Stores EAX to the scratch memory, runs OP there with CL/CX/ECX or the immediate, and loads it back.</summary>
    static void MemOp(Assembler a, int size, string op, int? imm = null)
    {
        a.mov(Scratch(a, 4), eax);
        object src = imm is int k ? k : size == 4 ? ecx : size == 2 ? cx : cl;
        typeof(Assembler).GetMethod(op, [typeof(AssemblerMemoryOperand), src.GetType()])!.Invoke(a, [Scratch(a, size), src]);
        a.mov(eax, Scratch(a, 4));
    }

    static void MemOp1(Assembler a, int size, string op)
    {
        a.mov(Scratch(a, 4), eax);
        typeof(Assembler).GetMethod(op, [typeof(AssemblerMemoryOperand)])!.Invoke(a, [Scratch(a, size)]);
        a.mov(eax, Scratch(a, 4));
    }

    static void Op1(Assembler a, int size, string op)
    {
        switch (size)
        {
            case 4: typeof(Assembler).GetMethod(op, [typeof(AssemblerRegister32)])!.Invoke(a, [eax]); break;
            case 2: typeof(Assembler).GetMethod(op, [typeof(AssemblerRegister16)])!.Invoke(a, [ax]); break;
            default: typeof(Assembler).GetMethod(op, [typeof(AssemblerRegister8)])!.Invoke(a, [al]); break;
        }
    }

    static void Shift(Assembler a, int size, string op)
    {
        switch (size)
        {
            case 4: typeof(Assembler).GetMethod(op, [typeof(AssemblerRegister32), typeof(AssemblerRegister8)])!.Invoke(a, [eax, cl]); break;
            case 2: typeof(Assembler).GetMethod(op, [typeof(AssemblerRegister16), typeof(AssemblerRegister8)])!.Invoke(a, [ax, cl]); break;
            default: typeof(Assembler).GetMethod(op, [typeof(AssemblerRegister8), typeof(AssemblerRegister8)])!.Invoke(a, [al, cl]); break;
        }
    }

    static uint ShiftDefined(int size, uint b, bool rotate, bool throughCarry)
    {
        int c = (int)(b & 0x1F);
        if (c == 0) return All;                       // nothing changes
        int w = size * 8;
        if (rotate)
        {
            uint m = Flags.CF;
            int eff = throughCarry ? c % (w + 1) : c;
            if (throughCarry && eff == 0) return All;   // a full-circle rotate: value and CF kept, OF as the host computes it
            if (c == 1) m |= Flags.OF;
            return m;
        }
        uint d = Flags.SF | Flags.ZF | Flags.PF;
        if (c < w) d |= Flags.CF;
        if (c == 1) d |= Flags.OF;
        return d;
    }

    /// <summary>Evaluates all 16 conditions after <paramref name="flagOp"/> into EDX bits (SETcc, MOVZX, LEA: no flag changes).</summary>
    static void AllConditions(Assembler a, int size, string flagOp)
    {
        a.xor(edx, edx);
        if (flagOp == "dec") Op1(a, size, "dec"); else Op2(a, size, flagOp);
        Action<AssemblerRegister8>[] sets =
        {
            a.seto, a.setno, a.setb, a.setae, a.sete, a.setne, a.setbe, a.seta,
            a.sets, a.setns, a.setp, a.setnp, a.setl, a.setge, a.setle, a.setg,
        };
        foreach (var set in sets)
        {
            set(bl);
            a.movzx(ebx, bl);
            a.lea(edx, __dword_ptr[ebx + edx * 2]);
        }
    }

    static readonly (string Name, Emit Emit, Defined Defined, int[] Sizes)[] Ops =
    {
        ("cc-cmp", (a, s) => AllConditions(a, s, "cmp"), (_, _) => All, [1, 2, 4]),
        ("cc-add", (a, s) => AllConditions(a, s, "add"), (_, _) => All, [1, 2, 4]),
        ("cc-sbb", (a, s) => AllConditions(a, s, "sbb"), (_, _) => All, [1, 2, 4]),
        ("cc-dec", (a, s) => AllConditions(a, s, "dec"), (_, _) => All, [1, 2, 4]),
        ("cc-and", (a, s) => AllConditions(a, s, "and"), (_, _) => NoAf, [1, 2, 4]),
        ("add", (a, s) => Op2(a, s, "add"), (_, _) => All, [1, 2, 4]),
        ("adc", (a, s) => Op2(a, s, "adc"), (_, _) => All, [1, 2, 4]),
        ("sub", (a, s) => Op2(a, s, "sub"), (_, _) => All, [1, 2, 4]),
        ("sbb", (a, s) => Op2(a, s, "sbb"), (_, _) => All, [1, 2, 4]),
        ("cmp", (a, s) => Op2(a, s, "cmp"), (_, _) => All, [1, 2, 4]),
        ("and", (a, s) => Op2(a, s, "and"), (_, _) => NoAf, [1, 2, 4]),
        ("or", (a, s) => Op2(a, s, "or"), (_, _) => NoAf, [1, 2, 4]),
        ("xor", (a, s) => Op2(a, s, "xor"), (_, _) => NoAf, [1, 2, 4]),
        ("test", (a, s) => Op2(a, s, "test"), (_, _) => NoAf, [1, 2, 4]),
        ("inc", (a, s) => Op1(a, s, "inc"), (_, _) => All, [1, 2, 4]),
        ("dec", (a, s) => Op1(a, s, "dec"), (_, _) => All, [1, 2, 4]),
        ("neg", (a, s) => Op1(a, s, "neg"), (_, _) => All, [1, 2, 4]),
        ("not", (a, s) => Op1(a, s, "not"), (_, _) => All, [1, 2, 4]),
        ("shl", (a, s) => Shift(a, s, "shl"), (s, b) => ShiftDefined(s, b, false, false), [1, 2, 4]),
        ("shr", (a, s) => Shift(a, s, "shr"), (s, b) => ShiftDefined(s, b, false, false), [1, 2, 4]),
        ("sar", (a, s) => Shift(a, s, "sar"), (s, b) => ShiftDefined(s, b, false, false), [1, 2, 4]),
        ("rol", (a, s) => Shift(a, s, "rol"), (s, b) => ShiftDefined(s, b, true, false), [1, 2, 4]),
        ("ror", (a, s) => Shift(a, s, "ror"), (s, b) => ShiftDefined(s, b, true, false), [1, 2, 4]),
        ("rcl", (a, s) => Shift(a, s, "rcl"), (s, b) => ShiftDefined(s, b, true, true), [1, 2, 4]),
        ("rcr", (a, s) => Shift(a, s, "rcr"), (s, b) => ShiftDefined(s, b, true, true), [1, 2, 4]),
        ("imul2", (a, s) => { if (s == 4) a.imul(eax, ecx); else a.imul(ax, cx); }, (_, _) => Flags.CF | Flags.OF, [2, 4]),
        ("mul", (a, s) => { if (s == 4) a.mul(ecx); else if (s == 2) a.mul(cx); else a.mul(cl); }, (_, _) => Flags.CF | Flags.OF, [1, 2, 4]),
        ("imul1", (a, s) => { if (s == 4) a.imul(ecx); else if (s == 2) a.imul(cx); else a.imul(cl); }, (_, _) => Flags.CF | Flags.OF, [1, 2, 4]),
        // Immediate counts, three-operand IMUL, CMOVcc and MOVZX from a register run as decoded forms.
        ("shl7", (a, _) => a.shl(eax, 7), (_, _) => NoAf & ~Flags.OF, [4]),
        ("shr1", (a, _) => a.shr(eax, 1), (_, _) => NoAf, [4]),
        ("sar13", (a, _) => a.sar(eax, 13), (_, _) => NoAf & ~Flags.OF, [4]),
        ("rol5", (a, s) => a.rol(eax, 5), (s, _) => ShiftDefined(s, 5, true, false), [4]),
        ("ror1", (a, s) => a.ror(eax, 1), (s, _) => ShiftDefined(s, 1, true, false), [4]),
        ("imul3", (a, _) => a.imul(eax, ecx, 0x12345), (_, _) => Flags.CF | Flags.OF, [4]),
        ("imul3b", (a, _) => a.imul(eax, ecx, -3), (_, _) => Flags.CF | Flags.OF, [4]),
        ("cmovb", (a, _) => { a.cmp(eax, ecx); a.mov(edx, ecx); a.cmovb(eax, edx); }, (_, _) => All, [4]),
        ("cmovl", (a, _) => { a.cmp(eax, ecx); a.mov(edx, ecx); a.cmovl(eax, edx); }, (_, _) => All, [4]),
        ("cmovg", (a, _) => { a.sub(eax, ecx); a.mov(edx, ecx); a.cmovg(eax, edx); }, (_, _) => All, [4]),
        ("movzxh", (a, _) => a.movzx(eax, ch), (_, _) => All, [4]),
        ("movzxw", (a, _) => a.movzx(eax, cx), (_, _) => All, [4]),
        ("bt", (a, s) => { if (s == 4) a.bt(eax, ecx); else a.bt(ax, cx); }, (_, _) => Flags.CF, [2, 4]),
        ("btc", (a, s) => { if (s == 4) a.btc(eax, ecx); else a.btc(ax, cx); }, (_, _) => Flags.CF, [2, 4]),
        ("shld", (a, s) => { a.mov(edx, 0x9E3779B9); if (s == 4) a.shld(eax, edx, cl); else a.shld(ax, dx, cl); },
            (s, b) => (b & 0x1F) == 0 ? All : (b & 0x1F) > s * 8 ? 0 : (b & 0x1F) == 1 ? NoAf : NoAf & ~Flags.OF, [2, 4]),
        ("shrd", (a, s) => { a.mov(edx, 0x9E3779B9); if (s == 4) a.shrd(eax, edx, cl); else a.shrd(ax, dx, cl); },
            (s, b) => (b & 0x1F) == 0 ? All : (b & 0x1F) > s * 8 ? 0 : (b & 0x1F) == 1 ? NoAf : NoAf & ~Flags.OF, [2, 4]),
        ("bsf", (a, s) => { a.mov(eax, 0x5A5A5A5A); if (s == 4) a.bsf(eax, ecx); else a.bsf(ax, cx); }, (_, _) => Flags.ZF, [2, 4]),
        ("bsr", (a, s) => { a.mov(eax, 0x5A5A5A5A); if (s == 4) a.bsr(eax, ecx); else a.bsr(ax, cx); }, (_, _) => Flags.ZF, [2, 4]),
        ("xadd", (a, s) => { if (s == 4) a.xadd(eax, ecx); else if (s == 2) a.xadd(ax, cx); else a.xadd(al, cl); a.mov(edx, ecx); }, (_, _) => All, [1, 2, 4]),
        ("cmpxchg", (a, s) => { a.mov(edx, ecx); a.xor(edx, 0x10); if (s == 4) a.cmpxchg(ecx, edx); else if (s == 2) a.cmpxchg(cx, dx); else a.cmpxchg(cl, dl); a.mov(edx, ecx); }, (_, _) => All, [1, 2, 4]),
        ("div", (a, s) => { a.xor(edx, edx); a.or(ecx, 1); if (s == 4) a.div(ecx); else if (s == 2) a.div(cx); else { a.and(eax, 0x7F); a.div(cl); } }, (_, _) => 0, [1, 2, 4]),
 // Memory destinations (read-modify-write in place when the page is RAM) and 8-bit compares run as decoded forms.
        ("add-m", (a, s) => MemOp(a, s, "add"), (_, _) => All, [1, 2, 4]),
        ("adc-m", (a, s) => MemOp(a, s, "adc"), (_, _) => All, [1, 2, 4]),
        ("sub-m", (a, s) => MemOp(a, s, "sub"), (_, _) => All, [1, 2, 4]),
        ("sbb-m", (a, s) => MemOp(a, s, "sbb"), (_, _) => All, [1, 2, 4]),
        ("and-m", (a, s) => MemOp(a, s, "and"), (_, _) => NoAf, [1, 2, 4]),
        ("or-m", (a, s) => MemOp(a, s, "or"), (_, _) => NoAf, [1, 2, 4]),
        ("xor-m", (a, s) => MemOp(a, s, "xor"), (_, _) => NoAf, [1, 2, 4]),
        ("cmp-m", (a, s) => MemOp(a, s, "cmp"), (_, _) => All, [1, 2, 4]),
        ("test-m", (a, s) => MemOp(a, s, "test"), (_, _) => NoAf, [1, 2, 4]),
        ("add-mi", (a, s) => MemOp(a, s, "add", -3), (_, _) => All, [1, 4]),
        ("sub-mi", (a, s) => MemOp(a, s, "sub", 0x12345), (_, _) => All, [4]),
        ("sbb-mi", (a, s) => MemOp(a, s, "sbb", 0x7F), (_, _) => All, [1, 4]),
        ("and-mi", (a, s) => MemOp(a, s, "and", 0x5A), (_, _) => NoAf, [1, 4]),
        ("or-mi", (a, s) => MemOp(a, s, "or", 0x81), (_, _) => NoAf, [1, 4]),
        ("cmp-mi", (a, s) => MemOp(a, s, "cmp", 0x80), (_, _) => All, [1, 4]),
        ("test-mi", (a, s) => MemOp(a, s, "test", 0x81), (_, _) => NoAf, [1, 4]),
        ("inc-m", (a, s) => MemOp1(a, s, "inc"), (_, _) => All, [1, 4]),
        ("dec-m", (a, s) => MemOp1(a, s, "dec"), (_, _) => All, [1, 4]),
        ("mov-mi", (a, _) => { a.mov(Scratch(a, 4), eax); a.mov(Scratch(a, 1), 0xA5); a.mov(eax, Scratch(a, 4)); }, (_, _) => All, [1]),
        ("cmp-ri", (a, _) => a.cmp(al, 0x80), (_, _) => All, [1]),
        ("test-ri", (a, _) => a.test(cl, 0x81), (_, _) => NoAf, [1]),
        ("idiv", (a, s) => { a.or(ecx, 3); a.and(eax, 0x3FFFFFFF); if (s == 4) { a.cdq(); a.idiv(ecx); } else if (s == 2) { a.and(eax, 0x3FFF); a.cwd(); a.idiv(cx); } else { a.and(eax, 0x1F); a.cbw(); a.idiv(cl); } }, (_, _) => 0, [1, 2, 4]),
    };

    [DllImport("libc")]
    static extern IntPtr mmap(IntPtr addr, nuint length, int prot, int flags, int fd, nint offset);

    static uint[] Edge = { 0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x0F, 0x10, 0x99 };

    [Fact]
    public void AluResultsAndDefinedFlagsMatchTheHostCpu()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64 || !OperatingSystem.IsLinux()) return;
        IntPtr mem = mmap(IntPtr.Zero, 1 << 16, 7, 0x22, -1, 0);
        Assert.NotEqual(IntPtr.Zero - 1, mem);
        var rng = new Random(1234);
        var m = new TestMachine();
        m.Cpu.SetSegmentReal(SegReg.CS, 0);
        int compared = 0;
        var failures = new List<string>();
        ulong* buf = stackalloc ulong[8];   // the last two are the memory operand's scratch
        foreach (var (name, emit, defined, sizes) in Ops)
            foreach (int size in sizes)
            {
                // Native: rdi -> { a, b, flagsIn, result, flagsOut, edx }.
                byte[] native = TestMachine.Assemble(64, (ulong)mem, a =>
                {
                    a.push(rbx);                      // callee-saved in the host ABI; the ops may use it
                    a.lea(rbx, __[rdi + 48]);
                    a.mov(rax, __qword_ptr[rdi]);
                    a.mov(rcx, __qword_ptr[rdi + 8]);
                    a.push(__qword_ptr[rdi + 16]);
                    a.popfq();
                    emit(a, size);
                    a.pushfq();
                    a.pop(__qword_ptr[rdi + 32]);
                    a.mov(__qword_ptr[rdi + 24], rax);
                    a.mov(__qword_ptr[rdi + 40], rdx);
                    a.pop(rbx);
                    a.ret();
                });
                Marshal.Copy(native, 0, mem, native.Length);
                var fn = (delegate* unmanaged<ulong*, void>)mem;
                m.Load(TestMachine.CodeBase, TestMachine.Assemble(16, TestMachine.CodeBase, a => { emit(a, size); a.@out(0xF4, al); }));
                for (int n = 0; n < 1000; n++)
                {
                    uint x = n < Edge.Length * Edge.Length ? Edge[n % Edge.Length] : (uint)rng.Next() ^ ((uint)rng.Next() << 16);
                    uint y = n < Edge.Length * Edge.Length ? Edge[n / Edge.Length] : (uint)rng.Next() ^ ((uint)rng.Next() << 16);
                    if (name is "shl" or "shr" or "sar" or "rol" or "ror" or "rcl" or "rcr" or "shld" or "shrd") y = (uint)rng.Next(0, 40);
                    uint fin = (uint)rng.Next() & All | Flags.Reserved1;
                    buf[0] = x; buf[1] = y; buf[2] = fin; buf[5] = 0;
                    fn(buf);
                    uint nres = (uint)buf[3], nflags = (uint)buf[4], nedx = (uint)buf[5];

                    m.ExitCode = null;
                    m.Cpu.Eax = x; m.Cpu.Ecx = y; m.Cpu.Edx = 0; m.Cpu.Ebx = 0x9000;
                    m.Cpu.Eflags = fin;
                    m.Cpu.Eip = TestMachine.CodeBase;
                    m.Run(200);
                    uint eres = m.Cpu.Eax, eflags = m.Cpu.Eflags;
                    uint mask = defined(size, y);
                    uint rmask = size == 4 ? 0xFFFFFFFFu : size == 2 ? 0xFFFFu : 0xFFu;
                    if (name is "mul" or "imul1" or "div" or "idiv") rmask = size == 1 ? 0xFFFFu : rmask;
                    bool resultOk = (eres & rmask) == (nres & rmask) || name is "cmp" or "test" or "bt";
                    if (name is "mul" or "imul1" or "div" or "idiv" or "xadd" or "cmpxchg" && size > 1 || name is "xadd" or "cmpxchg")
                        resultOk &= (m.Cpu.Edx & rmask) == (nedx & rmask);
                    if (name is "bsf" or "bsr" && (y & rmask) == 0) resultOk = true;
                    if (name.StartsWith("cc-")) resultOk &= m.Cpu.Edx == nedx;   // destination undefined for a zero source
                    if (name is "shld" or "shrd" && (y & 0x1F) > size * 8) resultOk = true;
                    compared++;
                    if (!resultOk || (eflags & mask) != (nflags & mask))
                        failures.Add($"{name}/{size * 8} a={x:X8} b={y:X8} fin={Exec.F(fin)}: emu {eres & rmask:X8} {Exec.F(eflags & mask)} host {nres & rmask:X8} {Exec.F(nflags & mask)} edx emu {m.Cpu.Edx:X8} host {nedx:X8}");
                }
            }
        Assert.True(failures.Count == 0, $"{failures.Count}/{compared} mismatches:\n" + string.Join("\n", failures.Take(25)));
    }
}
