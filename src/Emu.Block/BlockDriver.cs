using System.Buffers;

namespace Emu.Block;

/// <summary>An image format driver: byte-addressed synchronous I/O on one image (and its backing chain).</summary>
/// <remarks>Drivers are thread-safe; <see cref="BlockDevice"/> adds the async and callback APIs on top.</remarks>
public abstract class BlockDriver : IDisposable
{
    /// <summary>Format name as qemu-img spells it ("qcow2", "raw").</summary>
    public abstract string Format { get; }

    /// <summary>Path of the image file.</summary>
    public abstract string FileName { get; }

    /// <summary>Virtual disk size in bytes.</summary>
    public abstract long Size { get; }

    public abstract bool ReadOnly { get; }

    /// <summary>Cluster size for formats that have one, else 0.</summary>
    public virtual int ClusterSize => 0;

    /// <summary>The backing image, if any.</summary>
    public virtual BlockDriver? Backing => null;

    public abstract void Read(long offset, Span<byte> buffer);

    public abstract void Write(long offset, ReadOnlySpan<byte> data);

    /// <summary>Reads the disk bytes from <paramref name="offset"/> into the buffers in order (a DMA scatter list).</summary>
    /// <remarks>This default reads the whole range once into a pooled bounce buffer; drivers whose data sits in
    /// host file extents read straight into the buffers.</remarks>
    public virtual void ReadVectored(long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        if (buffers.Count == 1)
        {
            Read(offset, buffers[0].Span);
            return;
        }
        int length = checked((int)ScatterList.Length(buffers));
        byte[] bounce = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Read(offset, bounce.AsSpan(0, length));
            ScatterList.Scatter(bounce.AsSpan(0, length), buffers);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bounce);
        }
    }

    /// <summary>Writes the buffers' bytes, in order, to the disk from <paramref name="offset"/> (a DMA gather list).</summary>
    /// <remarks>This default gathers the buffers into one pooled bounce buffer and writes it in one call.</remarks>
    public virtual void WriteVectored(long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        if (buffers.Count == 1)
        {
            Write(offset, buffers[0].Span);
            return;
        }
        int length = checked((int)ScatterList.Length(buffers));
        byte[] bounce = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            ScatterList.Gather(buffers, bounce.AsSpan(0, length));
            Write(offset, bounce.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bounce);
        }
    }

    /// <summary>Makes the range read as zeroes.</summary>
    public virtual void WriteZeroes(long offset, long length)
    {
        CheckRange(offset, length);
        var zero = new byte[(int)Math.Min(length, 1 << 20)];
        while (length > 0)
        {
            int n = (int)Math.Min(length, zero.Length);
            Write(offset, zero.AsSpan(0, n));
            offset += n;
            length -= n;
        }
    }

    /// <summary>Writes data compressed; only whole clusters can be written so.</summary>
    public virtual void WriteCompressed(long offset, ReadOnlySpan<byte> data) =>
        throw new BlockException($"Compressed writes are not supported by the {Format} format");

    /// <summary>Changes the virtual disk size (grow or shrink).</summary>
    public abstract void Resize(long size);

    /// <summary>Hints that the range is no longer needed; it then reads as zeroes or backing data.</summary>
    public abstract void Discard(long offset, long length);

    /// <summary>Barrier: everything written before is durable after.</summary>
    public abstract void Flush();

    /// <summary>Status of the run starting at offset, at most length bytes long.</summary>
    public abstract BlockStatus GetStatus(long offset, long length);

    /// <summary>Bytes the image file occupies on the host.</summary>
    public abstract long AllocatedFileBytes { get; }

    /// <summary>Throws when [offset, offset+length) is not inside the virtual disk.</summary>
    protected void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > Size || length > Size - offset)
            throw new BlockException($"Request out of range: offset {offset}, length {length}, image size {Size}");
    }

    public abstract void Dispose();
}
