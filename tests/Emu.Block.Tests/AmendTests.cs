namespace Emu.Block.Tests;

/// <summary>emu img amend changes what qemu-img amend changes, fails where it fails, and keeps the data.</summary>
public class AmendTests
{
    private static string SpecificInfo(string path) =>
        Tools.QemuImg("info", path).Out.Split("Format specific information:")[^1];

    [Theory]
    [InlineData("", "compat=0.10")]
    [InlineData("compat=0.10", "compat=1.1")]
    [InlineData("", "refcount_bits=1")]
    [InlineData("", "refcount_bits=64")]
    [InlineData("refcount_bits=4", "refcount_bits=16,compat=0.10")]
    [InlineData("", "lazy_refcounts=on")]
    [InlineData("lazy_refcounts=on", "lazy_refcounts=off")]
    [InlineData("compat=0.10", "compat=1.1,lazy_refcounts=on,refcount_bits=8")]
    [InlineData("", "compat=0.10,refcount_bits=8")]
    [InlineData("", "compat=0.10,lazy_refcounts=on")]
    [InlineData("refcount_bits=8", "compat=0.10")]
    [InlineData("", "cluster_size=4096")]
    [InlineData("", "compat=0.9")]
    [InlineData("", "refcount_bits=3")]
    [InlineData("compression_type=zstd", "compat=0.10")]
    public void MatchesQemu(string createOptions, string amendOptions)
    {
        using var dir = new TempDir();
        string ours = dir.File("ours.qcow2"), theirs = dir.File("theirs.qcow2");
        string[] create = createOptions == "" ? [] : ["-o", createOptions];
        Assert.Equal(0, Tools.QemuImg(["create", "-q", "-f", "qcow2", .. create, theirs, "8M"]).ExitCode);
        string compressed = createOptions.Contains("zstd") ? "write -c -P 9 7M 64k" : "write -P 9 7M 64k";
        Assert.Equal(0, Tools.QemuIo("-c", "write -P 5 0 1M", "-c", "write -z 2M 1M", "-c", "write -P 6 5M 70k", "-c", compressed, theirs).ExitCode);
        File.Copy(theirs, ours);
        var a = Tools.Img("amend", "-o", amendOptions, ours);
        var b = Tools.QemuImg("amend", "-o", amendOptions, theirs);
        Assert.Equal(b.ExitCode, a.ExitCode);
        Assert.Equal(b.Out, a.Out);
        Assert.Equal(b.Err.Replace("qemu-img", "emu img"), a.Err);
        Tools.AssertQemuCheckClean(ours);
        Assert.Equal(0, Tools.QemuImg("compare", theirs, ours).ExitCode);
        Assert.Equal(SpecificInfo(theirs), SpecificInfo(ours));
        // Still a working image for both tools.
        Assert.Equal(0, Tools.Io("-c", "write -P 7 3M 128k", ours).ExitCode);
        Tools.AssertQemuCheckClean(ours);
        Assert.DoesNotContain("failed", Tools.QemuIo("-c", "read -P 7 3M 128k", "-c", "read -P 5 0 1M", ours).Out);
    }

    [Fact]
    public void NoOptionsIsAUsageError()
    {
        using var dir = new TempDir();
        string a = dir.File("a.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", a, "1M");
        var ours = Tools.Img("amend", a);
        var theirs = Tools.QemuImg("amend", a);
        Assert.Equal(theirs.ExitCode, ours.ExitCode);
        Assert.Equal(theirs.Err.Replace("qemu-img", "emu img"), ours.Err);
    }

    [Fact]
    public void NarrowingRefcountsBelowASharedClusterFails()
    {
        using var dir = new TempDir();
        string a = dir.File("a.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", a, "1M");
        Tools.QemuIo("-c", "write -P 1 0 64k", a);
        Tools.QemuImg("snapshot", "-c", "s1", a);
        var r = Tools.Img("amend", "-o", "refcount_bits=1", a);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("Cannot decrease refcount entry width to 1 bits", r.Err);
        Tools.AssertQemuCheckClean(a);
        Assert.Equal(0, Tools.Img("amend", "-o", "refcount_bits=2", a).ExitCode);
        Tools.AssertQemuCheckClean(a);
        Assert.Contains("refcount bits: 2", Tools.QemuImg("info", a).Out);
        Assert.Equal(0, Tools.QemuImg("snapshot", "-a", "s1", a).ExitCode);
        Assert.DoesNotContain("failed", Tools.QemuIo("-c", "read -P 1 0 64k", a).Out);
    }
}
