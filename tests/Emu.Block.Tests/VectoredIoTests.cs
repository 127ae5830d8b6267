using Emu.Block.Qcow2;

namespace Emu.Block.Tests;

/// <summary>Scatter/gather requests (DMA tables) move the same bytes as plain reads and writes, whatever the
/// clusters under them are: allocated, unallocated, from the backing file, compressed, zeroed.</summary>
public class VectoredIoTests
{
    // Odd piece sizes so the pieces straddle 4 KiB clusters in every way.
    private static readonly int[] Sizes = [512, 4096, 1536, 65536, 512, 3072, 8192, 1000, 24, 12288, 4096, 700];

    private static List<Memory<byte>> Pieces(byte[] data)
    {
        var pieces = new List<Memory<byte>>();
        int at = 0;
        for (int i = 0; at < data.Length; i++)
        {
            int n = Math.Min(Sizes[i % Sizes.Length], data.Length - at);
            pieces.Add(data.AsMemory(at, n));
            at += n;
        }
        return pieces;
    }

    /// <summary>A 1 MiB overlay of 4 KiB clusters over a backing file, with every kind of cluster in its first 256 KiB.</summary>
    private static string MixedImage(TempDir dir, string name)
    {
        string basePath = dir.File(name + "-base.qcow2");
        Qcow2Creator.Create(basePath, new Qcow2CreateOptions { Size = 1 << 20, ClusterSize = 4096 });
        using (var b = Data.Open(basePath))
            b.Write(0, Data.Pattern(256 << 10, 1));
        string path = dir.File(name + ".qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions
        {
            Size = 1 << 20,
            ClusterSize = 4096,
            BackingFile = basePath,
            BackingFormat = "qcow2",
        });
        using var d = Data.Open(path);
        d.Write(8192, Data.Pattern(40960, 2));             // allocated, contiguous
        d.Write(100_000, Data.Pattern(30_000, 3));         // allocated, partial clusters (copy-on-write)
        d.WriteCompressed(65536, Data.Pattern(4096, 4));   // compressed
        d.WriteZeroes(131072, 16384);                      // zero clusters over backing data
        d.Write(200_000, Data.Pattern(5000, 5));
        return path;
    }

    [Fact]
    public void ScatteredReadsMatchPlainReadsOverEveryKindOfCluster()
    {
        using var dir = new TempDir();
        using var d = Data.Open(MixedImage(dir, "r"));
        foreach (long offset in new long[] { 0, 512, 4000, 8192, 99_999 })
        {
            var plain = new byte[300_000];
            d.Read(offset, plain);
            var scattered = new byte[plain.Length];
            d.ReadVectored(offset, Pieces(scattered));
            Assert.Equal(plain, scattered);
        }
    }

    [Fact]
    public void GatheredWritesLeaveTheImageAPlainWriteLeaves()
    {
        using var dir = new TempDir();
        string plainPath = MixedImage(dir, "plain"), gatheredPath = MixedImage(dir, "gathered");
        // The second round rewrites clusters the first allocated: there the data goes straight to the host file.
        foreach (var (offset, seed) in new (long, int)[] { (6000, 10), (0, 11), (190_000, 12), (700_000, 13), (5000, 14), (8192, 15), (690_000, 16) })
        {
            var data = Data.Pattern(120_000, seed);
            using (var d = Data.Open(plainPath))
                d.Write(offset, data);
            using (var d = Data.Open(gatheredPath))
                d.WriteVectored(offset, Pieces(data));
        }
        foreach (string path in new[] { plainPath, gatheredPath })
        {
            var check = Tools.QemuImg("check", path);
            Assert.True(check.ExitCode == 0, check.Out + check.Err);
        }
        var compare = Tools.QemuImg("compare", plainPath, gatheredPath);
        Assert.True(compare.ExitCode == 0, compare.Out + compare.Err);
    }

    [Fact]
    public void RawImagesReadAndWriteScatterListsInPlace()
    {
        using var dir = new TempDir();
        string path = dir.File("v.raw");
        Emu.Block.Raw.RawDriver.Create(path, 1 << 20);
        var data = Data.Pattern(200_000, 21);
        using var d = Data.Open(path);
        d.WriteVectored(3000, Pieces(data));
        Assert.Equal(data, File.ReadAllBytes(path).AsSpan(3000, data.Length).ToArray());
        var back = new byte[data.Length + 5000];
        d.ReadVectored(0, Pieces(back));
        Assert.Equal(new byte[3000], back[..3000]);
        Assert.Equal(data, back[3000..203_000]);
        Assert.Throws<BlockException>(() => d.ReadVectored((1 << 20) - 100, Pieces(new byte[200])));
    }

    [Fact]
    public void SlicesCoverExactlyTheRequestedBytes()
    {
        var data = Data.Pattern(10_000, 31);
        var pieces = Pieces(data);
        var slice = ScatterList.Slice(pieces, 4000, 5000);
        Assert.Equal(5000, ScatterList.Length(slice));
        Assert.Equal(data[4000..9000], slice.SelectMany(p => p.ToArray()).ToArray());
        Assert.Empty(ScatterList.Slice(pieces, 10_000, 0));
        Assert.Throws<ArgumentException>(() => ScatterList.Slice(pieces, 9000, 1001));
    }

    /// <summary>emu io's readv, writev and truncate against qemu-io's on twin images: same output (timing lines
    /// aside), same exit status, same resulting image.</summary>
    [Theory]
    [InlineData("qcow2")]
    [InlineData("raw")]
    public void EmuIoVectorCommandsMatchQemuIo(string format)
    {
        using var dir = new TempDir();
        string theirs = dir.File("theirs." + format), ours = dir.File("ours." + format);
        Tools.QemuImg("create", "-q", "-f", format, theirs, "1M");
        File.Copy(theirs, ours);
        string[] commands =
        [
            "writev -P 0x33 0 512 1k 4k", "readv -P 0x33 0 512 1k 4k", "readv -P 0x34 0 512", "readv -v 0 16 16",
            "writev 1000 512", "writev -P 7 1040000 8k 512", "truncate 2M", "length", "writev -P 9 1536k 4k 4k",
            "readv -q 0 512", "readv 0 512 abc", "truncate 1536k", "length", "readv -P 9 1536k 4k",
        ];
        string[] args = ["-f", format, .. commands.SelectMany(c => new[] { "-c", c })];
        var q = Tools.QemuIo([.. args, theirs]);
        var e = Tools.Io([.. args, ours]);
        Assert.Equal(q.ExitCode, e.ExitCode);
        Assert.Equal(Tools.WithoutTiming(q.Out), Tools.WithoutTiming(e.Out));
        Assert.Equal(q.Err.Split('\n').Order(StringComparer.Ordinal), e.Err.Split('\n').Order(StringComparer.Ordinal));
        Assert.Equal(0, Tools.QemuImg("compare", "-f", format, "-F", format, theirs, ours).ExitCode);
        if (format == "qcow2")
            Tools.AssertQemuCheckClean(ours);

        var bad = Tools.Io("-f", format, "-c", "readv", "-c", "truncate", ours);
        Assert.Equal("bad argument count 0 to readv, expected at least 2 arguments\n"
            + "bad argument count 0 to truncate, expected between 1 and 3 arguments\n", bad.Err);
    }
}
