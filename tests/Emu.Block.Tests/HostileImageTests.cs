using System.Buffers.Binary;

namespace Emu.Block.Tests;

/// <summary>Corrupt and hostile images give a clear error (exit 1), never a crash, hang or huge allocation.</summary>
public class HostileImageTests
{
    private static string Fresh(TempDir dir, string name = "h.qcow2", string options = "cluster_size=65536")
    {
        string path = dir.File(name);
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", options, path, "16M").ExitCode);
        Assert.Equal(0, Tools.QemuIo("-c", "write -P 1 0 128k", path).ExitCode);
        return path;
    }

    private static void Patch(string path, long offset, ulong value, int width)
    {
        using var f = File.Open(path, FileMode.Open);
        var b = new byte[width];
        switch (width)
        {
            case 8: BinaryPrimitives.WriteUInt64BigEndian(b, value); break;
            case 4: BinaryPrimitives.WriteUInt32BigEndian(b, (uint)value); break;
            case 2: BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)value); break;
            default: b[0] = (byte)value; break;
        }
        f.Position = offset;
        f.Write(b);
    }

    private static void AssertFails(string path, string expected)
    {
        var info = Tools.Img("info", "-f", "qcow2", path);
        var io = Tools.Io("-f", "qcow2", "-c", "read 0 128k", path);
        string all = info.Err + io.Err + io.Out;
        Assert.True(info.ExitCode == 1 || io.ExitCode == 1, all);
        Assert.Contains(expected, all);
    }

    [Theory]
    [InlineData(0, 0x12345678u, 4, "not in qcow2 format")]
    [InlineData(4, 4u, 4, "Unsupported qcow2 version 4")]
    [InlineData(20, 30u, 4, "Unsupported cluster size")]
    [InlineData(20, 8u, 4, "Unsupported cluster size")]
    [InlineData(36, 0x10000000u, 4, "Active L1 table too large")]
    [InlineData(56, 0x10000u, 4, "Reference count table too large")]
    [InlineData(60, 0x7fffffffu, 4, "Too many snapshots")]
    [InlineData(96, 7u, 4, "Reference count entry width too large")]
    [InlineData(100, 0x20000u, 4, "header exceeds cluster size")]
    [InlineData(36, 0u, 4, "L1 table is too small")]
    public void HeaderFieldOutOfRange(long offset, uint value, int width, string expected)
    {
        using var dir = new TempDir();
        string path = Fresh(dir);
        Patch(path, offset, value, width);
        AssertFails(path, expected);
    }

    [Theory]
    [InlineData(40, 0x30200UL, "Invalid L1 table offset")]
    [InlineData(40, 0x7000000000UL, "L1 table lies beyond the end")]
    [InlineData(48, 0UL, "Invalid reference count table offset")]
    [InlineData(48, 0x7000000000UL, "Reference count table lies beyond the end")]
    [InlineData(48, 0x30000UL, "L1 table overlaps the reference count table")]
    [InlineData(64, 0x123UL, "Invalid snapshot table offset")]
    public void TableOffsetsOutOfRange(long offset, ulong value, string expected)
    {
        using var dir = new TempDir();
        string path = Fresh(dir);
        Patch(path, offset, value, 8);
        AssertFails(path, expected);
    }

    [Fact]
    public void L1AtOffsetZeroOverlapsHeader()
    {
        using var dir = new TempDir();
        string path = Fresh(dir);
        Patch(path, 40, 0, 8);
        AssertFails(path, "Invalid L1 table offset");
    }

    [Fact]
    public void SnapshotCountBeyondFile()
    {
        using var dir = new TempDir();
        string path = Fresh(dir);
        Patch(path, 60, 1000, 4);
        Patch(path, 64, 0x1000000, 8);
        AssertFails(path, "Snapshot");
    }

    [Fact]
    public void UnknownIncompatibleFeatureIsNamed()
    {
        using var dir = new TempDir();
        string path = Fresh(dir);
        Patch(path, 72, 1UL << 40, 8);
        AssertFails(path, "Unsupported qcow2 feature(s)");
    }

    [Fact]
    public void BackingNameOfGigabytes()
    {
        using var dir = new TempDir();
        string path = Fresh(dir);
        Patch(path, 8, 0x200, 8);
        Patch(path, 16, 0x40000000, 4);
        AssertFails(path, "Backing file name too long");
    }

    [Fact]
    public void BackingChainThatLoops()
    {
        using var dir = new TempDir();
        string a = dir.File("a.qcow2"), b = dir.File("b.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", a, "1M");
        Tools.QemuImg("create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", b);
        Assert.Equal(0, Tools.QemuImg("rebase", "-u", "-b", "b.qcow2", "-F", "qcow2", a).ExitCode);
        var r = Tools.Io("-c", "read 0 512", b);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("loops", r.Err);
    }

    [Fact]
    public void L2TableOffsetUnalignedMarksCorruptAndFailsCleanly()
    {
        using var dir = new TempDir();
        string path = Fresh(dir);
        Patch(path, 0x30000, 0x8000000000050200UL, 8);
        var r = Tools.Io("-c", "read 0 4096", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("unaligned", r.Out);
        // The corrupt bit is now set: read-write opens are refused with a clear message.
        var again = Tools.Io("-c", "write 0 4096", path);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("corrupt", again.Err);
        Assert.Contains("corrupt: true", Tools.QemuImg("info", path).Out);
    }

    [Fact]
    public void DataClusterPointingIntoMetadata()
    {
        using var dir = new TempDir();
        string path = Fresh(dir);
        // The first L2 table sits at 0x40000 in a fresh 64k-cluster image; point entry 0 at the refcount table.
        var l1 = Tools.QemuImg("map", "--output=json", path);
        Assert.Contains("\"offset\"", l1.Out);
        Patch(path, 0x40000, 0x8000000000010000UL, 8);
        var r = Tools.Io("-c", "write -P 2 0 4096", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("metadata", r.Out);
        // The refcount table survived.
        Assert.NotEqual(2, File.ReadAllBytes(path)[0x10000]);
    }

    [Fact]
    public void GarbageCompressedClusterGivesAnError()
    {
        using var dir = new TempDir();
        string path = dir.File("c.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", path, "1M");
        Tools.QemuIo("-c", "write -c -P 3 0 64k", path);
        var map = Tools.QemuImg("check", path);
        Assert.Equal(0, map.ExitCode);
        // The compressed data follows the L2 table at 0x40000: overwrite it with junk.
        using (var f = File.Open(path, FileMode.Open))
        {
            f.Position = 0x50000;
            f.Write(Enumerable.Repeat((byte)0xff, 64).ToArray());
        }
        var r = Tools.Io("-c", "read 0 4096", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("decompress", r.Out);
    }

    [Fact]
    public void RefcountOverflowWithOneBitRefcounts()
    {
        using var dir = new TempDir();
        string path = Fresh(dir, options: "refcount_bits=1");
        var r = Tools.Img("snapshot", "-c", "s", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("overflow", r.Err);
    }

    /// <summary>A zstd image whose first cluster's descriptor points at the given frame (stored at 0x50000).</summary>
    private static string ZstdImageWithFrame(TempDir dir, byte[] frame)
    {
        string path = dir.File("z.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", "compression_type=zstd", path, "1M").ExitCode);
        Assert.Equal(0, Tools.QemuIo("-c", "write -c -P 3 0 64k", path).ExitCode);
        using (var f = File.Open(path, FileMode.Open))
        {
            f.Position = 0x50000;
            f.Write(frame);
            f.Write(new byte[511]);
        }
        ulong extraSectors = (ulong)((frame.Length - 1) / 512);
        Patch(path, 0x40000, (1UL << 62) | (extraSectors << 54) | 0x50000UL, 8);
        return path;
    }

    [Fact]
    public void ZstdFrameClaimingAHugeWindowIsRefused()
    {
        using var dir = new TempDir();
        using var c = new ZstdSharp.Compressor(3);
        c.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_windowLog, 27);
        var bomb = c.Wrap(new byte[64 << 20]).ToArray();
        Assert.True(bomb.Length < 64 * 1024);
        string path = ZstdImageWithFrame(dir, bomb);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var r = Tools.Io("-c", "read 0 4096", path);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "a zstd bomb must not be inflated");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("decompress", r.Out);
    }

    [Fact]
    public void ZstdFrameLongerThanAClusterStopsAtTheCluster()
    {
        using var dir = new TempDir();
        using var c = new ZstdSharp.Compressor(3);
        c.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_windowLog, 10);
        var data = new byte[32 << 20];
        data.AsSpan().Fill(9);
        var bomb = c.Wrap(data).ToArray();
        string path = ZstdImageWithFrame(dir, bomb);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var r = Tools.Io("-c", "read -P 9 0 64k", path);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "only one cluster may be inflated");
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("failed", r.Out);
    }

    [Fact]
    public void ZstdGarbageAndTruncatedFramesGiveAnError()
    {
        using var dir = new TempDir();
        using var c = new ZstdSharp.Compressor(3);
        var frame = c.Wrap(Data.Pattern(65536, 4).AsSpan(0, 30000)).ToArray();
        foreach (var bad in new[] { Enumerable.Repeat((byte)0xff, 600).ToArray(), frame[..(frame.Length / 2)] })
        {
            string path = ZstdImageWithFrame(dir, bad);
            var r = Tools.Io("-c", "read 0 4096", path);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("decompress", r.Out);
            File.Delete(path);
        }
    }
}
