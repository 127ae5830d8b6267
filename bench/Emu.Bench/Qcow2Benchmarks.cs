using BenchmarkDotNet.Attributes;
using Emu.Block;
using Emu.Block.Qcow2;

namespace Emu.Bench;

/// <summary>qcow2 I/O through the block driver: 4 KiB random and 64 KiB sequential, reads and writes, allocating and rewriting, queue depth 1 and 32.</summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class Qcow2Benchmarks
{
    private const long ImageSize = 1L << 30;
    private const int Ops = 4096;
    private string _dir = "";
    private string _full = "";
    private BlockDriver? _drv;
    private long[] _randomOffsets = [];

    [Params(1, 32)]
    public int QueueDepth { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("emu-bench-").FullName;
        _full = Path.Combine(_dir, "full.qcow2");
        Qcow2Creator.Create(_full, new Qcow2CreateOptions { Size = ImageSize });
        using (var d = ImageOpener.Open(_full))
        {
            var chunk = new byte[1 << 20];
            new Random(1).NextBytes(chunk);
            for (long o = 0; o < ImageSize; o += chunk.Length)
                d.Write(o, chunk);
        }
        var rnd = new Random(2);
        _randomOffsets = new long[Ops];
        for (int i = 0; i < Ops; i++)
            _randomOffsets[i] = rnd.NextInt64(0, ImageSize / 4096) * 4096;
        _drv = ImageOpener.Open(_full);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _drv?.Dispose();
        Directory.Delete(_dir, true);
    }

    private void Run(int size, Func<int, long> offset, bool write)
    {
        var d = _drv!;
        int next = -1;
        var workers = new Task[QueueDepth];
        for (int w = 0; w < workers.Length; w++)
            workers[w] = Task.Run(() =>
            {
                var buf = new byte[size];
                int i;
                while ((i = Interlocked.Increment(ref next)) < Ops)
                {
                    if (write)
                        d.Write(offset(i), buf);
                    else
                        d.Read(offset(i), buf);
                }
            });
        Task.WaitAll(workers);
    }

    [Benchmark]
    public void RandomRead4K() => Run(4096, i => _randomOffsets[i], false);

    [Benchmark]
    public void RandomRewrite4K() => Run(4096, i => _randomOffsets[i], true);

    [Benchmark]
    public void SequentialRead64K() => Run(65536, i => (long)i * 65536 % ImageSize, false);

    [Benchmark]
    public void SequentialRewrite64K() => Run(65536, i => (long)i * 65536 % ImageSize, true);

    [Benchmark]
    public void AllocatingWrite64K()
    {
        string path = Path.Combine(_dir, "empty.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = ImageSize });
        var saved = _drv;
        _drv = ImageOpener.Open(path);
        Run(65536, i => (long)i * 65536, true);
        _drv.Dispose();
        _drv = saved;
    }
}
