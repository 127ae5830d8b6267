namespace Emu.Block;

/// <summary>What a range of the virtual disk is backed by, as <c>qemu-img map</c> reports it.</summary>
[Flags]
public enum BlockStatusFlags
{
    None = 0,
    /// <summary>The range holds data (reads may return non-zero bytes).</summary>
    Data = 1,
    /// <summary>The range reads as zeroes.</summary>
    Zero = 2,
    /// <summary>The range is allocated in the image at <see cref="BlockStatus.Depth"/> of the chain (qemu-img map's "present").</summary>
    Allocated = 4,
    /// <summary>The data lives at <see cref="BlockStatus.HostOffset"/> in the image file, uncompressed.</summary>
    OffsetValid = 8,
    /// <summary>The range is stored compressed.</summary>
    Compressed = 16,
}

/// <summary>Status of a run of bytes starting at a virtual offset.</summary>
/// <param name="Length">Bytes from the queried offset with the same status.</param>
/// <param name="Flags">What the run is.</param>
/// <param name="HostOffset">Offset in the image file when <see cref="BlockStatusFlags.OffsetValid"/>.</param>
/// <param name="Depth">0 when allocated in this image, 1 in its backing file, and so on.</param>
public readonly record struct BlockStatus(long Length, BlockStatusFlags Flags, long HostOffset, int Depth);
