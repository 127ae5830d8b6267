using System.Diagnostics;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

/// <summary>Manual throughput check: run with EMU_X86_PERF=1 to print MIPS for tight loops (not asserted).</summary>
public class PerfCheck(ITestOutputHelper output)
{
    /// <summary>Best of three runs by thread CPU time; the build machine is shared, so wall time alone is noisy.</summary>
    static string Measure(string name, Action<Iced.Intel.Assembler> loop)
    {
        double best = 0, bestWall = 0;
        long total = 0;
        for (int rep = 0; rep < 3; rep++)
        {
            var m = new TestMachine();
            m.Load(TestMachine.CodeBase, TestMachine.Assemble(16, TestMachine.CodeBase, a => { loop(a); a.hlt(); }));
            m.Cpu.SetSegmentReal(SegReg.CS, 0);
            m.Cpu.Eip = TestMachine.CodeBase;
            var sw = Stopwatch.StartNew();
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            total = 0;
            while (!m.Cpu.Halted) total += m.Cpu.Run(1_000_000);
            sw.Stop();
            double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
            best = Math.Max(best, total / cpuSeconds / 1e6);
            bestWall = Math.Max(bestWall, total / sw.Elapsed.TotalSeconds / 1e6);
        }
        return $"{name}: {total} instructions per run, best of 3: {best:F1} MIPS by CPU time, {bestWall:F1} MIPS by wall time";
    }

    [Fact]
    public void TightLoopMips()
    {
        if (Environment.GetEnvironmentVariable("EMU_X86_PERF") != "1") return;
        string reg = Measure("register loop", a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 30_000_000);
            a.Label(ref top);
            a.add(eax, ecx);
            a.xor(edx, eax);
            a.dec(ecx);
            a.jnz(top);
        });
        string mem = Measure("memory loop", a =>
        {
            var top = a.CreateLabel();
            a.xor(ax, ax); a.mov(ds, ax);
            a.mov(ecx, 20_000_000);
            a.mov(bx, 0x1000);
            a.Label(ref top);
            a.add(__dword_ptr[bx], ecx);
            a.mov(eax, __dword_ptr[bx + 4]);
            a.push(eax);
            a.pop(edx);
            a.dec(ecx);
            a.jnz(top);
        });
        output.WriteLine(reg);
        output.WriteLine(mem);
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "emu-x86-mips.txt"), reg + "\n" + mem + "\n");
    }
}
