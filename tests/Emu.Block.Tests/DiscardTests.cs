namespace Emu.Block.Tests;

/// <summary>Discard frees clusters and gives their space back to the host file system (hole punching).</summary>
public class DiscardTests
{
    [Theory]
    [InlineData("compat=1.1")]
    [InlineData("compat=0.10")]
    public void Qcow2DiscardPunchesFreedClustersOutOfTheHostFile(string options)
    {
        using var dir = new TempDir();
        string path = dir.File("d.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", options, path, "64M").ExitCode);
        Assert.Equal(0, Tools.QemuIo("-c", "write -P 0x42 0 8M", "-c", "write -P 0x43 8M 64k", path).ExitCode);
        long before = AllocatedBytes(path);
        var r = Tools.Io("-c", "discard 0 8M", path);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("discard 8388608/8388608 bytes at offset 0", r.Out);
        long after = AllocatedBytes(path);
        // Less a few blocks of the file system's extent tree, which st_blocks counts too and punching may grow.
        Assert.True(before - after >= (8L << 20) - 16384, $"allocated {before} -> {after}");
        Tools.AssertQemuCheckClean(path);
        var q = Tools.QemuIo("-c", "read -P 0 0 8M", "-c", "read -P 0x43 8M 64k", path);
        Assert.DoesNotContain("failed", q.Out);
    }

    [Fact]
    public void WriteZeroesWithUnmapPunchesButPlainZeroFlagKeepsTheCluster()
    {
        using var dir = new TempDir();
        string path = dir.File("z.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", path, "64M").ExitCode);
        Assert.Equal(0, Tools.QemuIo("-c", "write -P 0x42 0 4M", path).ExitCode);
        long start = AllocatedBytes(path);
        Assert.Equal(0, Tools.Io("-c", "write -z 0 2M", path).ExitCode);
        long kept = AllocatedBytes(path);
        Assert.True(start - kept < 1L << 20, $"zero flag alone freed host space: {start} -> {kept}");
        Assert.Equal(0, Tools.Io("-c", "write -z -u 0 4M", path).ExitCode);
        Assert.True(kept - AllocatedBytes(path) >= (4L << 20) - 16384);
        Tools.AssertQemuCheckClean(path);
        Assert.DoesNotContain("failed", Tools.QemuIo("-c", "read -P 0 0 4M", path).Out);
    }

    [Fact]
    public void RawDiscardPunchesAHole()
    {
        using var dir = new TempDir();
        string path = dir.File("r.raw");
        var data = Data.Pattern(4 << 20, 1);
        File.WriteAllBytes(path, data);
        long before = AllocatedBytes(path);
        Assert.Equal(0, Tools.Io("-f", "raw", "-c", "discard 1M 2M", path).ExitCode);
        Assert.True(before - AllocatedBytes(path) >= (2L << 20) - 16384);
        var back = File.ReadAllBytes(path);
        Assert.Equal(data.Length, back.Length);
        Assert.True(back.AsSpan(0, 1 << 20).SequenceEqual(data.AsSpan(0, 1 << 20)));
        Assert.All(back.AsSpan(1 << 20, 2 << 20).ToArray(), b => Assert.Equal(0, b));
        Assert.True(back.AsSpan(3 << 20).SequenceEqual(data.AsSpan(3 << 20)));
    }

    private static long AllocatedBytes(string path)
    {
        using var f = HostFile.Open(path, true);
        return f.AllocatedBytes;
    }
}
