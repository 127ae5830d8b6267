using Microsoft.Win32.SafeHandles;

namespace Emu.Block;

/// <summary>A host file accessed with positional I/O only (never buffered whole).</summary>
public sealed class HostFile : IDisposable
{
    private readonly SafeFileHandle _handle;

    public string Path { get; }
    public bool ReadOnly { get; }

    private HostFile(string path, SafeFileHandle handle, bool readOnly)
    {
        Path = path;
        _handle = handle;
        ReadOnly = readOnly;
    }

    /// <summary>Opens an existing file.</summary>
    public static HostFile Open(string path, bool readOnly)
    {
        try
        {
            var handle = File.OpenHandle(path, FileMode.Open,
                readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite);
            return new HostFile(path, handle, readOnly);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BlockException($"Could not open '{path}': {Describe(e)}", e);
        }
    }

    /// <summary>Creates (or truncates) a file for writing.</summary>
    public static HostFile Create(string path)
    {
        try
        {
            var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite);
            return new HostFile(path, handle, false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BlockException($"Could not create '{path}': {Describe(e)}", e);
        }
    }

    private static string Describe(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        UnauthorizedAccessException => "Permission denied",
        _ => e.Message,
    };

    public long Length => RandomAccess.GetLength(_handle);

    internal SafeFileHandle Handle => _handle;

    public void SetLength(long length) => RandomAccess.SetLength(_handle, length);

    /// <summary>Reads exactly buffer.Length bytes; bytes past the end of the file read as zeroes.</summary>
    public void Read(long offset, Span<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            int n = RandomAccess.Read(_handle, buffer, offset);
            if (n <= 0)
            {
                buffer.Clear();
                return;
            }
            buffer = buffer[n..];
            offset += n;
        }
    }

    /// <summary>Test hook simulating a power cut: when it returns true for a write, the write fails and nothing reaches the file.</summary>
    internal static Func<string, long, bool>? FailWrite { get; set; }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        if (ReadOnly)
            throw new BlockException($"'{Path}' is opened read-only");
        if (FailWrite?.Invoke(Path, offset) == true)
            throw new IOException($"simulated power cut writing '{Path}' at offset {offset}");
        RandomAccess.Write(_handle, data, offset);
    }

    public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer) => RandomAccess.ReadAsync(_handle, buffer, offset);

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data) => RandomAccess.WriteAsync(_handle, data, offset);

    /// <summary>Makes everything written so far durable.</summary>
    public void Flush()
    {
        if (!ReadOnly)
            RandomAccess.FlushToDisk(_handle);
    }

    /// <summary>Length of the hole (bytes that read as zeroes without being stored) starting at offset, at most length.</summary>
    /// <remarks>Bytes past the end of the file count as a hole. 0 when the host cannot tell.</remarks>
    public long HoleLength(long offset, long length)
    {
        long fileLength = Length;
        if (offset >= fileLength)
            return length;
        try
        {
            long next = Native.NextData(_handle, offset, fileLength);
            return next < 0 ? 0 : Math.Min(length, next - offset);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return 0;
        }
    }

    /// <summary>Bytes the file occupies on the host disk (allocated blocks).</summary>
    public long AllocatedBytes
    {
        get
        {
            try
            {
                return Native.AllocatedBytes(Path);
            }
            catch
            {
                return Length;
            }
        }
    }

    public void Dispose() => _handle.Dispose();
}
