using Emu.Block.Qcow2;

namespace Emu.Block.Tests;

public class BlockDeviceTests
{
    [Fact]
    public void ManyRequestsInFlightCompleteOnTheLoopThread()
    {
        using var dir = new TempDir();
        string path = dir.File("d.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 16 << 20, ClusterSize = 4096 });
        var loop = new QueueEventLoop();
        using var dev = new BlockDevice(Data.Open(path), loop);
        int loopThread = Environment.CurrentManagedThreadId;
        int done = 0;
        var wrongThread = 0;
        for (int i = 0; i < 64; i++)
        {
            var data = Data.Pattern(8192, i);
            dev.Submit(BlockRequest.Write(i * 100_000L, data), (r, status) =>
            {
                Assert.Equal(BlockDevice.StatusOk, status);
                if (Environment.CurrentManagedThreadId != loopThread)
                    wrongThread++;
                done++;
            });
        }
        Assert.True(dev.InFlight > 0 || done == 0);
        Assert.True(dev.Drain(loop, TimeSpan.FromSeconds(30)));
        Assert.Equal(64, done);
        Assert.Equal(0, wrongThread);

        var reads = new byte[64][];
        for (int i = 0; i < 64; i++)
        {
            int n = i;
            reads[n] = new byte[8192];
            dev.Submit(BlockRequest.Read(n * 100_000L, reads[n]), (_, status) => Assert.Equal(0, status));
        }
        Assert.True(dev.Drain(loop, TimeSpan.FromSeconds(30)));
        for (int i = 0; i < 64; i++)
            Assert.Equal(Data.Pattern(8192, i), reads[i]);
    }

    [Fact]
    public void RequestsRunInSubmissionOrderAcrossTheIoThreadsSleeps()
    {
        using var dir = new TempDir();
        string path = dir.File("o.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 16 << 20, ClusterSize = 4096 });
        var loop = new QueueEventLoop();
        var dev = new BlockDevice(Data.Open(path), loop);
        var order = new List<int>();
        // Overlapping writes to one place: only in-order execution leaves the last one's bytes. Pauses longer
        // than the I/O thread's poll make it sleep and wake again between some of them.
        for (int i = 0; i < 12; i++)
        {
            int n = i;
            dev.Submit(BlockRequest.Write(4096, Data.Pattern(8192, n)), (_, status) =>
            {
                Assert.Equal(BlockDevice.StatusOk, status);
                order.Add(n);
            });
            if (i % 3 == 2) Thread.Sleep(5);
        }
        Assert.True(dev.Drain(loop, TimeSpan.FromSeconds(30)));
        Assert.Equal(Enumerable.Range(0, 12), order);
        var back = new byte[8192];
        dev.Submit(BlockRequest.Read(4096, back), (_, status) => Assert.Equal(BlockDevice.StatusOk, status));
        Assert.True(dev.Drain(loop, TimeSpan.FromSeconds(30)));
        Assert.Equal(Data.Pattern(8192, 11), back);
        // Disposing ends the I/O thread; the image is closed and opens again.
        dev.Dispose();
        using var again = new BlockDevice(Data.Open(path), loop);
        Assert.Equal(16 << 20, again.Size);
    }

    [Fact]
    public async Task ScatterListsMoveConsecutiveBytesThroughTheirSegmentsInOrder()
    {
        using var dir = new TempDir();
        string path = dir.File("v.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 16 << 20, ClusterSize = 4096 });
        var loop = new QueueEventLoop();
        using var dev = new BlockDevice(Data.Open(path), loop);
        int[] sizes = [512, 4096, 1536, 65536, 512, 3072];
        var data = Data.Pattern(sizes.Sum(), 7);
        var gather = new List<Memory<byte>>();
        int at = 0;
        foreach (int size in sizes)
        {
            gather.Add(data.AsMemory(at, size));
            at += size;
        }
        const long offset = 3 * 4096 + 1024;
        int status = -1;
        dev.Submit(BlockRequest.WriteV(offset, gather), (r, s) => status = s);
        Assert.True(dev.Drain(loop, TimeSpan.FromSeconds(30)));
        Assert.Equal(BlockDevice.StatusOk, status);

        var whole = new byte[data.Length];
        await dev.ReadAsync(offset, whole);
        Assert.Equal(data, whole);

        var scatter = sizes.Reverse().Select(n => new byte[n]).ToArray();
        status = -1;
        dev.Submit(BlockRequest.ReadV(offset, scatter.Select(b => (Memory<byte>)b).ToList()), (r, s) => status = s);
        Assert.True(dev.Drain(loop, TimeSpan.FromSeconds(30)));
        Assert.Equal(BlockDevice.StatusOk, status);
        Assert.Equal(data, scatter.SelectMany(b => b).ToArray());
    }

    [Fact]
    public void CompletionsWaitForTheOwnerToRunTheLoop()
    {
        using var dir = new TempDir();
        string path = dir.File("w.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 1 << 20 });
        var loop = new QueueEventLoop();
        using var dev = new BlockDevice(Data.Open(path), loop);
        bool completed = false;
        dev.Submit(BlockRequest.FlushAll(), (_, _) => completed = true);
        Thread.Sleep(200);
        Assert.False(completed);
        Assert.True(loop.RunUntil(() => completed, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void CancelledRequestsDeliverNoCompletion()
    {
        using var dir = new TempDir();
        string path = dir.File("c.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 1 << 20 });
        var loop = new QueueEventLoop();
        using var dev = new BlockDevice(Data.Open(path), loop);
        bool called = false;
        var handle = dev.Submit(BlockRequest.Read(0, new byte[512]), (_, _) => called = true);
        Assert.True(handle.Cancel());
        Assert.True(dev.Drain(loop, TimeSpan.FromSeconds(10)));
        Assert.False(called);
        Assert.True(handle.Cancelled);
    }

    [Fact]
    public void OutOfRangeRequestFailsWithAStatusNotAnException()
    {
        using var dir = new TempDir();
        string path = dir.File("r.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 1 << 20 });
        var loop = new QueueEventLoop();
        using var dev = new BlockDevice(Data.Open(path), loop);
        int status = 1;
        dev.Submit(BlockRequest.Read(1 << 20, new byte[512]), (_, s) => status = s);
        Assert.True(dev.Drain(loop, TimeSpan.FromSeconds(10)));
        Assert.Equal(BlockDevice.StatusIoError, status);
        Assert.Contains("out of range", dev.LastError!.Message);
    }

    [Fact]
    public async Task AwaitableApiWorks()
    {
        using var dir = new TempDir();
        string path = dir.File("a.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 1 << 20 });
        using var dev = new BlockDevice(Data.Open(path));
        await dev.WriteAsync(4096, Data.Pattern(4096, 1));
        await dev.WriteZeroesAsync(0, 65536);
        await dev.WriteAsync(70000, Data.Pattern(100, 2));
        await dev.DiscardAsync(131072, 65536);
        await dev.FlushAsync();
        var buf = new byte[100];
        await dev.ReadAsync(70000, buf);
        Assert.Equal(Data.Pattern(100, 2), buf);
        await dev.WriteVmStateAsync(0, Data.Pattern(1000, 3));
        var vm = new byte[1000];
        await dev.ReadVmStateAsync(0, vm);
        Assert.Equal(Data.Pattern(1000, 3), vm);
        Assert.True((dev.GetStatus(0, 65536).Flags & BlockStatusFlags.Zero) != 0);
    }

    [Fact]
    public void RawImagesWorkThroughTheSameApi()
    {
        using var dir = new TempDir();
        string path = dir.File("r.raw");
        Assert.Equal(0, Tools.Img("create", "-q", "-f", "raw", path, "1M").ExitCode);
        using (var d = Data.Open(path))
        {
            Assert.Equal("raw", d.Format);
            d.Write(512, Data.Pattern(1024, 4));
        }
        Assert.Equal(Data.Pattern(1024, 4), File.ReadAllBytes(path)[512..1536]);
    }
}
