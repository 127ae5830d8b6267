using Emu.Block.Qcow2;
using Emu.Cli;
using Emu.Cli.Run;

namespace Emu.Machine.Tests;

/// <summary>Bad <c>emu run</c> command lines end in a clear error before any guest runs, never in an unhandled exception.</summary>
public class RunCommandLineTests
{
    [Theory]
    [InlineData("--config|", "'': No such file or directory")]
    [InlineData("--config|{dir}", "Is a directory")]
    [InlineData("--disk|{disk},bogus=1", "Invalid parameter 'bogus'")]
    [InlineData("--disk|{disk},snapshot=maybe", "Parameter 'snapshot' expects 'on' or 'off'")]
    [InlineData("--disk|file=", "no path")]
    [InlineData("--cdrom|", "--cdrom: no path")]
    [InlineData("--bios|", "--bios: no path")]
    [InlineData("--serial|file:", "Cannot open '': no path")]
    [InlineData("--serial|file:{dir}", "Is a directory")]
    [InlineData("--debugcon|file:", "Cannot open '': no path")]
    [InlineData("--disk|{disk}", "already used by another drive")]
    [InlineData("--disk|{disk},snapshot=on", "already used by another drive")]
    [InlineData("--cdrom|{disk}", "already used by another drive")]
    [InlineData("--disk|{dir}/top.qcow2", "already used by another drive")]
    public void BadOptionsGiveAClearError(string options, string message) => TestGuests.InTempDir("emu-cmdline-", dir =>
    {
        string disk = Path.Combine(dir, "blank.qcow2");
        Qcow2Creator.Create(disk, new Qcow2CreateOptions { Size = 1 << 20 });
        Qcow2Creator.Create(Path.Combine(dir, "top.qcow2"), new Qcow2CreateOptions { Size = 1 << 20, BackingFile = disk, BackingFormat = "qcow2" });
        string[] bad = options.Replace("{dir}", dir).Replace("{disk}", disk).Split('|');
        // The option under test comes last, so it wins over the quiet defaults before it.
        string[] args = ["--disk", disk, "--timeout", "1", "--serial", "none", "--debugcon", "none", "--display", "none", .. bad];
        var e = Record.Exception(() => RunCommand.Run(args, TextWriter.Null));
        Assert.True(e is UsageException or MachineException, $"{e?.GetType().Name}: {e?.Message}");
        Assert.Contains(message, e!.Message);
    });

    [Theory]
    [InlineData("-h")]
    [InlineData("--help")]
    public void HelpEndsTheRunBeforeAnyGuest(string option)
    {
        // With a disk that would boot for a minute: help must return at once, with status 0.
        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, RunCommand.Run(["--disk", "/nonexistent.qcow2", "--timeout", "60", option], TextWriter.Null));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void DrivesMayShareAnImageTheyOnlyRead() => TestGuests.InTempDir("emu-cmdline-", dir =>
    {
        // Two snapshot=on drives read one image (each writes its own overlay), and a CD-ROM reads it too.
        string disk = Path.Combine(dir, "blank.qcow2");
        Qcow2Creator.Create(disk, new Qcow2CreateOptions { Size = 1 << 20 });
        int status = RunCommand.Run(["--disk", disk + ",snapshot=on", "--disk", disk + ",snapshot=on", "--cdrom", disk,
            "--timeout", "1", "--serial", "none", "--debugcon", "none", "--display", "none"], TextWriter.Null);
        Assert.Equal(124, status);
    });
}
