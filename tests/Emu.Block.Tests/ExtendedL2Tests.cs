using System.Buffers.Binary;
using Emu.Block.Qcow2;

namespace Emu.Block.Tests;

/// <summary>Extended L2 entries (subclusters): interop with QEMU both ways, subcluster-sized allocation, hostile bitmaps.</summary>
public class ExtendedL2Tests
{
    // Writes at subcluster and sub-subcluster granularity over a backing file, zero writes, a compressed cluster.
    private static readonly string[] Workload =
    [
        "-c", "write -P 0x11 0 512",
        "-c", "write -P 0x22 5000 20000",
        "-c", "write -z 40000 3000",
        "-c", "write -z 2M 1M",
        "-c", "write -z -u 3M 64k",
        "-c", "write -P 0x33 4M 2M",
        "-c", "write -z 4200000 100000",
        "-c", "discard 5M 1M",
        "-c", "write -c -P 0x44 6M 2M",
        "-c", "write -P 0x55 7000000 700",
    ];

    private static void MakeBase(string path)
    {
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", path, "8M").ExitCode);
        Assert.Equal(0, Tools.QemuIo("-c", "write -P 0x99 0 8M", "-c", "write -z 1M 64k", path).ExitCode);
    }

    private static string Create(TempDir dir, bool byQemu, int clusterSize, string name)
    {
        string path = dir.File(name);
        string[] args = ["create", "-q", "-f", "qcow2", "-o", $"extended_l2=on,cluster_size={clusterSize}", "-b", "base.qcow2", "-F", "qcow2", path, "10M"];
        Assert.Equal(0, byQemu ? Tools.QemuImg(args).ExitCode : Tools.Img(args).ExitCode);
        return path;
    }

    private static byte[] RawContents(TempDir dir, string path)
    {
        string raw = dir.File(Path.GetFileName(path) + ".raw");
        var r = Tools.QemuImg("convert", "-O", "raw", path, raw);
        Assert.True(r.ExitCode == 0, r.Err);
        return File.ReadAllBytes(raw);
    }

    [Theory]
    [InlineData(16384)]
    [InlineData(65536)]
    [InlineData(2 << 20)]
    public void QemuWrittenImageReadsAndMapsTheSameInEmu(int clusterSize)
    {
        using var dir = new TempDir();
        MakeBase(dir.File("base.qcow2"));
        string path = Create(dir, byQemu: true, clusterSize, "q.qcow2");
        Assert.Equal(0, Tools.QemuIo([.. Workload, path]).ExitCode);

        var expected = RawContents(dir, path);
        using (var d = Data.Open(path, readOnly: true))
        {
            var ours = new byte[d.Size];
            d.Read(0, ours);
            Assert.True(expected.AsSpan().SequenceEqual(ours), "emu reads different data than qemu-img convert");
        }
        Assert.Equal(Tools.QemuImg("map", "--output=json", path).Out, Tools.Img("map", "--output=json", path).Out);
        Assert.Equal(Tools.QemuImg("map", path).Out, Tools.Img("map", path).Out);
        var check = Tools.Img("check", path);
        Assert.True(check.ExitCode == 0, check.Out + check.Err);
        Assert.Contains("extended l2: true", Tools.Img("info", path).Out);
    }

    [Theory]
    [InlineData(16384)]
    [InlineData(65536)]
    [InlineData(2 << 20)]
    public void EmuWrittenImageMatchesQemuWrittenTwin(int clusterSize)
    {
        using var dir = new TempDir();
        MakeBase(dir.File("base.qcow2"));
        string ours = Create(dir, byQemu: false, clusterSize, "e.qcow2");
        string twin = Create(dir, byQemu: true, clusterSize, "q.qcow2");
        var a = Tools.Io([.. Workload, ours]);
        Assert.True(a.ExitCode == 0, a.Err);
        var b = Tools.QemuIo([.. Workload, twin]);
        Assert.True(b.ExitCode == 0, b.Out + b.Err);

        Tools.AssertQemuCheckClean(ours);
        var cmp = Tools.QemuImg("compare", ours, twin);
        Assert.True(cmp.ExitCode == 0, cmp.Out + cmp.Err);
        var r = Tools.QemuIo("-c", "read -P 0x11 0 512", "-c", "read -P 0x99 512 4488", "-c", "read -P 0x22 5000 20000",
            "-c", "read -P 0 40000 3000", "-c", "read -P 0x44 6M 708544", "-c", "read -P 0x55 7000000 700", ours);
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("fail", r.Out + r.Err);
        // Both tools map both images alike (host offsets may differ between the two images: free clusters are reused differently).
        foreach (var image in new[] { ours, twin })
        {
            Assert.Equal(Tools.QemuImg("map", "--output=json", image).Out, Tools.Img("map", "--output=json", image).Out);
            Assert.Equal(Tools.QemuImg("map", image).Out, Tools.Img("map", image).Out);
        }
    }

    [Fact]
    public void PartialWriteAllocatesOnlyTouchedSubclusters()
    {
        using var dir = new TempDir();
        MakeBase(dir.File("base.qcow2"));
        string path = Create(dir, byQemu: false, 65536, "e.qcow2");
        long before = new FileInfo(path).Length;
        using (var d = Data.Open(path))
        {
            // 2 KiB subclusters: bytes 3000..3100 lie in subcluster 1 only.
            d.Write(3000, new byte[] { 1, 2, 3, 4, 5 }.Concat(new byte[95]).ToArray());
            var st = d.GetStatus(0, 65536);
            Assert.Equal(2048, st.Length);
            Assert.Equal(1, st.Depth);
            st = d.GetStatus(2048, 65536 - 2048);
            Assert.Equal(2048, st.Length);
            Assert.Equal(0, st.Depth);
            Assert.True((st.Flags & BlockStatusFlags.Data) != 0);
            st = d.GetStatus(4096, 65536 - 4096);
            Assert.Equal(1, st.Depth);
        }
        // No copy-on-write of the cluster: the new host cluster holds only subcluster 1 (the file ends with it).
        long length = new FileInfo(path).Length;
        Assert.True(length > before && length % 65536 == 4096, $"file length {length}");
        var r = Tools.QemuIo("-c", "read -P 0x99 0 3000", "-c", "read -P 1 3000 1", "-c", "read -P 0 3005 95", "-c", "read -P 0x99 3100 62436", path);
        Assert.DoesNotContain("fail", r.Out + r.Err);
        var map = Tools.QemuImg("map", "--output=json", path).Out;
        Assert.Contains("{ \"start\": 2048, \"length\": 2048, \"depth\": 0, \"present\": true, \"zero\": false, \"data\": true", map);
        Tools.AssertQemuCheckClean(path);
    }

    [Fact]
    public void SnapshotsKeepSubclusterState()
    {
        using var dir = new TempDir();
        string path = dir.File("s.qcow2");
        Assert.Equal(0, Tools.Img("create", "-q", "-f", "qcow2", "-o", "extended_l2=on", path, "4M").ExitCode);
        Assert.Equal(0, Tools.Io("-c", "write -P 1 1000 3000", "-c", "write -z 64k 10k", path).ExitCode);
        Assert.Equal(0, Tools.Img("snapshot", "-c", "one", path).ExitCode);
        Assert.Equal(0, Tools.Io("-c", "write -P 2 2000 10000", "-c", "write -P 3 70000 100", path).ExitCode);
        Tools.AssertQemuCheckClean(path);
        var r = Tools.QemuIo("-c", "read -P 1 1000 1000", "-c", "read -P 2 2000 10000", "-c", "read -P 0 64k 4464", "-c", "read -P 3 70000 100", path);
        Assert.DoesNotContain("fail", r.Out + r.Err);
        Assert.Equal(0, Tools.Img("snapshot", "-a", "one", path).ExitCode);
        Tools.AssertQemuCheckClean(path);
        r = Tools.QemuIo("-c", "read -P 0 0 1000", "-c", "read -P 1 1000 3000", "-c", "read -P 0 4000 200000", path);
        Assert.DoesNotContain("fail", r.Out + r.Err);
        Assert.Equal(0, Tools.QemuImg("snapshot", "-d", "one", path).ExitCode);
        Assert.Equal(0, Tools.Img("check", path).ExitCode);
    }

    [Fact]
    public void CreateRefusesWhatQemuRefuses()
    {
        using var dir = new TempDir();
        var small = Tools.Img("create", "-q", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=8k", dir.File("a.qcow2"), "1M");
        Assert.Equal(1, small.ExitCode);
        Assert.Contains("Extended L2 entries are only supported with cluster sizes of at least 16384 bytes", small.Err);
        var v2 = Tools.Img("create", "-q", "-f", "qcow2", "-o", "extended_l2=on,compat=0.10", dir.File("b.qcow2"), "1M");
        Assert.Equal(1, v2.ExitCode);
        Assert.Contains("compatibility level 1.1", v2.Err);
        string ours = dir.File("c.qcow2"), twin = dir.File("d.qcow2");
        Assert.Equal(0, Tools.Img("create", "-q", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=32k", ours, "1G").ExitCode);
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=32k", twin, "1G").ExitCode);
        Assert.Equal(File.ReadAllBytes(twin), File.ReadAllBytes(ours));
    }

    // ---------- hostile bitmaps ----------

    /// <summary>A 64 KiB-cluster extended image with cluster 0 partly written, cluster 2 compressed; returns the L2 table offset.</summary>
    private static (string Path, long L2) Hostile(TempDir dir)
    {
        string path = dir.File("h.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", "extended_l2=on", path, "1M").ExitCode);
        Assert.Equal(0, Tools.QemuIo("-c", "write -P 1 0 4k", "-c", "write -c -P 2 128k 64k", path).ExitCode);
        using var f = File.OpenRead(path);
        var b = new byte[8];
        f.Position = 40;
        f.ReadExactly(b);
        f.Position = (long)BinaryPrimitives.ReadUInt64BigEndian(b);
        f.ReadExactly(b);
        return (path, (long)(BinaryPrimitives.ReadUInt64BigEndian(b) & 0x00ff_ffff_ffff_fe00UL));
    }

    private static void PatchBitmap(string path, long l2, int index, ulong bitmap)
    {
        using var f = File.Open(path, FileMode.Open);
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, bitmap);
        f.Position = l2 + index * 16 + 8;
        f.Write(b);
    }

    [Theory]
    [InlineData(0, 0x1_0000_0003UL, "Allocated cluster has corrupted subcluster allocation bitmap")]
    [InlineData(1, 0x4UL, "Unallocated cluster has non-zero subcluster allocation map")]
    public void ContradictoryBitmapIsCorrupt(int index, ulong bitmap, string checkMessage)
    {
        using var dir = new TempDir();
        var (path, l2) = Hostile(dir);
        PatchBitmap(path, l2, index, bitmap);

        var ours = Tools.Img("check", path);
        var theirs = Tools.QemuImg("check", path);
        Assert.Equal(2, theirs.ExitCode);
        Assert.Equal(2, ours.ExitCode);
        Assert.Contains(checkMessage, theirs.Err);
        Assert.Contains(checkMessage, ours.Out + ours.Err);

        var read = Tools.Io("-c", $"read {index * 65536} 64k", path);
        Assert.Contains("Invalid cluster entry found", read.Out + read.Err);
        // The failed read marked the image corrupt, as QEMU does: it opens read-only only from now on.
        Assert.Contains("corrupt: true", Tools.QemuImg("info", path).Out);
        var write = Tools.Io("-c", "write 0 512", path);
        Assert.NotEqual(0, write.ExitCode);
    }

    [Fact]
    public void CompressedClusterWithBitmapIsReportedByCheck()
    {
        using var dir = new TempDir();
        var (path, l2) = Hostile(dir);
        PatchBitmap(path, l2, 2, 0xffUL);
        var theirs = Tools.QemuImg("check", path);
        var ours = Tools.Img("check", path);
        Assert.Equal(theirs.ExitCode, ours.ExitCode);
        Assert.Contains("compressed cluster 2 with non-zero subcluster allocation bitmap", theirs.Err);
        Assert.Contains("compressed cluster 2 with non-zero subcluster allocation bitmap", ours.Out + ours.Err);
        // Like QEMU, the data itself still reads (compressed clusters have no subclusters).
        var r = Tools.Io("-c", "read -P 2 128k 64k", path);
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("fail", r.Out);
    }

    [Fact]
    public void TooSmallSubclustersAreRefused()
    {
        using var dir = new TempDir();
        string path = dir.File("x.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", path, "1M").ExitCode);
        using (var f = File.Open(path, FileMode.Open))
        {
            f.Position = 79;
            f.WriteByte(0x10);
        }
        var r = Tools.Img("info", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("Unsupported subcluster size: 128", r.Err);
        Assert.Contains("Unsupported subcluster size: 128", Tools.QemuImg("info", path).Err);
    }
}
