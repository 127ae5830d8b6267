namespace Emu.Block.Tests;

/// <summary>emu img measure prints what qemu-img measure prints, with the same exit code, for sizes and input images.</summary>
public class MeasureTests
{
    [Theory]
    [InlineData("--size 1G -O qcow2")]
    [InlineData("--size 1G -O qcow2 --output=json")]
    [InlineData("--size 1G")]
    [InlineData("--size 1000 -O raw --output=json")]
    [InlineData("-O qcow2 z.qcow2 --output=json")]
    [InlineData("-O qcow2 z.qcow2")]
    [InlineData("-O qcow2 -o cluster_size=4096,refcount_bits=1 data.raw")]
    [InlineData("-O qcow2 ov.qcow2")]
    [InlineData("-O qcow2 -o cluster_size=512 -f raw data.raw --output=json")]
    [InlineData("-O qcow2 -o backing_file=z.qcow2 ov.qcow2")]
    [InlineData("-O qcow2 -o compat=0.10 z.qcow2")]
    [InlineData("-O raw z.qcow2")]
    [InlineData("-O qcow2 -o preallocation=full --size 1G")]
    [InlineData("-O qcow2 -o preallocation=metadata --size 3000000")]
    [InlineData("-O qcow2 -o extended_l2=on --size 100G")]
    [InlineData("-O qcow2 -o cluster_size=512 --size 100T")]
    [InlineData("-O qcow2 --size 1G z.qcow2")]
    [InlineData("-O qcow2")]
    [InlineData("-O vmdk --size 1G")]
    [InlineData("-O qcow2 -o bogus=1 --size 1G")]
    [InlineData("-O raw -o cluster_size=4096 --size 1G")]
    public void OutputMatchesQemu(string arguments)
    {
        using var dir = new TempDir();
        string z = dir.File("z.qcow2"), ov = dir.File("ov.qcow2"), raw = dir.File("data.raw");
        Tools.QemuImg("create", "-q", "-f", "qcow2", z, "1M");
        Tools.QemuIo("-c", "write -c -P 0x55 0 64k", "-c", "write -P 3 128k 8k", z);
        Tools.QemuImg("create", "-q", "-f", "qcow2", "-b", "z.qcow2", "-F", "qcow2", ov);
        Tools.QemuIo("-c", "write -P 1 300k 10k", "-c", "write -z 600k 64k", ov);
        File.WriteAllBytes(raw, Data.Pattern(262144, 9));
        var args = arguments.Split(' ').Select(a => a switch
        {
            "z.qcow2" => z,
            "ov.qcow2" => ov,
            "data.raw" => raw,
            _ => a,
        }).ToArray();
        var ours = Tools.Img(["measure", .. args]);
        var theirs = Tools.QemuImg(["measure", .. args]);
        Assert.Equal(theirs.ExitCode, ours.ExitCode);
        Assert.Equal(theirs.Out, ours.Out);
        Assert.Equal(theirs.Err.Replace("qemu-img:", "emu img:"), ours.Err);
    }

    [Fact]
    public void RequiredSizeIsEnoughForAConvertedImage()
    {
        using var dir = new TempDir();
        string src = dir.File("src.qcow2"), dst = dir.File("dst.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", src, "64M");
        Tools.QemuIo("-c", "write -P 7 1M 3M", "-c", "write -P 8 40M 100k", src);
        var m = Tools.Img("measure", "-O", "qcow2", "--output=json", src);
        long required = System.Text.Json.JsonDocument.Parse(m.Out).RootElement.GetProperty("required").GetInt64();
        Assert.Equal(0, Tools.Img("convert", "-O", "qcow2", src, dst).ExitCode);
        Assert.True(new FileInfo(dst).Length <= required, $"{new FileInfo(dst).Length} > {required}");
    }
}
