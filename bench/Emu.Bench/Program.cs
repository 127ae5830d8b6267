using System.Diagnostics;
using BenchmarkDotNet.Running;
using Emu.Bench;

// "cpu-quick": a fast check of the CPU workloads without BenchmarkDotNet: best of 5 runs each, by wall time
// and by this thread's CPU time (the latter is steadier on a shared machine).
if (args is ["cpu-quick", ..])
{
    foreach (string name in args.Length > 1 ? args[1..] : CpuWorkloads.Names)
    {
        var w = CpuWorkloads.Create(name);
        ulong count = w.RunChecked();
        double bestWall = double.MaxValue, bestCpu = double.MaxValue;
        for (int i = 0; i < 5; i++)
        {
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            w.Run();
            bestWall = Math.Min(bestWall, sw.Elapsed.TotalSeconds);
            bestCpu = Math.Min(bestCpu, (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds);
        }
        Console.WriteLine($"{name}: {count} instructions, {bestWall * 1000:F1} ms wall ({count / bestWall / 1e6:F1} MIPS), "
            + $"{bestCpu * 1000:F1} ms CPU ({count / bestCpu / 1e6:F1} MIPS)");
    }
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Qcow2Benchmarks).Assembly).Run(args);
