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
    public void BadOptionsGiveAClearError(string options, string message) => TestGuests.InTempDir("emu-cmdline-", dir =>
    {
        string disk = Path.Combine(dir, "blank.qcow2");
        Qcow2Creator.Create(disk, new Qcow2CreateOptions { Size = 1 << 20 });
        string[] bad = options.Replace("{dir}", dir).Replace("{disk}", disk).Split('|');
        // The option under test comes last, so it wins over the quiet defaults before it.
        string[] args = ["--disk", disk, "--timeout", "1", "--serial", "none", "--debugcon", "none", "--display", "none", .. bad];
        var e = Record.Exception(() => RunCommand.Run(args, TextWriter.Null));
        Assert.True(e is UsageException or MachineException, $"{e?.GetType().Name}: {e?.Message}");
        Assert.Contains(message, e!.Message);
    });
}
