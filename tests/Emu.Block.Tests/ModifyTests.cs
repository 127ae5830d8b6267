namespace Emu.Block.Tests;

/// <summary>resize, rebase and commit give the images qemu-img gives.</summary>
public class ModifyTests
{
    [Fact]
    public void ResizeGrowsAndShrinksLikeQemu()
    {
        using var dir = new TempDir();
        string a = dir.File("a.qcow2");
        Tools.Img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", a, "8M");
        Tools.Io("-c", "write -P 1 0 8M", a);
        var r = Tools.Img("resize", a, "+3G");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("Image resized.\n", r.Out);
        Tools.Io("-c", "write -P 2 3G 64k", a);
        Tools.AssertQemuCheckClean(a);
        Assert.Contains("3.01 GiB", Tools.QemuImg("info", a).Out);
        Assert.Equal(1, Tools.Img("resize", a, "4M").ExitCode);
        Assert.Equal(0, Tools.Img("resize", "--shrink", a, "4M").ExitCode);
        Tools.AssertQemuCheckClean(a);
        var q = Tools.QemuIo("-c", "read -P 1 0 4M", a);
        Assert.DoesNotContain("failed", q.Out);
        Assert.Contains("4 MiB (4194304 bytes)", Tools.QemuImg("info", a).Out);
    }

    [Fact]
    public void RebaseSafeAndUnsafe()
    {
        using var dir = new TempDir();
        string b1 = dir.File("b1.qcow2"), b2 = dir.File("b2.qcow2"), o = dir.File("o.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", b1, "4M");
        Tools.QemuIo("-c", "write -P 1 0 4M", b1);
        Tools.QemuImg("create", "-q", "-f", "qcow2", b2, "4M");
        Tools.QemuIo("-c", "write -P 1 0 2M", b2);
        Tools.QemuImg("create", "-q", "-f", "qcow2", "-b", "b1.qcow2", "-F", "qcow2", o);
        Tools.QemuIo("-c", "write -P 3 0 64k", o);
        Assert.Equal(0, Tools.Img("rebase", "-b", "b2.qcow2", "-F", "qcow2", o).ExitCode);
        // The guest still sees the old data everywhere.
        var r = Tools.QemuIo("-c", "read -P 3 0 64k", "-c", "read -P 1 64k 4032k", o);
        Assert.DoesNotContain("failed", r.Out);
        Assert.Contains("backing file: b2.qcow2", Tools.QemuImg("info", o).Out);
        Tools.AssertQemuCheckClean(o);
        Assert.Equal(0, Tools.Img("rebase", "-u", "-b", "b1.qcow2", "-F", "qcow2", o).ExitCode);
        Assert.Contains("backing file: b1.qcow2", Tools.QemuImg("info", o).Out);
    }

    [Fact]
    public void CommitWritesTheOverlayIntoItsBacking()
    {
        using var dir = new TempDir();
        string b = dir.File("b.qcow2"), o = dir.File("o.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", b, "4M");
        Tools.QemuIo("-c", "write -P 1 0 4M", b);
        Tools.QemuImg("create", "-q", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", o);
        Tools.QemuIo("-c", "write -P 5 1M 1M", "-c", "write -z 3M 64k", o);
        var r = Tools.Img("commit", o);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("Image committed.\n", r.Out);
        var back = Tools.QemuIo("-c", "read -P 1 0 1M", "-c", "read -P 5 1M 1M", "-c", "read -P 0 3M 64k", "-c", "read -P 1 3136k 960k", b);
        Assert.DoesNotContain("failed", back.Out);
        Tools.AssertQemuCheckClean(b);
        Tools.AssertQemuCheckClean(o);
        Assert.Contains("0/4194304 bytes allocated", Tools.QemuIo("-c", "alloc 0 4M", o).Out);
        Assert.Equal(Tools.QemuIo("-c", "alloc 0 4M", o).Out, Tools.Io("-c", "alloc 0 4M", o).Out);
    }
}
