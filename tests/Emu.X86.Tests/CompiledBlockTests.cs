using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

/// <summary>Blocks compiled to host code behave exactly as the interpreter: two machines run the same program, one
/// compiling pages as soon as a block has run 20 times, and their registers, flags, EIP, retired counts and memory
/// are compared after every stretch the compiling one runs.</summary>
public class CompiledBlockTests
{
    const uint Data = 0x20000;

    static void AssertLockstep(Action<Assembler> body, Action<TestMachine>? setup = null, int ram = 1 << 20)
    {
        // Stretches of a prime length end at ever different points of the blocks; short ones also leave budgets
        // that a block does not fit, which the run loop must then interpret.
        foreach (int stretch in new[] { 97, 7 })
            AssertLockstep(body, setup, ram, stretch);
    }

    static void AssertLockstep(Action<Assembler> body, Action<TestMachine>? setup, int ram, int stretch)
    {
        const int MaxSteps = 400_000;
        TestMachine Start(bool compile) => ProtectedMode.Boot(a => { body(a); a.hlt(); }, m =>
        {
            setup?.Invoke(m);
            m.Cpu.CompileThreshold = compile ? 20 : 0;
            m.Cpu.CompileSynchronously = true;
        }, ram, budget: 1);
        var interpreted = Start(false);
        var compiled = Start(true);
        Assert.Equal(interpreted.Cpu.InstructionCount, compiled.Cpu.InstructionCount);
        int steps = 0;
        while (!compiled.Cpu.Halted && steps++ < MaxSteps)
        {
            ulong before = compiled.Cpu.InstructionCount;
            compiled.Cpu.Run(stretch);
            ulong ran = compiled.Cpu.InstructionCount - before;
            // The interpreter retires exactly as many, whatever block boundaries it meets.
            while (interpreted.Cpu.InstructionCount < compiled.Cpu.InstructionCount && !interpreted.Cpu.Halted)
                interpreted.Cpu.Run((int)(compiled.Cpu.InstructionCount - interpreted.Cpu.InstructionCount));
            AssertSameState(interpreted, compiled, steps);
            if (ran == 0) break;
        }
        Assert.True(compiled.Cpu.Halted, "the program did not finish");
        Assert.True(interpreted.Cpu.Halted);
        Assert.Null(CompilerThread.LastError);
        Assert.True(compiled.Cpu.CompiledRuns > 100, $"compiled code ran {compiled.Cpu.CompiledRuns} times");
        Assert.Equal(0, interpreted.Cpu.BlocksCompiled);
        Assert.Equal(interpreted.Ram, compiled.Ram);
    }

    static void AssertSameState(TestMachine expected, TestMachine actual, int step)
    {
        CpuState e = expected.Cpu.SaveState(), a = actual.Cpu.SaveState();
        string where = $"after stretch {step} ({actual.Cpu.InstructionCount} instructions, EIP {a.Eip:X})";
        Assert.True(e.Registers.AsSpan().SequenceEqual(a.Registers),
            $"registers differ {where}: {string.Join(' ', e.Registers.Select(r => r.ToString("X8")))} vs {string.Join(' ', a.Registers.Select(r => r.ToString("X8")))}");
        Assert.True(e.Eip == a.Eip, $"EIP {e.Eip:X} vs {a.Eip:X} {where}");
        Assert.True(e.Eflags == a.Eflags, $"EFLAGS {e.Eflags:X} vs {a.Eflags:X} {where}");
        Assert.Equal(expected.Cpu.InstructionCount, actual.Cpu.InstructionCount);
    }

    [Fact]
    public void Crc32Loop()
    {
        var data = new byte[2048];
        new Random(7).NextBytes(data);
        AssertLockstep(a =>
        {
            var outer = a.CreateLabel(); var inner = a.CreateLabel(); var noXor = a.CreateLabel();
            a.mov(esi, Data);
            a.mov(ecx, data.Length);
            a.mov(eax, 0xFFFFFFFF);
            a.Label(ref outer);
            a.movzx(edx, __byte_ptr[esi]);
            a.xor(eax, edx);
            a.mov(ebx, 8);
            a.Label(ref inner);
            a.shr(eax, 1);
            a.jnc(noXor);
            a.xor(eax, 0xEDB88320);
            a.Label(ref noXor);
            a.dec(ebx);
            a.jnz(inner);
            a.inc(esi);
            a.loop(outer);
            a.not(eax);
        }, m => data.CopyTo(m.Ram, (int)Data));
    }

    [Fact]
    public void RecursionThroughCallsAndTheStack()
    {
        AssertLockstep(a => WorkloadTests.Fibonacci(a, 15));
    }

    [Fact]
    public void PageFaultsInsideCompiledBlocksRestartTheFaultingStore()
    {
        const uint PageDir = 0x10000, PageTable = 0x11000, Target = 0x200000, Counter = 0x700;
        AssertLockstep(a =>
        {
            var loop = a.CreateLabel();
            a.mov(eax, PageDir); a.mov(cr3, eax);
            a.mov(eax, cr0); a.or(eax, 0x80010000); a.mov(cr0, eax);
            a.mov(edi, Target);
            a.mov(ecx, 5000);
            a.mov(eax, 1);
            a.Label(ref loop);
            a.mov(__dword_ptr[edi], eax);
            a.add(edi, 4);
            a.lea(eax, __dword_ptr[eax + eax * 2 + 1]);
            a.add(ebx, __dword_ptr[edi - 4]);
            a.dec(ecx);
            a.jnz(loop);
        }, m =>
        {
            for (uint i = 0; i < 1024; i++)
            {
                bool hole = i >= 0x200 && i < 0x206;
                BitConverter.GetBytes((i << 12) | (hole ? 2u : 3u)).CopyTo(m.Ram, PageTable + (int)i * 4);
            }
            BitConverter.GetBytes(PageTable | 3).CopyTo(m.Ram, PageDir);
            ProtectedMode.InstallPageMapper(m, PageTable, Counter);
        }, ram: 4 << 20);
    }

    [Fact]
    public void CodeThatRewritesItselfRunsTheNewInstructions()
    {
        // A hot compiled block stores to data, except every 64th round, when it stores the counter into the immediate
        // of its own next instruction: the block must stop after the store and run the new instruction.
        byte[] target = [0xB8, 0x78, 0x56, 0x34, 0x12], pointer = [0xEF, 0xBE, 0xAD, 0xDE];
        AssertLockstep(a =>
        {
            var loop = a.CreateLabel(); var store = a.CreateLabel();
            a.mov(ecx, 3000);
            a.xor(ebx, ebx);
            a.Label(ref loop);
            a.mov(edi, Data);
            a.test(ecx, 63);
            a.jnz(store);
            a.mov(edi, 0xDEADBEEF);                // becomes the address of the MOV's immediate
            a.Label(ref store);
            a.mov(__dword_ptr[edi], ecx);
            a.mov(eax, 0x12345678);
            a.add(ebx, eax);
            a.dec(ecx);
            a.jnz(loop);
        }, m =>
        {
            int at = m.Ram.AsSpan().IndexOf(target) + 1;
            BitConverter.GetBytes((uint)at).CopyTo(m.Ram, m.Ram.AsSpan().IndexOf(pointer));
        });
    }

    [Fact]
    public void StringInstructionsAndFlagConsumersBetweenCompiledCode()
    {
        AssertLockstep(a =>
        {
            var loop = a.CreateLabel();
            a.mov(edx, 2000);
            a.cld();
            a.Label(ref loop);
            a.mov(esi, Data);
            a.mov(edi, Data + 0x1000);
            a.mov(ecx, edx);
            a.and(ecx, 15);
            a.rep.movsb();
            a.mov(eax, edx);
            a.sub(eax, 1000);
            a.adc(ebx, eax);
            a.setl(cl);
            a.movzx(ecx, cl);
            a.add(ebp, ecx);
            a.cmovg(esi, edx);
            a.imul(eax, edx, 7);
            a.xor(ebx, eax);
            a.shl(eax, 3);
            a.sbb(ebx, eax);
            a.dec(edx);
            a.jnz(loop);
        }, m => new Random(3).NextBytes(m.Ram.AsSpan((int)Data, 0x2000)));
    }

    [Fact]
    public void StackAndMemoryOperandForms()
    {
        AssertLockstep(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 1000);
            a.Label(ref loop);
            a.push(esp);
            a.pop(eax);
            a.push(ecx);
            a.mov(__dword_ptr[esp], esp);
            a.pop(esp);
            a.add(ebx, eax);
            a.push(0x1234);
            a.cmp(__dword_ptr[esp], ecx);
            a.adc(ebx, 0);
            a.add(eax, __dword_ptr[esp]);
            a.movzx(edi, __word_ptr[esp + 1]);
            a.cmp(__dword_ptr[esp], 0x1000);
            a.setb(dl);
            a.add(esi, edx);
            a.pop(edx);
            a.dec(ecx);
            a.jnz(loop);
        });
    }
}
