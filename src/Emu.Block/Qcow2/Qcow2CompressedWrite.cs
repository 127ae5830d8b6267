namespace Emu.Block.Qcow2;

// Compressed cluster writes (convert -c, io write -c).
public sealed partial class Qcow2Driver
{
    /// <summary>Writes whole clusters compressed; a cluster that does not shrink is stored normally, as QEMU does.</summary>
    public override void WriteCompressed(long offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        if ((offset & ClusterMask) != 0 || ((data.Length & ClusterMask) != 0 && offset + data.Length != Size))
            throw new BlockException("Compressed writes must be cluster aligned (whole clusters, or up to the end of the image)");
        if (_crypto != null)
            throw new BlockException("Compression is not supported for encrypted images");
        RefuseWithDataFile("Compressed writes");
        lock (_lock)
        {
            CheckWritable();
            MarkDirtyIfLazy();
            var cluster = new byte[ClusterSize];
            var packed = new byte[ClusterSize];
            while (data.Length > 0)
            {
                int n = Math.Min(data.Length, ClusterSize);
                Array.Clear(cluster);
                data[..n].CopyTo(cluster);
                int size = Header.CompressionType == Qcow2Header.CompressionZstd
                    ? Qcow2Zstd.Compress(cluster, packed)
                    : Qcow2Compression.Deflate(cluster, packed);
                if (size < 0)
                {
                    WriteInternal(offset, data[..n]);
                }
                else
                {
                    var l2 = GetL2TableForWrite(offset);
                    int index = L2Index(offset);
                    ulong old = ReadL2(l2, index);
                    long host = AllocateBytes(size);
                    CheckDataWrite(host, size);
                    _file.Write(host, packed.AsSpan(0, size));
                    WriteL2(l2, index, CompressedEntry(host, size));
                    WriteL2Bitmap(l2, index, 0);
                    ReleaseOldEntry(old);
                }
                data = data[n..];
                offset += n;
            }
        }
    }
}
