namespace Emu.Block.Tests;

/// <summary><c>emu img convert</c> against <c>qemu-img convert</c> on sources mixing data, zero clusters and long
/// unallocated runs: the same guest-visible bytes and the same allocation map.</summary>
public class ConvertTests
{
    // 3 GiB source: data at the start, a zero-flag range, data after a 1.5 GiB hole, a tail shorter than a cluster.
    private static string MixedSource(TempDir dir)
    {
        string src = dir.File("src.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", src, "3221225984");
        Tools.QemuIo("-c", "write -P 1 0 3M", "-c", "write -z 8M 4M", "-c", "write -P 2 1600M 1M",
            "-c", "write -P 3 2049M 64k", "-c", "write -P 4 3221225472 512", src);
        return src;
    }

    [Theory]
    [InlineData("qcow2")]
    [InlineData("raw")]
    public void SameBytesAndMapAsQemuImg(string format)
    {
        using var dir = new TempDir();
        string src = MixedSource(dir);
        string theirs = dir.File("theirs." + format), ours = dir.File("ours." + format);
        Assert.Equal(0, Tools.QemuImg("convert", "-O", format, src, theirs).ExitCode);
        Assert.Equal(0, Tools.Img("convert", "-O", format, src, ours).ExitCode);
        var cmp = Tools.QemuImg("compare", "-f", format, "-F", format, theirs, ours);
        Assert.True(cmp.ExitCode == 0, cmp.Out + cmp.Err);
        Assert.Equal(0, Tools.QemuImg("compare", "-F", format, src, ours).ExitCode);
        if (format == "qcow2")
        {
            Tools.AssertQemuCheckClean(ours);
            Assert.Equal(Tools.QemuImg("map", "--output=json", theirs).Out, Tools.QemuImg("map", "--output=json", ours).Out);
        }
    }

    [Fact]
    public void IntoAnExistingImageZeroesWhatTheSourceDoesNotHave()
    {
        using var dir = new TempDir();
        string src = MixedSource(dir);
        string dst = dir.File("dst.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", dst, "3221225984");
        // Old contents everywhere the source reads as zeroes, including inside the long hole.
        Tools.QemuIo("-c", "write -P 9 3M 6M", "-c", "write -P 9 1000M 2M", "-c", "write -P 9 3000M 1M", dst);
        Assert.Equal(0, Tools.Img("convert", "-n", "-O", "qcow2", src, dst).ExitCode);
        var cmp = Tools.QemuImg("compare", src, dst);
        Assert.True(cmp.ExitCode == 0, cmp.Out + cmp.Err);
        Tools.AssertQemuCheckClean(dst);
    }

    /// <summary>A 1 MiB compressed image (qemu-img convert -c) whose second cluster's compressed bytes are garbage.</summary>
    private static string DamagedCompressedImage(TempDir dir)
    {
        string raw = dir.File("src.raw"), img = dir.File("damaged.qcow2");
        Tools.QemuImg("create", "-q", "-f", "raw", raw, "1M");
        Tools.QemuIo("-f", "raw", "-c", "write -P 0x11 0 1M", raw);
        Assert.Equal(0, Tools.QemuImg("convert", "-c", "-O", "qcow2", raw, img).ExitCode);
        using var f = new FileStream(img, FileMode.Open, FileAccess.ReadWrite);
        var be = new byte[8];
        long ReadU64(long at)
        {
            f.Position = at;
            f.ReadExactly(be);
            return (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(be);
        }
        int clusterBits = (int)(ReadU64(16) & 0xFFFFFFFF);
        long l2 = ReadU64(ReadU64(40)) & 0x00FF_FFFF_FFFF_FE00;
        long entry = ReadU64(l2 + 8);
        Assert.True((entry >> 62 & 1) == 1, "cluster 1 is compressed");
        long hostOffset = entry & ((1L << (62 - (clusterBits - 8))) - 1);
        f.Position = hostOffset;
        f.Write(Enumerable.Repeat((byte)0xFF, 64).ToArray());
        return img;
    }

    [Fact]
    public void SalvageZeroesUnreadableSectorsAsQemuImgDoes()
    {
        using var dir = new TempDir();
        string img = DamagedCompressedImage(dir);
        string theirs = dir.File("theirs.qcow2"), ours = dir.File("ours.qcow2");

        Assert.Equal(1, Tools.Img("convert", "-O", "qcow2", img, ours).ExitCode);
        var q = Tools.QemuImg("convert", "--salvage", "-O", "qcow2", img, theirs);
        var e = Tools.Img("convert", "--salvage", "-O", "qcow2", img, ours);
        Assert.Equal(0, q.ExitCode);
        Assert.Equal(0, e.ExitCode);
        // 128 warnings, one per 512-byte sector of the damaged 64 KiB cluster, then the rest of the data copied.
        Assert.Equal(128, q.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(q.Err.Replace("qemu-img: ", "emu img: "), e.Err);
        var cmp = Tools.QemuImg("compare", theirs, ours);
        Assert.True(cmp.ExitCode == 0, cmp.Out + cmp.Err);
        Assert.Equal(0, Tools.QemuIo("-c", "read -P 0x11 0 64k", "-c", "read -P 0 64k 64k", "-c", "read -P 0x11 128k 896k", ours).ExitCode);
        Tools.AssertQemuCheckClean(ours);
    }

    [Fact]
    public void TargetIsZeroSkipsZeroesAndNeedsAnExistingTarget()
    {
        using var dir = new TempDir();
        string zeros = dir.File("zeros.raw"), theirs = dir.File("theirs.qcow2"), ours = dir.File("ours.qcow2");
        Tools.QemuImg("create", "-q", "-f", "raw", zeros, "1M");
        Tools.QemuIo("-f", "raw", "-c", "write -P 5 512k 4k", zeros);
        foreach (var t in new[] { theirs, ours })
        {
            Tools.QemuImg("create", "-q", "-f", "qcow2", t, "1M");
            Tools.QemuIo("-c", "write -P 7 0 1M", t);
        }
        var refused = Tools.Img("convert", "--target-is-zero", "-O", "qcow2", zeros, dir.File("new.qcow2"));
        Assert.Equal(1, refused.ExitCode);
        Assert.Equal("emu img: --target-is-zero requires use of -n flag\n", refused.Err);
        Assert.False(File.Exists(dir.File("new.qcow2")));

        Assert.Equal(0, Tools.QemuImg("convert", "-n", "--target-is-zero", "-O", "qcow2", zeros, theirs).ExitCode);
        Assert.Equal(0, Tools.Img("convert", "-n", "--target-is-zero", "-O", "qcow2", zeros, ours).ExitCode);
        // The user vouched for zeroes: only the data is written, the old bytes stay where the source is zero.
        Assert.Equal(0, Tools.QemuImg("compare", theirs, ours).ExitCode);
        Assert.Equal(0, Tools.QemuIo("-c", "read -P 7 0 512k", "-c", "read -P 5 512k 4k", ours).ExitCode);
    }

    /// <summary>A sparse raw file: data at 512k, zero bytes stored at 640k (data, not a hole), data at 900k.</summary>
    private static string SparseRaw(TempDir dir)
    {
        string raw = dir.File("sparse.raw");
        Tools.QemuImg("create", "-q", "-f", "raw", raw, "2M");
        Tools.QemuIo("-f", "raw", "-c", "write -P 5 512k 4k", "-c", "write -P 0 640k 128k", "-c", "write -P 6 900k 8k", raw);
        return raw;
    }

    [Fact]
    public void RawHolesMapAsQemuImgMapsThem()
    {
        using var dir = new TempDir();
        string raw = SparseRaw(dir);
        var ours = Tools.Img("map", "--output=json", "-f", "raw", raw);
        Assert.Equal(0, ours.ExitCode);
        Assert.Equal(Tools.QemuImg("map", "--output=json", "-f", "raw", raw).Out, ours.Out);
    }

    [Theory]
    [InlineData("raw", null)]
    [InlineData("raw", "0")]
    [InlineData("raw", "64k")]
    [InlineData("raw", "1k")]
    [InlineData("qcow2", "0")]
    public void SparseOutputAsQemuImgLeavesIt(string format, string? sparse)
    {
        using var dir = new TempDir();
        string raw = SparseRaw(dir);
        string theirs = dir.File("theirs." + format), ours = dir.File("ours." + format);
        string[] opts = sparse == null ? ["-O", format] : ["-S", sparse, "-O", format];
        Assert.Equal(0, Tools.QemuImg(["convert", .. opts, raw, theirs]).ExitCode);
        Assert.Equal(0, Tools.Img(["convert", .. opts, raw, ours]).ExitCode);
        Assert.Equal(0, Tools.QemuImg("compare", "-f", "raw", "-F", format, raw, ours).ExitCode);
        Assert.Equal(Tools.QemuImg("map", "--output=json", "-f", format, theirs).Out,
            Tools.QemuImg("map", "--output=json", "-f", format, ours).Out);
    }

    [Theory]
    [InlineData("100", "Valid sizes are multiples of 512 up to 16777216")]
    [InlineData("32M", "Valid sizes are multiples of 512 up to 16777216")]
    [InlineData("abc", "You may use k, M, G, T, P or E suffixes")]
    public void BadSparseSizesAreRefused(string sparse, string message)
    {
        using var dir = new TempDir();
        var r = Tools.Img("convert", "-S", sparse, "-O", "raw", SparseRaw(dir), dir.File("out.raw"));
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("emu img: Invalid buffer size for sparse output specified.", r.Err);
        Assert.Contains(message, r.Err);
        Assert.Contains(message, Tools.QemuImg("convert", "-S", sparse, "-O", "raw", SparseRaw(dir), dir.File("q.raw")).Err);
    }
}
