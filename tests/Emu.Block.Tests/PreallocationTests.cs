namespace Emu.Block.Tests;

/// <summary>create -o preallocation=... lays out the image as qemu-img does: same file size, allocated blocks, map and check.</summary>
public class PreallocationTests
{
    [Theory]
    [InlineData("qcow2", "preallocation=off", "3M")]
    [InlineData("qcow2", "preallocation=metadata", "3M")]
    [InlineData("qcow2", "preallocation=metadata", "3146240")]
    [InlineData("qcow2", "preallocation=metadata,cluster_size=4096", "20M")]
    [InlineData("qcow2", "preallocation=metadata,cluster_size=512", "5M")]
    [InlineData("qcow2", "preallocation=metadata,refcount_bits=1,compat=1.1", "20M")]
    [InlineData("qcow2", "preallocation=metadata", "0")]
    [InlineData("qcow2", "preallocation=falloc", "3M")]
    [InlineData("qcow2", "preallocation=falloc,cluster_size=4096", "5M")]
    [InlineData("qcow2", "preallocation=full", "3146240")]
    [InlineData("qcow2", "preallocation=full,cluster_size=512", "20M")]
    [InlineData("qcow2", "preallocation=full,refcount_bits=64,cluster_size=1024", "20M")]
    [InlineData("qcow2", "preallocation=full", "0")]
    [InlineData("raw", "preallocation=off", "1000")]
    [InlineData("raw", "preallocation=falloc", "3M")]
    [InlineData("raw", "preallocation=full", "3M")]
    public void LayoutMatchesQemu(string format, string options, string size)
    {
        using var dir = new TempDir();
        string ours = dir.File("ours.img"), theirs = dir.File("theirs.img");
        var a = Tools.Img("create", "-f", format, "-o", options, ours, size);
        var b = Tools.QemuImg("create", "-f", format, "-o", options, theirs, size);
        Assert.Equal(b.ExitCode, a.ExitCode);
        Assert.Equal(b.Out.Replace(theirs, ours), a.Out);
        Assert.Equal(new FileInfo(theirs).Length, new FileInfo(ours).Length);
        // st_blocks also counts the file system's own extent-tree blocks, which depend on how fragmented the free
        // space was when each file was written: allow a few of those, no more.
        long allocatedTheirs = Native.AllocatedBytes(theirs), allocatedOurs = Native.AllocatedBytes(ours);
        Assert.True(Math.Abs(allocatedTheirs - allocatedOurs) <= 16384, $"allocated bytes: qemu-img {allocatedTheirs}, emu {allocatedOurs}");
        Assert.Equal(Tools.QemuImg("map", "--output=json", "-f", format, theirs).Out, Tools.QemuImg("map", "--output=json", "-f", format, ours).Out);
        if (format == "qcow2" && size != "0")
        {
            Tools.AssertQemuCheckClean(ours);
            Assert.Equal(Tools.QemuImg("check", theirs).Out, Tools.QemuImg("check", ours).Out);
            // The preallocated image is a normal image: writes land in place and read back.
            Assert.Equal(0, Tools.Io("-c", "write -P 0x3c 4096 8192", ours).ExitCode);
            Tools.AssertQemuCheckClean(ours);
            Assert.DoesNotContain("failed", Tools.QemuIo("-c", "read -P 0x3c 4096 8192", "-c", "read -P 0 0 4096", ours).Out);
        }
    }

    [Theory]
    [InlineData("qcow2", "preallocation=bogus")]
    [InlineData("raw", "preallocation=bogus")]
    [InlineData("raw", "preallocation=metadata")]
    public void BadModesFailLikeQemu(string format, string options)
    {
        using var dir = new TempDir();
        string ours = dir.File("ours.img"), theirs = dir.File("theirs.img");
        var a = Tools.Img("create", "-f", format, "-o", options, ours, "1M");
        var b = Tools.QemuImg("create", "-f", format, "-o", options, theirs, "1M");
        Assert.Equal(b.ExitCode, a.ExitCode);
        Assert.Equal(b.Out.Replace(theirs, ours), a.Out);
        Assert.Equal(b.Err.Replace("qemu-img:", "emu img:").Replace(theirs, ours), a.Err);
    }

    [Fact]
    public void BackingFileWithPreallocationIsRefusedLikeQemu()
    {
        using var dir = new TempDir();
        string b = dir.File("b.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", b, "1M");
        var ours = Tools.Img("create", "-f", "qcow2", "-o", "preallocation=metadata", "-b", "b.qcow2", "-F", "qcow2", dir.File("o.qcow2"));
        var theirs = Tools.QemuImg("create", "-f", "qcow2", "-o", "preallocation=metadata", "-b", "b.qcow2", "-F", "qcow2", dir.File("t.qcow2"));
        Assert.Equal(theirs.ExitCode, ours.ExitCode);
        Assert.Equal(theirs.Err.Replace("qemu-img:", "emu img:").Replace("t.qcow2", "o.qcow2"), ours.Err);
    }
}
