namespace Emu.Machine;

/// <summary>Where a character device's bytes go: stdout, a file, or nowhere (stdio|none|file:PATH).</summary>
internal sealed class OutputSink : IDisposable
{
    private readonly Stream? _stream;
    private readonly bool _ownsStream;

    public OutputSink(string spec, Stream? stdout = null)
    {
        if (spec == "none")
            return;
        if (spec == "stdio")
        {
            _stream = stdout ?? Console.OpenStandardOutput();
            return;
        }
        if (spec.StartsWith("file:"))
        {
            try
            {
                _stream = new FileStream(spec[5..], FileMode.Create, FileAccess.Write, FileShare.Read);
                _ownsStream = true;
                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                string why = spec.Length == 5 ? "no path" : Directory.Exists(spec[5..]) ? "Is a directory" : e.Message;
                throw new MachineException($"Cannot open '{spec[5..]}': {why}");
            }
        }
        throw new MachineException($"Invalid character device '{spec}' (use stdio, none or file:PATH)");
    }

    public void Write(byte b)
    {
        if (_stream == null)
            return;
        _stream.WriteByte(b);
        if (b == '\n')
            _stream.Flush();
    }

    public void Flush() => _stream?.Flush();

    public void Dispose()
    {
        Flush();
        if (_ownsStream)
            _stream?.Dispose();
    }
}
