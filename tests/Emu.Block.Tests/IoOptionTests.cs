namespace Emu.Block.Tests;

/// <summary><c>emu io</c>'s command-line options as qemu-io takes them: -s writes to a temporary overlay and leaves
/// the image as it was, the long spellings work, and options emu does not offer are refused, never misread.</summary>
public class IoOptionTests
{
    private static string Image(TempDir dir, string format)
    {
        string path = dir.File("disk." + format);
        Tools.QemuImg("create", "-q", "-f", format, path, "8M");
        Assert.Equal(0, Tools.QemuIo("-f", format, "-c", "write -P 0x11 0 64k", path).ExitCode);
        return path;
    }

    [Theory]
    [InlineData("qcow2", "-s")]
    [InlineData("raw", "-s")]
    [InlineData("qcow2", "--snapshot")]
    public void SnapshotWritesNeverReachTheImage(string format, string option)
    {
        using var dir = new TempDir();
        string path = Image(dir, format);
        byte[] before = File.ReadAllBytes(path);
        string[] overlaysBefore = Overlays();
        // Within the run the writes are visible, over the image's own data.
        var r = Tools.Io("-f", format, option, "-c", "write -P 0x22 4k 8k", "-c", "read -P 0x11 0 4k", "-c", "read -P 0x22 4k 8k",
            "-c", "read -P 0x11 12k 52k", "-c", "write -z 1M 1M", "-c", "flush", path);
        Assert.True(r.ExitCode == 0, r.Out + r.Err);
        Assert.DoesNotContain("Pattern verification failed", r.Out);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(0, Tools.QemuIo("-f", format, "-c", "read -P 0x11 0 64k", path).ExitCode);
        // The overlay is gone when emu io ends.
        Assert.Equal(overlaysBefore, Overlays());
    }

    private static string[] Overlays() =>
        Directory.GetFiles(Path.GetTempPath(), $"emu-snapshot-{Environment.ProcessId}-*").Order().ToArray();

    [Fact]
    public void WithoutSnapshotTheSameWritesLand()
    {
        using var dir = new TempDir();
        string path = Image(dir, "qcow2");
        Assert.Equal(0, Tools.Io("-c", "write -P 0x22 4k 8k", path).ExitCode);
        Assert.Equal(0, Tools.QemuIo("-c", "read -P 0x22 4k 8k", path).ExitCode);
    }

    [Fact]
    public void LongSpellingsAreTheShortOptions()
    {
        using var dir = new TempDir();
        string path = Image(dir, "qcow2");
        var r = Tools.Io("--format=qcow2", "--read-only", "--cmd", "read -P 0x11 0 64k", "--cmd=write -P 1 0 512", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("read 65536/65536 bytes at offset 0", r.Out);
        // --read-only held: the write was refused and the data is unchanged.
        Assert.Equal(0, Tools.QemuIo("-c", "read -P 0x11 0 64k", path).ExitCode);
    }

    [Fact]
    public void HelpListsTheOptions()
    {
        foreach (string h in new[] { "-h", "--help" })
        {
            var r = Tools.Io(h);
            Assert.Equal(0, r.ExitCode);
            Assert.StartsWith("usage: emu io [options] [-c COMMAND]... [IMAGE]", r.Out);
            Assert.Contains("-s, --snapshot", r.Out);
        }
    }

    [Fact]
    public void UnofferedOptionsAreRefused()
    {
        using var dir = new TempDir();
        string path = Image(dir, "qcow2");
        byte[] before = File.ReadAllBytes(path);
        // qemu-io's -d and -T take a value: it must not be taken for the image name.
        var e = Assert.Throws<Emu.Cli.UsageException>(() => Tools.Io("-d", "unmap", "-c", "write -P 3 0 4k", path));
        Assert.Equal("-d MODE: discard modes are not supported", e.Message);
        e = Assert.Throws<Emu.Cli.UsageException>(() => Tools.Io("-T", "events=x", "-c", "write -P 3 0 4k", path));
        Assert.Equal("-T: tracing is not supported", e.Message);
        e = Assert.Throws<Emu.Cli.UsageException>(() => Tools.Io("-s", "--image-opts", "-c", "read 0 4k", $"driver=qcow2,file.filename={path}"));
        Assert.Equal("-s cannot be used with --image-opts", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
    }
}
