namespace Emu.Hardware.Ide;

/// <summary>Asynchronous byte-addressed storage behind an emulated disk (the machine layer adapts Emu.Block's BlockDevice to it).</summary>
/// <remarks>Completions must run later on the machine's event loop, never on an I/O thread; status 0 means success
/// and a negative value an error. Several requests may be in flight at once.</remarks>
public interface IDiskBackend
{
    /// <summary>Disk size in bytes.</summary>
    long Size { get; }

    /// <summary>Reads <paramref name="buffer"/>.Length bytes at <paramref name="offset"/>.</summary>
    void Read(long offset, Memory<byte> buffer, Action<int> completion);

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/>.</summary>
    void Write(long offset, ReadOnlyMemory<byte> data, Action<int> completion);

    /// <summary>Makes every write completed before this call durable.</summary>
    void Flush(Action<int> completion);
}
