using System.Diagnostics;

namespace Emu.Cli.Run;

/// <summary>Puts the controlling terminal into character mode while the guest owns stdin, as QEMU does for
/// <c>-serial stdio</c>: keys go to the guest unechoed and unbuffered; Ctrl-C still ends the run.</summary>
public sealed class TerminalMode : IDisposable
{
    private readonly string _saved;

    private TerminalMode(string saved) => _saved = saved;

    /// <summary>Switches stdin's terminal to character mode; null when stdin is not a terminal or stty is missing.</summary>
    public static TerminalMode? Enter()
    {
        if (Console.IsInputRedirected)
            return null;
        string? saved = Stty("-g");
        if (string.IsNullOrWhiteSpace(saved))
            return null;
        Stty("-icanon -echo -echonl -icrnl -inlcr -igncr -ixon -iexten min 1 time 0");
        return new TerminalMode(saved.Trim());
    }

    public void Dispose() => Stty(_saved);

    // Runs stty on the inherited stdin; returns its output, or null when it cannot run or fails.
    private static string? Stty(string arguments)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("stty", arguments) { RedirectStandardOutput = true, RedirectStandardError = true });
            if (p == null)
                return null;
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
