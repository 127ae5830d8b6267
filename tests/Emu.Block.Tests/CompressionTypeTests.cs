using System.Text.Json;

namespace Emu.Block.Tests;

/// <summary>compression_type=zstd against the real qemu-img/qemu-io, both ways, and the fallback for data that does not shrink.</summary>
public class CompressionTypeTests
{
    private static string Emu(string text) => text.Replace("qemu-img:", "emu img:");

    [Fact]
    public void QemuZstdClustersReadInEmuAndInfoMatches()
    {
        using var dir = new TempDir();
        string q = dir.File("q.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", "compression_type=zstd", q, "4M").ExitCode);
        Assert.Equal(0, Tools.QemuIo("-c", "write -c -P 0x55 0 64k", "-c", "write -c -P 0x66 64k 128k", "-c", "write -P 0x77 1M 4k", q).ExitCode);
        Assert.Contains("compressed clusters", Tools.QemuImg("check", q).Out);
        var r = Tools.Io("-c", "read -P 0x55 0 64k", "-c", "read -P 0x66 64k 128k", "-c", "read -P 0x77 1M 4k", "-c", "read -P 0 192k 512k", q);
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("failed", r.Out);
        foreach (var args in new[] { new[] { "info", q }, ["info", "--output=json", q], ["check", q] })
        {
            var ours = Tools.Img(args);
            var theirs = Tools.QemuImg(args);
            Assert.Equal(theirs.ExitCode, ours.ExitCode);
            Assert.Equal(theirs.Out, ours.Out);
        }
        Assert.Contains("compression type: zstd", Tools.Img("info", q).Out);
    }

    [Fact]
    public void EmuZstdClustersReadInQemu()
    {
        using var dir = new TempDir();
        string e = dir.File("e.qcow2"), twin = dir.File("twin.qcow2");
        var ours = Tools.Img("create", "-f", "qcow2", "-o", "compression_type=zstd", e, "4M");
        var theirs = Tools.QemuImg("create", "-f", "qcow2", "-o", "compression_type=zstd", twin, "4M");
        Assert.Equal(0, ours.ExitCode);
        Assert.Equal(theirs.Out.Replace(twin, e), ours.Out);
        Assert.Equal(0, Tools.Io("-c", "write -c -P 0x11 0 64k", "-c", "write -c -P 0x22 128k 128k", e).ExitCode);
        Tools.AssertQemuCheckClean(e);
        var check = JsonDocument.Parse(Tools.QemuImg("check", "--output=json", e).Out).RootElement;
        Assert.Equal(3, check.GetProperty("compressed-clusters").GetInt32());
        var r = Tools.QemuIo("-c", "read -P 0x11 0 64k", "-c", "read -P 0 64k 64k", "-c", "read -P 0x22 128k 128k", e);
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("failed", r.Out);
        Assert.Equal(Tools.QemuImg("info", twin).Out.Replace(twin, e).Split('\n')[4..], Tools.QemuImg("info", e).Out.Split('\n')[4..]);
    }

    [Theory]
    [InlineData("zlib")]
    [InlineData("zstd")]
    public void ConvertCompressedRoundTripsAndIncompressibleClustersStayNormal(string type)
    {
        using var dir = new TempDir();
        string raw = dir.File("src.raw"), ours = dir.File("ours.qcow2"), theirs = dir.File("theirs.qcow2");
        var data = new byte[1 << 20];
        for (int i = 0; i < 512 * 1024; i++)
            data[i] = (byte)(i % 251 < 100 ? i % 7 : 0);
        new Random(5).NextBytes(data.AsSpan(512 * 1024, 256 * 1024));
        File.WriteAllBytes(raw, data);
        string[] convert = ["convert", "-c", "-O", "qcow2", "-o", $"compression_type={type}"];
        Assert.Equal(0, Tools.Img([.. convert, raw, ours]).ExitCode);
        Assert.Equal(0, Tools.QemuImg([.. convert, raw, theirs]).ExitCode);
        Tools.AssertQemuCheckClean(ours);
        Assert.Equal(0, Tools.QemuImg("compare", raw, ours).ExitCode);
        Assert.Equal(0, Tools.QemuImg("compare", theirs, ours).ExitCode);
        Assert.Equal(0, Tools.Img("compare", theirs, ours).ExitCode);
        // 8 compressible clusters are compressed; the 4 random ones are stored as normal clusters, as QEMU stores them.
        int Compressed(string p) => JsonDocument.Parse(Tools.QemuImg("check", "--output=json", p).Out).RootElement.GetProperty("compressed-clusters").GetInt32();
        Assert.Equal(8, Compressed(ours));
        Assert.Equal(Compressed(theirs), Compressed(ours));
        var map = JsonDocument.Parse(Tools.QemuImg("map", "--output=json", ours).Out).RootElement;
        var random = map.EnumerateArray().Single(e => e.GetProperty("start").GetInt64() == 512 * 1024);
        Assert.True(random.TryGetProperty("offset", out _), "incompressible clusters must be normal (mapped) clusters");
        Assert.Equal(256 * 1024, random.GetProperty("length").GetInt64());
    }

    [Theory]
    [InlineData("compat=0.10,compression_type=zstd")]
    [InlineData("compression_type=lz4")]
    public void ImpossibleCompressionOptionsFailLikeQemu(string options)
    {
        using var dir = new TempDir();
        string a = dir.File("a.qcow2"), b = dir.File("b.qcow2");
        var ours = Tools.Img("create", "-f", "qcow2", "-o", options, a, "1M");
        var theirs = Tools.QemuImg("create", "-f", "qcow2", "-o", options, b, "1M");
        Assert.Equal(theirs.ExitCode, ours.ExitCode);
        Assert.Equal(theirs.Out.Replace(b, a), ours.Out);
        Assert.Equal(Emu(theirs.Err).Replace(b, a), ours.Err);
    }
}
