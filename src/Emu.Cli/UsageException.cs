namespace Emu.Cli;

/// <summary>A bad command line: printed as "emu img: message" with exit status 1.</summary>
public sealed class UsageException(string message) : Exception(message);
