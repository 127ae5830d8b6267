using System.Buffers.Binary;
using Emu.Block.Qcow2;

namespace Emu.Block.Tests;

/// <summary>Runtime open options as QEMU spells them, and overlap checks before every write.</summary>
public class RuntimeOptionTests
{
    private static ulong ReadBE64(string path, long offset)
    {
        using var f = HostFile.Open(path, true);
        var b = new byte[8];
        f.Read(offset, b);
        return BinaryPrimitives.ReadUInt64BigEndian(b);
    }

    private static void WriteBE64(string path, long offset, ulong value)
    {
        using var f = HostFile.Open(path, false);
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, value);
        f.Write(offset, b);
    }

    private static Qcow2Header ParseHeader(string path)
    {
        using var f = HostFile.Open(path, true);
        return Qcow2Header.Parse(f);
    }

    /// <summary>An image with guest cluster 0 allocated; returns the host offset of its L2 table.</summary>
    private static long MakeImage(string path)
    {
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", path, "1G").ExitCode);
        Assert.Equal(0, Tools.QemuIo("-c", "write -P 0x11 0 64k", path).ExitCode);
        var h = ParseHeader(path);
        return (long)(ReadBE64(path, h.L1TableOffset) & Qcow2Driver.OffsetMask);
    }

    [Theory]
    [InlineData("refcount table")]
    [InlineData("refcount block")]
    [InlineData("active L1 table")]
    [InlineData("active L2 table")]
    public void DataWriteOntoMetadataMarksTheImageCorruptAndLeavesTheMetadataAlone(string section)
    {
        using var dir = new TempDir();
        string path = dir.File("c.qcow2");
        long l2 = MakeImage(path);
        var h = ParseHeader(path);
        long target = section switch
        {
            "refcount table" => h.RefcountTableOffset,
            "refcount block" => (long)(ReadBE64(path, h.RefcountTableOffset) & Qcow2Driver.OffsetMask),
            "active L1 table" => h.L1TableOffset,
            _ => l2,
        };
        // Guest cluster 1 claims to live where the metadata is.
        WriteBE64(path, l2 + 8, (ulong)target | Qcow2Driver.Copied);
        var before = File.ReadAllBytes(path).AsSpan((int)target, 65536).ToArray();
        var r = Tools.Io("-c", "write -P 0x77 64k 64k", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"Preventing invalid write on metadata (overlaps with {section}", r.Out);
        Assert.True(before.AsSpan().SequenceEqual(File.ReadAllBytes(path).AsSpan((int)target, 65536)), "metadata was overwritten");
        Assert.NotEqual(0UL, ParseHeader(path).IncompatibleFeatures & Qcow2Header.IncompatCorrupt);
        Assert.Contains("corrupt: true", Tools.QemuImg("info", path).Out);
    }

    [Fact]
    public void OverlapCheckNoneLetsTheWriteThroughAndBadValuesAreRefused()
    {
        using var dir = new TempDir();
        string path = dir.File("n.qcow2");
        long l2 = MakeImage(path);
        WriteBE64(path, l2 + 8, (ulong)l2 | Qcow2Driver.Copied);
        var bad = Assert.Throws<Emu.Cli.UsageException>(() => Tools.Io("-o", "overlap-check=sometimes", "-c", "read 0 1", path));
        Assert.Contains("overlap-check", bad.Message);
        var r = Tools.Io("-o", "overlap-check=none", "-c", "write -P 0x77 64k 64k", path);
        Assert.Equal(0, r.ExitCode);
        // Without the check the guest data destroyed the L2 table: exactly what the default prevents.
        Assert.Equal(0x7777777777777777UL, ReadBE64(path, l2));
    }

    [Fact]
    public void EveryMetadataSectionIsFoundAndTemplatesDecideWhichAreChecked()
    {
        using var dir = new TempDir();
        string path = dir.File("s.qcow2");
        long l2 = MakeImage(path);
        Assert.Equal(0, Tools.QemuImg("snapshot", "-c", "s1", path).ExitCode);
        // Rewriting cluster 0 copies the shared L2 table: the old one is then only the snapshot's.
        Assert.Equal(0, Tools.QemuIo("-c", "write -P 0x22 0 64k", path).ExitCode);
        using var d = (Qcow2Driver)ImageOpener.Open(path, new ImageOptions { OverlapCheck = Qcow2Overlap.All });
        var h = d.Header;
        var snap = d.Snapshots[0];
        long refBlock = (long)(d.RefcountTable[0] & Qcow2Driver.OffsetMask);
        long activeL2 = (long)(d.L1Table[0] & Qcow2Driver.OffsetMask);
        Assert.NotEqual(l2, activeL2);
        Assert.Equal(Qcow2Overlap.MainHeader, d.FindOverlap(100, 8, Qcow2Overlap.None));
        Assert.Equal(Qcow2Overlap.ActiveL1, d.FindOverlap(h.L1TableOffset, 8, Qcow2Overlap.None));
        Assert.Equal(Qcow2Overlap.None, d.FindOverlap(h.L1TableOffset, 8, Qcow2Overlap.ActiveL1));
        Assert.Equal(Qcow2Overlap.RefcountTable, d.FindOverlap(h.RefcountTableOffset + 8, 8, Qcow2Overlap.None));
        Assert.Equal(Qcow2Overlap.RefcountBlock, d.FindOverlap(refBlock, 512, Qcow2Overlap.None));
        Assert.Equal(Qcow2Overlap.SnapshotTable, d.FindOverlap(h.SnapshotsOffset, 8, Qcow2Overlap.None));
        Assert.Equal(Qcow2Overlap.InactiveL1, d.FindOverlap(snap.L1TableOffset, 8, Qcow2Overlap.None));
        Assert.Equal(Qcow2Overlap.ActiveL2, d.FindOverlap(activeL2 + 4096, 8, Qcow2Overlap.None));
        Assert.Equal(Qcow2Overlap.InactiveL2, d.FindOverlap(l2, 65536, Qcow2Overlap.None));
        d.Dispose();
        using var cached = (Qcow2Driver)ImageOpener.Open(path, new ImageOptions { ReadOnly = true });
        Assert.Equal(Qcow2Overlap.None, cached.FindOverlap(l2, 65536, Qcow2Overlap.None));
        Assert.Equal(Qcow2Overlap.ActiveL2, cached.FindOverlap(activeL2, 8, Qcow2Overlap.None));
        using var constant = (Qcow2Driver)ImageOpener.Open(path, new ImageOptions { ReadOnly = true, OverlapCheck = Qcow2Overlap.Constant });
        Assert.Equal(Qcow2Overlap.None, constant.FindOverlap(activeL2, 8, Qcow2Overlap.None));
        Assert.Equal(Qcow2Overlap.ActiveL1, constant.FindOverlap(h.L1TableOffset, 8, Qcow2Overlap.None));
    }

    [Fact]
    public void L2CacheSizeBoundsTheCacheAndCleanIntervalEmptiesIt()
    {
        using var dir = new TempDir();
        string path = dir.File("big.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", path, "20G").ExitCode);
        var options = ImageOpenOptions.Apply(new ImageOptions(), new Dictionary<string, string>
        {
            ["l2-cache-size"] = "1M",
            ["refcount-cache-size"] = "256k",
            ["cache-clean-interval"] = "1",
        });
        Assert.Equal(1L << 20, options.L2CacheBytes);
        Assert.Equal(256L << 10, options.RefcountCacheBytes);
        using (var d = (Qcow2Driver)ImageOpener.Open(path, options with { CacheCleanInterval = 0 }))
        {
            for (int i = 0; i < 40; i++)
                d.Write((long)i << 29, Data.Pattern(512, i));
            Assert.True(d.CachedL2Tables <= 16, $"{d.CachedL2Tables} L2 tables cached with a 1 MiB cache");
        }
        Tools.AssertQemuCheckClean(path);
        using (var d = (Qcow2Driver)ImageOpener.Open(path, new ImageOptions()))
        {
            var b = new byte[512];
            for (int i = 0; i < 40; i++)
            {
                d.Read((long)i << 29, b);
                Assert.Equal(Data.Pattern(512, i), b);
            }
            Assert.Equal(40, d.CachedL2Tables);
            // Two cleaning runs: the first marks, the second drops what was not used in between.
            d.CleanCaches();
            d.Read(0, b);
            d.CleanCaches();
            Assert.Equal(1, d.CachedL2Tables);
        }
        using (var d = (Qcow2Driver)ImageOpener.Open(path, options with { ReadOnly = true }))
        {
            d.Read(0, new byte[512]);
            Assert.Equal(1, d.CachedL2Tables);
            var until = DateTime.UtcNow.AddSeconds(10);
            while (d.CachedL2Tables > 0 && DateTime.UtcNow < until)
                Thread.Sleep(100);
            Assert.Equal(0, d.CachedL2Tables);
        }
    }

    [Fact]
    public void LazyRefcountsOptionSetsTheDirtyBitWhileOpenAndNeedsCompat11()
    {
        using var dir = new TempDir();
        string path = dir.File("l.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", path, "64M").ExitCode);
        using (var d = ImageOpener.Open(path, new ImageOptions { LazyRefcounts = true }))
        {
            d.Write(0, Data.Pattern(65536, 1));
            Assert.NotEqual(0UL, ParseHeader(path).IncompatibleFeatures & Qcow2Header.IncompatDirty);
        }
        Assert.Equal(0UL, ParseHeader(path).IncompatibleFeatures & Qcow2Header.IncompatDirty);
        Tools.AssertQemuCheckClean(path);
        using (var d = ImageOpener.Open(path, new ImageOptions()))
            d.Write(0, Data.Pattern(65536, 2));
        Assert.Equal(0UL, ParseHeader(path).IncompatibleFeatures & Qcow2Header.IncompatDirty);

        string v2 = dir.File("v2.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", "compat=0.10", v2, "64M").ExitCode);
        var r = Tools.Io("-o", "lazy-refcounts=on", "-c", "read 0 1", v2);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("Lazy refcounts require", r.Err);
    }
}
