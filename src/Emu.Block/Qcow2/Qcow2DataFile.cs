namespace Emu.Block.Qcow2;

// External data files (incompatible bit 2, header extension "DATA"): guest clusters live in a separate
// file at their guest offset, outside the refcounts. With data_file_raw the data file alone is a valid
// raw image, so every cluster stays mapped and zeroing writes real zeroes there.
public sealed partial class Qcow2Driver
{
    /// <summary>True when the image keeps its data in an external raw-consistent data file (data_file_raw).</summary>
    public bool DataFileRaw => _dataFile != null && (Header.AutoclearFeatures & Qcow2Header.AutoclearDataFileRaw) != 0;

    /// <summary>Opens the external data file an image names, or null when it has none.</summary>
    /// <remarks>Like qemu-img 7.2, a relative name is relative to the current directory, not to the image.</remarks>
    private static HostFile? OpenDataFile(string path, Qcow2Header header, ImageOptions options)
    {
        if ((header.IncompatibleFeatures & Qcow2Header.IncompatDataFile) == 0)
        {
            if ((header.AutoclearFeatures & Qcow2Header.AutoclearDataFileRaw) != 0)
                throw new BlockException("data-file-raw requires a data file");
            return null;
        }
        if (string.IsNullOrEmpty(header.DataFile))
            throw new BlockException("'data-file' is required for this image");
        string full = Path.GetFullPath(header.DataFile);
        if (full == Path.GetFullPath(path))
            throw new BlockException($"'{path}' names itself as its data file");
        try
        {
            return HostFile.Open(full, options.ReadOnly, options.Cache, options.LockFor(qcow2: false));
        }
        catch (BlockException e)
        {
            throw new BlockException($"Could not open data file: {e.Message}", e);
        }
    }

    /// <summary>Host offset for count fresh data clusters starting at guest offset guestStart.</summary>
    private long AllocateDataClusters(long guestStart, int count)
    {
        if (_dataFile != null)
            return guestStart;
        long host = AllocateClusters(count);
        CheckDataWrite(host, (long)count << ClusterBits);
        return host;
    }

    /// <summary>An L2 entry stopped using a data-file cluster: nothing is refcounted, a discard gives the space back.</summary>
    private void ReleaseDataFileCluster(ulong old, bool discard)
    {
        var kind = Classify(old);
        if (discard && (kind == ClusterKind.Normal || (kind == ClusterKind.Zero && (old & Copied) != 0)))
            ZeroDataFile((long)(old & OffsetMask), ClusterSize);
    }

    /// <summary>Zeroes one cluster of a raw data file in place, keeping it mapped at its guest offset.</summary>
    private void ZeroRawDataCluster(long offset, long length)
    {
        var l2 = GetL2TableForWrite(offset);
        WriteL2(l2, L2Index(offset), (ulong)(offset & ~ClusterMask) | Copied);
        ZeroDataFile(offset, length);
    }

    /// <summary>Makes a data-file range read as zeroes, punching it out where the host can.</summary>
    private void ZeroDataFile(long host, long length)
    {
        DrainDataIo();
        if (!_data.PunchHole(host, length))
            _data.Write(host, new byte[length]);
    }

    /// <summary>Maps every guest cluster to the same offset of the data file (what data_file_raw images start with).</summary>
    internal void MapWholeDataFile()
    {
        lock (_lock)
        {
            CheckWritable();
            if (_dataFile == null)
                throw new BlockException("The image has no external data file");
            MapDataFileRange(0, Size);
            FlushInternal();
        }
    }

    /// <summary>Maps the guest clusters from <paramref name="start"/> (cluster aligned) to <paramref name="end"/> onto the same data-file offsets.</summary>
    /// <remarks>As with qemu-img, the data file then covers every mapped cluster, a partial last one included.</remarks>
    private void MapDataFileRange(long start, long end)
    {
        long alignedEnd = (end + ClusterMask) & ~ClusterMask;
        if (_dataFile!.Length < alignedEnd)
            _dataFile.SetLength(alignedEnd);
        for (long pos = start; pos < end; pos += ClusterSize)
            WriteL2(GetL2TableForWrite(pos), L2Index(pos), (ulong)pos | Copied);
        FlushInternal();
    }

    /// <summary>Makes the external data file exactly as long as the virtual disk, as qemu-img resize does.</summary>
    private void ResizeDataFile(long newSize)
    {
        if (_dataFile == null)
            return;
        DrainDataIo();
        _dataFile.SetLength(newSize);
        _dataFile.Flush();
    }

    private void RefuseWithDataFile(string what)
    {
        if (_dataFile != null)
            throw new BlockException($"{what} are not supported with an external data file");
    }
}
