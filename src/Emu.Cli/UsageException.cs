namespace Emu.Cli;

/// <summary>A bad command line: printed as "emu img: message" with exit status 1.</summary>
public sealed class UsageException(string message) : Exception(message)
{
    /// <summary>For an unknown option or a missing option argument: the message in qemu-img's words (the message
    /// itself is getopt's, as qemu-io prints it).</summary>
    public string? ImgMessage { get; init; }
}
