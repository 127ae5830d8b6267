namespace Emu.Block.Tests;

/// <summary><c>emu img dd</c> against the real <c>qemu-img dd</c>: the same exit status, the same messages and an
/// output image of the same size holding the same bytes, for good and bad operands alike.</summary>
public class DdTests
{
    // A 1 MiB qcow2 input with data at the start, in the middle and at the very end.
    private static string Input(TempDir dir)
    {
        string input = dir.File("in.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", input, "1M");
        Tools.QemuIo("-c", "write -P 0x5a 0 64k", "-c", "write -P 0x11 700k 4k", "-c", "write -P 0x22 1020k 4k", input);
        return input;
    }

    [Theory]
    [InlineData("bs=512")]
    [InlineData("-O qcow2 bs=64k count=3 skip=1")]
    [InlineData("bs=300k count=2 skip=1")] // count is counted from the start of the input, as qemu-img does
    [InlineData("bs=300k skip=3")]
    [InlineData("bs=1M skip=1")]
    [InlineData("bs=3 skip=7 count=300000")]
    [InlineData("-O qcow2 bs=700k skip=1")]
    [InlineData("bs=1.25K count=3.5k")]
    [InlineData("bs=0x400 count=0x10")]
    [InlineData("count=0x1k")]
    [InlineData("bs=1k count=0")]
    [InlineData("bs=64k count=100")]
    [InlineData("count=1 count=2")]
    [InlineData("skip=5000")]
    [InlineData("bs=1M skip=9000000000000")]
    [InlineData("bs=1M count=9000000000000")]
    [InlineData("bs=0")]
    [InlineData("bs=2G")]
    [InlineData("bs=1x")]
    [InlineData("bs=1.5")]
    [InlineData("bs=-1")]
    [InlineData("count=")]
    [InlineData("count=99999999999999999999")]
    [InlineData("skip=8E")]
    [InlineData("skip=x")]
    [InlineData("foo=1")]
    [InlineData("bs")]
    [InlineData("-O foo")]
    public void MatchesQemuImgDd(string operands)
    {
        using var dir = new TempDir();
        string input = Input(dir);
        string[] extra = operands.Split(' ');
        string format = operands.Contains("-O qcow2") ? "qcow2" : "raw";
        string theirs = dir.File("theirs.img"), ours = dir.File("ours.img");
        var q = Tools.QemuImg(["dd", "if=" + input, "of=" + theirs, .. extra]);
        var e = Tools.Img(["dd", "if=" + input, "of=" + ours, .. extra]);
        Assert.Equal(q.ExitCode, e.ExitCode);
        Assert.Equal(q.Err.Replace("qemu-img: ", "emu img: ").Replace(theirs, "OUT"), e.Err.Replace(ours, "OUT"));
        Assert.Equal(File.Exists(theirs), File.Exists(ours));
        if (!File.Exists(theirs))
            return;
        using (var t = Data.Open(theirs, readOnly: true))
        using (var o = Data.Open(ours, readOnly: true))
        {
            Assert.Equal(t.Format, o.Format);
            Assert.Equal(t.Size, o.Size);
        }
        var cmp = Tools.QemuImg("compare", "-f", format, "-F", format, theirs, ours);
        Assert.True(cmp.ExitCode == 0, cmp.Out + cmp.Err);
        if (format == "qcow2")
            Tools.AssertQemuCheckClean(ours);
    }

    [Fact]
    public void MissingFilesAndUnopenableOnesAreErrors()
    {
        using var dir = new TempDir();
        string input = Input(dir);
        Assert.Equal((1, "emu img: Must specify both input and output files\n"), Run("if=" + input));
        Assert.Equal((1, "emu img: Must specify both input and output files\n"), Run("of=" + dir.File("x")));
        Assert.Equal((1, "emu img: Could not open '': The 'file' block driver requires a file name\n"), Run("if=", "of=" + dir.File("x")));
        Assert.Equal((1, $"emu img: Could not open '{input}': Unknown driver 'foo'\n"), Run("-f", "foo", "if=" + input, "of=" + dir.File("x")));
        string unwritable = Path.Combine(dir.Path, "no", "such", "dir", "x");
        var (rc, err) = Run("if=" + input, "of=" + unwritable);
        Assert.Equal(1, rc);
        Assert.StartsWith($"emu img: {unwritable}: error while creating output image: ", err);
    }

    [Fact]
    public void ZeroesInTheInputStayUnallocatedInAQcow2Output()
    {
        using var dir = new TempDir();
        string input = Input(dir), output = dir.File("out.qcow2");
        Assert.Equal(0, Tools.Img("dd", "-O", "qcow2", "bs=4k", "if=" + input, "of=" + output).ExitCode);
        using var o = Data.Open(output, readOnly: true);
        // 64 KiB clusters: the data at 0, 700 KiB and 1020 KiB takes three; the rest reads as zeroes unallocated.
        var hole = o.GetStatus(128 << 10, 64 << 10);
        Assert.Equal(BlockStatusFlags.Zero, hole.Flags & (BlockStatusFlags.Zero | BlockStatusFlags.Allocated));
        Assert.True(o.GetStatus(0, 64 << 10).Flags.HasFlag(BlockStatusFlags.Allocated));
        Assert.Equal(0, Tools.QemuImg("compare", "-F", "qcow2", input, output).ExitCode);
    }

    private static (int, string) Run(params string[] args)
    {
        var r = Tools.Img(["dd", .. args]);
        return (r.ExitCode, r.Err.ReplaceLineEndings("\n"));
    }
}

/// <summary>An empty file name is an error message in every command, as in qemu-img, not a crash.</summary>
public class EmptyPathTests
{
    [Fact]
    public void EmptyNamesAreReportedNotThrown()
    {
        using var dir = new TempDir();
        string image = dir.File("ok.qcow2");
        Assert.Equal(0, Tools.Img("create", "-q", "-f", "qcow2", image, "1M").ExitCode);
        Assert.Equal((1, "emu img: Could not create '': No such file or directory\n"), Run("create", "-q", "-f", "qcow2", "", "1M"));
        Assert.Equal((1, "emu img: Could not create '': No such file or directory\n"), Run("create", "-q", "-f", "raw", "", "1M"));
        Assert.Equal((1, "emu img: Could not create '': No such file or directory\n"), Run("convert", "-O", "qcow2", image, ""));
        Assert.Equal((1, "emu img: Invalid image size specified: ''\n"), Run("resize", image, ""));
        Assert.Equal((1, "emu img: Could not open '': The 'file' block driver requires a file name\n"), Run("info", ""));
    }

    private static (int, string) Run(params string[] args)
    {
        var r = Tools.Img(args);
        return (r.ExitCode, r.Err.ReplaceLineEndings("\n"));
    }
}
