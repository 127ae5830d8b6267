using Emu.Block.Qcow2;

namespace Emu.Block.Tests;

/// <summary>cache=none opens files with O_DIRECT and still reads and writes any byte range correctly.</summary>
public class DirectIoTests
{
    /// <summary>The open flags of a descriptor as the kernel reports them (octal in /proc/self/fdinfo).</summary>
    private static int OpenFlags(HostFile f)
    {
        int fd = (int)f.Handle.DangerousGetHandle();
        string line = File.ReadLines($"/proc/self/fdinfo/{fd}").First(l => l.StartsWith("flags:"));
        return Convert.ToInt32(line["flags:".Length..].Trim(), 8);
    }

    private const int ODirect = 0x4000; // x86-64 value; the test machines are x86-64.

    [Theory]
    [InlineData("none", true)]
    [InlineData("directsync", true)]
    [InlineData("writeback", false)]
    [InlineData("writethrough", false)]
    public void CacheModeDecidesODirect(string mode, bool direct)
    {
        using var dir = new TempDir();
        string path = dir.File("r.raw");
        File.WriteAllBytes(path, new byte[8192]);
        using var f = HostFile.Open(path, false, HostCache.Parse(mode));
        Assert.Equal(direct, (OpenFlags(f) & ODirect) != 0);
    }

    [Fact]
    public void UnalignedDirectIoMatchesAModel()
    {
        using var dir = new TempDir();
        string path = dir.File("r.raw");
        var model = new byte[3 * 65536 + 777];
        new Random(5).NextBytes(model);
        File.WriteAllBytes(path, model);
        var rng = new Random(9);
        using (var f = HostFile.Open(path, false, HostCacheMode.None))
        {
            for (int i = 0; i < 300; i++)
            {
                int off = rng.Next(model.Length - 1);
                int len = rng.Next(1, Math.Min(300_000, model.Length - off + 1));
                if (rng.Next(2) == 0)
                {
                    var data = Data.Pattern(len, i);
                    f.Write(off, data);
                    data.CopyTo(model, off);
                }
                else
                {
                    var got = new byte[len];
                    f.Read(off, got);
                    Assert.True(model.AsSpan(off, len).SequenceEqual(got), $"read {off}+{len}");
                }
                Assert.Equal(model.Length, f.Length);
            }
            // Growing the file by an unaligned write leaves it exactly as long as the write reaches.
            f.Write(model.Length + 10, new byte[] { 1, 2, 3 });
            Assert.Equal(model.Length + 13, f.Length);
            var tail = new byte[20];
            f.Read(model.Length, tail);
            Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0 }, tail);
        }
        Assert.True(model.AsSpan().SequenceEqual(File.ReadAllBytes(path).AsSpan(0, model.Length)));
    }

    [Fact]
    public void EmuIoWithCacheNoneWritesWhatQemuReads()
    {
        using var dir = new TempDir();
        string path = dir.File("a.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", path, "64M").ExitCode);
        var w = Tools.Io("-t", "none", "-c", "write -P 0x5a 1000 70000", "-c", "write -P 0x11 4096 4096", "-c", "read -P 0x11 4096 4096", path);
        Assert.Equal(0, w.ExitCode);
        Assert.DoesNotContain("failed", w.Out + w.Err);
        var n = Tools.Io("-n", "-c", "read -P 0x5a 8192 62808", "-c", "write -P 0x22 2M 512", path);
        Assert.Equal(0, n.ExitCode);
        Assert.DoesNotContain("failed", n.Out + n.Err);
        Tools.AssertQemuCheckClean(path);
        var r = Tools.QemuIo("-c", "read -P 0x5a 1000 3096", "-c", "read -P 0x11 4096 4096", "-c", "read -P 0x5a 8192 62808", "-c", "read -P 0x22 2M 512", path);
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("failed", r.Out);
    }

    [Fact]
    public void BenchWithCacheNoneWritesThePattern()
    {
        using var dir = new TempDir();
        string path = dir.File("b.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", path, "16M").ExitCode);
        var b = Tools.Img("bench", "-w", "-t", "none", "-c", "2000", "-d", "8", "-s", "4k", "--pattern", "0x3c", path);
        Assert.Equal(0, b.ExitCode);
        Assert.Contains("Run completed in", b.Out);
        // 2000 requests of 4 KiB cover the first 8000 KiB.
        var r = Tools.QemuIo("-c", "read -P 0x3c 0 8000k", "-c", "read -P 0 8000k 8k", path);
        Assert.DoesNotContain("failed", r.Out);
        Tools.AssertQemuCheckClean(path);
        var read = Tools.Img("bench", "-t", "directsync", "-c", "500", "-s", "4k", path);
        Assert.Equal(0, read.ExitCode);
    }

    [Fact]
    public void BadCacheModesAndMissingFilesGiveClearErrors()
    {
        using var dir = new TempDir();
        var bad = Assert.Throws<Emu.Cli.UsageException>(() => Tools.Io("-t", "sometimes", "-c", "read 0 1", dir.File("x.qcow2")));
        Assert.Contains("Invalid cache mode: sometimes", bad.Message);
        var missing = Tools.Io("-t", "none", "-c", "read 0 1", dir.File("missing.qcow2"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("No such file or directory", missing.Err);
        var bench = Tools.Img("bench", "-t", "fast", dir.File("x.qcow2"));
        Assert.Equal(1, bench.ExitCode);
        Assert.Contains("Invalid cache mode", bench.Err);
    }

    [Fact]
    public void ImageOptsCacheDirectOpensWithODirect()
    {
        using var dir = new TempDir();
        string path = dir.File("c.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 1 << 20 });
        var options = ImageOpenOptions.Apply(new ImageOptions(), new Dictionary<string, string> { ["cache.direct"] = "on" });
        Assert.Equal(HostCacheMode.None, options.Cache);
        using var d = (Qcow2Driver)ImageOpener.Open(path, options);
        Assert.True((OpenFlags(d.File) & ODirect) != 0);
        d.Write(3, new byte[] { 9 });
        var one = new byte[1];
        d.Read(3, one);
        Assert.Equal(9, one[0]);
        Assert.Equal(HostCacheMode.None, d.File.Cache);
    }
}
