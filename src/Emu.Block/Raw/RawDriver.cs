namespace Emu.Block.Raw;

/// <summary>The raw format: the virtual disk is the file itself.</summary>
public sealed class RawDriver : BlockDriver
{
    private readonly HostFile _file;

    public RawDriver(HostFile file)
    {
        _file = file;
    }

    public override string Format => "raw";
    public override string FileName => _file.Path;
    public override long Size => _file.Length;
    public override bool ReadOnly => _file.ReadOnly;
    public override long AllocatedFileBytes => _file.AllocatedBytes;

    public override void Read(long offset, Span<byte> buffer)
    {
        CheckRange(offset, buffer.Length);
        _file.Read(offset, buffer);
    }

    public override void Write(long offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        _file.Write(offset, data);
    }

    public override void ReadVectored(long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        CheckRange(offset, ScatterList.Length(buffers));
        _file.ReadVectored(offset, buffers);
    }

    public override void WriteVectored(long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        CheckRange(offset, ScatterList.Length(buffers));
        _file.WriteVectored(offset, buffers);
    }

    /// <summary>Punches the range out of the file where the host supports it, so it reads as zeroes and frees host space.</summary>
    public override void Discard(long offset, long length)
    {
        CheckRange(offset, length);
        if (ReadOnly)
            throw new BlockException($"'{FileName}' is opened read-only");
        _file.PunchHole(offset, length);
    }

    public override void Flush() => _file.Flush();

    /// <summary>Changes the disk's size: the file grows sparse or is cut.</summary>
    public override void Resize(long size)
    {
        if (ReadOnly)
            throw new BlockException($"'{FileName}' is opened read-only");
        _file.SetLength(size);
    }

    public override BlockStatus GetStatus(long offset, long length)
    {
        CheckRange(offset, length);
        var flags = BlockStatusFlags.Data | BlockStatusFlags.Allocated | BlockStatusFlags.OffsetValid;
        long hole = _file.HoleLength(offset, length);
        // A hole stores nothing: it reads as zeroes but holds no data (qemu-img map's "data": false).
        if (hole > 0)
            return new BlockStatus(hole, (flags & ~BlockStatusFlags.Data) | BlockStatusFlags.Zero, offset, 0);
        return new BlockStatus(_file.DataLength(offset, length), flags, offset, 0);
    }

    /// <summary>Creates a raw image of the given size, its space reserved or written as the mode asks.</summary>
    public static void Create(string path, long size, Preallocation mode = Preallocation.Off)
    {
        using var f = HostFile.Create(path);
        PreallocationModes.Extend(f, size, mode);
        // QEMU writes the first block so that later opens can probe the alignment; the file looks the same.
        if (mode != Preallocation.Full && size > 0)
            f.Write(0, new byte[Math.Min(size, 4096)]);
    }

    public override void Dispose() => _file.Dispose();
}
