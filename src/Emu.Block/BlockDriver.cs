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
