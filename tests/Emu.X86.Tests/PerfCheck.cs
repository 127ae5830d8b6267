using System.Diagnostics;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

/// <summary>Manual throughput check: run with EMU_X86_PERF=1 to print MIPS for a tight integer loop (not asserted).</summary>
public class PerfCheck(ITestOutputHelper output)
{
    [Fact]
    public void TightLoopMips()
    {
        if (Environment.GetEnvironmentVariable("EMU_X86_PERF") != "1") return;
        var m = new TestMachine();
        m.Load(TestMachine.CodeBase, TestMachine.Assemble(16, TestMachine.CodeBase, a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 100_000_000);
            a.Label(ref top);
            a.add(eax, ecx);
            a.xor(edx, eax);
            a.dec(ecx);
            a.jnz(top);
            a.hlt();
        }));
        m.Cpu.SetSegmentReal(SegReg.CS, 0);
        m.Cpu.Eip = TestMachine.CodeBase;
        var sw = Stopwatch.StartNew();
        long total = 0;
        while (!m.Cpu.Halted) total += m.Cpu.Run(1_000_000);
        sw.Stop();
        string line = $"tight loop: {total} instructions in {sw.Elapsed.TotalSeconds:F2} s = {total / sw.Elapsed.TotalSeconds / 1e6:F1} MIPS";
        output.WriteLine(line);
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "emu-x86-mips.txt"), line + "\n");
    }
}
