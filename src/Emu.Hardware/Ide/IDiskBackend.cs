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

    /// <summary>Reads consecutive bytes at <paramref name="offset"/> into <paramref name="segments"/> in order, with one completion.</summary>
    void ReadScattered(long offset, IReadOnlyList<Memory<byte>> segments, Action<int> completion) =>
        EachSegment(offset, segments, completion, (at, segment, done) => Read(at, segment, done));

    /// <summary>Writes the bytes of <paramref name="segments"/> in order at consecutive offsets from <paramref name="offset"/>, with one completion.</summary>
    void WriteGathered(long offset, IReadOnlyList<Memory<byte>> segments, Action<int> completion) =>
        EachSegment(offset, segments, completion, (at, segment, done) => Write(at, segment, done));

    /// <summary>Makes every write completed before this call durable.</summary>
    void Flush(Action<int> completion);

    /// <summary>Tells the storage the guest no longer needs <paramref name="length"/> bytes at <paramref name="offset"/> (ATA TRIM);
    /// they may read back as zeroes or as before.</summary>
    void Discard(long offset, long length, Action<int> completion);

    // The fallback for backends without vectored requests: one request per segment, one completion at the end.
    private static void EachSegment(long offset, IReadOnlyList<Memory<byte>> segments, Action<int> completion,
        Action<long, Memory<byte>, Action<int>> issue)
    {
        int outstanding = segments.Count, worst = 0;
        if (outstanding == 0)
        {
            completion(0);
            return;
        }
        foreach (var segment in segments)
        {
            issue(offset, segment, result =>
            {
                worst = Math.Min(worst, result);
                if (--outstanding == 0)
                    completion(worst);
            });
            offset += segment.Length;
        }
    }
}
