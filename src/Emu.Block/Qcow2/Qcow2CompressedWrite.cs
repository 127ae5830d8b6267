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
        MarkBitmapsDirty(offset, data.Length);
        // Compressing is the costly part: it runs per cluster in parallel, outside the metadata lock; the clusters
        // are then stored in order, so the layout does not depend on thread timing.
        int count = (data.Length + ClusterSize - 1) / ClusterSize;
        var packed = new byte[count][];
        var sizes = new int[count];
        if (count == 1)
            sizes[0] = CompressCluster(data, packed[0] = new byte[ClusterSize]);
        else
        {
            var source = data.ToArray();
            Parallel.For(0, count, i =>
            {
                int start = i * ClusterSize;
                var part = source.AsSpan(start, Math.Min(ClusterSize, source.Length - start));
                sizes[i] = CompressCluster(part, packed[i] = new byte[ClusterSize]);
            });
        }
        lock (_lock)
        {
            CheckWritable();
            MarkDirtyIfLazy();
            for (int i = 0; i < count; i++)
            {
                int n = Math.Min(data.Length, ClusterSize);
                int size = sizes[i];
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
                    _file.Write(host, packed[i].AsSpan(0, size));
                    WriteL2(l2, index, CompressedEntry(host, size));
                    WriteL2Bitmap(l2, index, 0);
                    ReleaseOldEntry(old);
                }
                data = data[n..];
                offset += n;
            }
        }
    }

    /// <summary>Compresses one cluster (zero-padded when short) into <paramref name="packed"/>; -1 when it does not shrink.</summary>
    private int CompressCluster(ReadOnlySpan<byte> data, byte[] packed)
    {
        var cluster = new byte[ClusterSize];
        data.CopyTo(cluster);
        return Header.CompressionType == Qcow2Header.CompressionZstd
            ? Qcow2Zstd.Compress(cluster, packed)
            : Qcow2Compression.Deflate(cluster, packed);
    }
}
