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
}
