using Microsoft.Win32.SafeHandles;

namespace Emu.Block;

/// <summary>A host file accessed with positional I/O only (never buffered whole).</summary>
public sealed class HostFile : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly object _rmwLock = new();
    private readonly bool _locked;

    public string Path { get; }
    public bool ReadOnly { get; }

    /// <summary>How the file uses the host page cache.</summary>
    public HostCacheMode Cache { get; }

    private bool Direct => Cache.IsDirect();

    internal SafeFileHandle Handle => _handle;

    private HostFile(string path, SafeFileHandle handle, bool readOnly, HostCacheMode cache, bool locked)
    {
        _locked = locked;
        Path = path;
        _handle = handle;
        ReadOnly = readOnly;
        Cache = cache;
    }

    /// <summary>Opens an existing file with the given use of the page cache.</summary>
    /// <remarks>Like QEMU, cache=none fails on file systems that refuse O_DIRECT (tmpfs: "Invalid argument") rather than silently caching.
    /// The file is locked as <paramref name="imageLock"/> asks (none by default), or not opened at all.</remarks>
    public static HostFile Open(string path, bool readOnly, HostCacheMode cache = HostCacheMode.WriteBack, ImageLock imageLock = default)
    {
        SafeFileHandle? handle = null;
        try
        {
            if (cache.IsDirect())
            {
                if (!File.Exists(path))
                    throw new FileNotFoundException(null, path);
                handle = Native.OpenDirect(path, readOnly, cache.IsSync());
            }
            else
            {
                handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite,
                    cache.IsSync() ? FileOptions.WriteThrough : FileOptions.None);
            }
            imageLock.Apply(handle, path);
            return new HostFile(path, handle, readOnly, cache, imageLock != ImageLock.None);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            handle?.Dispose();
            throw new BlockException($"Could not open '{path}': {Describe(e)}", e);
        }
        catch (ImageLockException)
        {
            ImageLock.Release(handle!);
            handle?.Dispose();
            throw;
        }
    }

    /// <summary>Creates (or truncates) a file for writing; a file another process has open as an image is left
    /// untouched (its locks are checked before the truncation).</summary>
    public static HostFile Create(string path)
    {
        SafeFileHandle? handle = null;
        try
        {
            handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
            ImageLock.For(readOnly: false, forceShare: false, qcow2: true).Apply(handle, path);
            RandomAccess.SetLength(handle, 0);
            return new HostFile(path, handle, false, HostCacheMode.WriteBack, locked: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            handle?.Dispose();
            throw new BlockException($"Could not create '{path}': {Describe(e)}", e);
        }
        catch (ImageLockException e)
        {
            ImageLock.Release(handle!);
            handle?.Dispose();
            throw new BlockException($"{path}: {e.Message}", e);
        }
    }

    private static string Describe(Exception e) => e switch
    {
        // An empty path is an ArgumentException in .NET; to open(2) it is a missing file.
        FileNotFoundException or DirectoryNotFoundException or ArgumentException => "No such file or directory",
        UnauthorizedAccessException => "Permission denied",
        _ => e.Message,
    };

    public long Length => RandomAccess.GetLength(_handle);

    public void SetLength(long length) => RandomAccess.SetLength(_handle, length);

    /// <summary>Reads exactly buffer.Length bytes; bytes past the end of the file read as zeroes.</summary>
    public void Read(long offset, Span<byte> buffer)
    {
        if (Direct)
        {
            DirectIo.Read(_handle, offset, buffer);
            return;
        }
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

    /// <summary>Reads consecutive file bytes into the buffers in order, in one vectored host read where the file
    /// allows it; bytes past the end of the file read as zeroes.</summary>
    public void ReadVectored(long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        long done = 0, total = ScatterList.Length(buffers);
        if (!Direct)
            done = RandomAccess.Read(_handle, buffers, offset);
        // O_DIRECT needs aligned buffers, and a short read (end of file) leaves a rest: one buffer at a time.
        if (done < total)
            foreach (var piece in ScatterList.Slice(buffers, done, checked((int)(total - done))))
            {
                Read(offset + done, piece.Span);
                done += piece.Length;
            }
    }

    /// <summary>Test hook simulating a power cut: when it returns true for a write, the write fails and nothing reaches the file.</summary>
    internal static Func<string, long, bool>? FailWrite { get; set; }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        CheckWrite(offset);
        if (Direct)
            DirectIo.Write(_handle, offset, data, _rmwLock);
        else
            RandomAccess.Write(_handle, data, offset);
    }

    /// <summary>Writes the buffers' bytes, in order, at consecutive offsets: one vectored host write where the file allows it.</summary>
    public void WriteVectored(long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        CheckWrite(offset);
        if (Direct)
        {
            for (int i = 0; i < buffers.Count; i++)
            {
                DirectIo.Write(_handle, offset, buffers[i].Span, _rmwLock);
                offset += buffers[i].Length;
            }
            return;
        }
        var data = new ReadOnlyMemory<byte>[buffers.Count];
        for (int i = 0; i < data.Length; i++)
            data[i] = buffers[i];
        RandomAccess.Write(_handle, data, offset);
    }

    private void CheckWrite(long offset)
    {
        if (ReadOnly)
            throw new BlockException($"'{Path}' is opened read-only");
        if (FailWrite?.Invoke(Path, offset) == true)
            throw new IOException($"simulated power cut writing '{Path}' at offset {offset}");
    }

    public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer)
    {
        if (!Direct)
            return RandomAccess.ReadAsync(_handle, buffer, offset);
        Read(offset, buffer.Span);
        return ValueTask.FromResult(buffer.Length);
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data)
    {
        if (!Direct)
            return RandomAccess.WriteAsync(_handle, data, offset);
        Write(offset, data.Span);
        return ValueTask.CompletedTask;
    }

    /// <summary>Makes everything written so far durable (a no-op with cache=unsafe).</summary>
    public void Flush()
    {
        if (!ReadOnly && Cache != HostCacheMode.Unsafe)
            RandomAccess.FlushToDisk(_handle);
    }

    /// <summary>Reserves a byte range on the host as zeroes without writing it (fallocate's zero range); false when the
    /// host file system cannot, and the range is then left as it was.</summary>
    public bool AllocateZeroes(long offset, long length) => Fallocate(offset, length, Native.ZeroRange);

    /// <summary>Deallocates a byte range so it reads as zeroes and stops using host space; false when the host file system cannot.</summary>
    public bool PunchHole(long offset, long length) => Fallocate(offset, length, Native.PunchHole);

    private bool Fallocate(long offset, long length, Func<SafeFileHandle, long, long, bool> call)
    {
        if (ReadOnly || length <= 0)
            return false;
        try
        {
            return call(_handle, offset, length);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
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

    /// <summary>Length of the stored data starting at offset, up to the next hole, at most length (all of it when the
    /// host cannot tell).</summary>
    public long DataLength(long offset, long length)
    {
        try
        {
            long hole = Native.NextHole(_handle, offset);
            return hole <= offset ? length : Math.Min(length, hole - offset);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return length;
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

    public void Dispose()
    {
        if (_locked && !_handle.IsClosed)
            ImageLock.Release(_handle);
        _handle.Dispose();
    }
}
