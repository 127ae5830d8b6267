namespace Emu.Block;

/// <summary>Kinds of device-issued block requests.</summary>
public enum BlockOp { Read, Write, Flush, Discard, WriteZeroes }

/// <summary>One device request: byte offset, length, and the buffer (or scatter list) data moves through.</summary>
/// <remarks>For reads the buffer is filled; for writes it is the data. A device with a scatter list over guest
/// RAM (a DMA descriptor table) passes it as <see cref="Segments"/>: the bytes at consecutive offsets move through
/// the segments in order, in one request with one completion.</remarks>
public sealed class BlockRequest
{
    public BlockOp Op { get; init; }
    public long Offset { get; init; }
    public long Length { get; init; }
    public Memory<byte> Buffer { get; init; }
    /// <summary>The scatter list of a vectored request (then <see cref="Buffer"/> is unused), else null.</summary>
    public IReadOnlyList<Memory<byte>>? Segments { get; init; }
    /// <summary>Free for the submitter (for example the ATA command the request belongs to).</summary>
    public object? Tag { get; init; }

    public static BlockRequest Read(long offset, Memory<byte> buffer) => new() { Op = BlockOp.Read, Offset = offset, Length = buffer.Length, Buffer = buffer };
    public static BlockRequest Write(long offset, Memory<byte> data) => new() { Op = BlockOp.Write, Offset = offset, Length = data.Length, Buffer = data };
    public static BlockRequest ReadV(long offset, IReadOnlyList<Memory<byte>> segments) => new() { Op = BlockOp.Read, Offset = offset, Length = ScatterList.Length(segments), Segments = segments };
    public static BlockRequest WriteV(long offset, IReadOnlyList<Memory<byte>> segments) => new() { Op = BlockOp.Write, Offset = offset, Length = ScatterList.Length(segments), Segments = segments };
    public static BlockRequest FlushAll() => new() { Op = BlockOp.Flush };
    public static BlockRequest Discard(long offset, long length) => new() { Op = BlockOp.Discard, Offset = offset, Length = length };
}

/// <summary>Handle of a submitted request; <see cref="Cancel"/> stops its completion from being delivered if it has not run yet.</summary>
public sealed class BlockRequestHandle
{
    private int _state; // 0 pending, 1 completed, 2 cancelled

    /// <summary>True when the request was cancelled before its completion was delivered.</summary>
    public bool Cancelled => Volatile.Read(ref _state) == 2;

    /// <summary>Cancels delivery; returns false when the completion already ran.</summary>
    public bool Cancel() => Interlocked.CompareExchange(ref _state, 2, 0) == 0 || Cancelled;

    internal bool TryComplete() => Interlocked.CompareExchange(ref _state, 1, 0) == 0;
}
