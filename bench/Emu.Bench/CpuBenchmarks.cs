using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Emu.Bench;

/// <summary>Guest code on the x86 interpreter: a tight integer loop, memory copies through 4 KiB pages, and an
/// in-guest LZ decompressor plus CRC-32, and kernel-style memory operands; the MIPS column is guest instructions retired per second.</summary>
[Config(typeof(Config))]
public class CpuBenchmarks
{
    sealed class Config : ManualConfig
    {
        // In process: the guest runs need no generated project, whose build can time out on a busy 2-core machine.
        public Config()
        {
            AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(5).WithToolchain(InProcessEmitToolchain.Instance));
            AddColumn(new MipsColumn(false), new MipsColumn(true));
        }
    }

    CpuWorkload _tight = null!, _memcpy = null!, _mixed = null!, _memory = null!, _large = null!;

    [GlobalSetup]
    public void Setup()
    {
        _tight = CpuWorkloads.TightLoop();
        _memcpy = CpuWorkloads.PagedMemcpy();
        _mixed = CpuWorkloads.Mixed();
        _memory = CpuWorkloads.MemoryOperands();
        _large = CpuWorkloads.LargeCode();
        // One checked run each: a wrong guest result fails the benchmark rather than timing garbage.
        foreach (var w in new[] { _tight, _memcpy, _mixed, _memory, _large })
            Console.WriteLine($"// {w.Name}: {w.RunChecked()} guest instructions per run");
    }

    /// <summary>Register-only ALU loop.</summary>
    [Benchmark]
    public ulong TightLoop() => _tight.Run();

    /// <summary>REP MOVSD, dword and byte copy loops over 2 MiB with paging on.</summary>
    [Benchmark]
    public ulong PagedMemcpy() => _memcpy.Run();

    /// <summary>LZ decompression and CRC-32 in the guest.</summary>
    [Benchmark]
    public ulong Mixed() => _mixed.Run();

    /// <summary>Read-modify-write and compare memory operands with paging on.</summary>
    [Benchmark]
    public ulong MemoryOperands() => _memory.Run();

    /// <summary>160 KiB of guest code run round after round: the decode cache's footprint, as in kernel code.</summary>
    [Benchmark]
    public ulong LargeCode() => _large.Run();
}
