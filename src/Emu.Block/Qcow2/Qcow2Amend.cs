using System.Buffers.Binary;

namespace Emu.Block.Qcow2;

/// <summary>What <c>qemu-img amend</c> may change in a qcow2 image; null leaves a setting as it is.</summary>
public sealed record Qcow2AmendOptions
{
    /// <summary>2 for compat=0.10, 3 for compat=1.1.</summary>
    public int? Version { get; init; }
    public int? RefcountBits { get; init; }
    public bool? LazyRefcounts { get; init; }
    /// <summary>New name of the external data file ("" drops the name); only for images that have one.</summary>
    public string? DataFile { get; init; }
    /// <summary>false clears data_file_raw; true is only accepted where it is already set.</summary>
    public bool? DataFileRaw { get; init; }
    /// <summary>New virtual size (grow or shrink, as <see cref="Qcow2Driver.Resize"/>).</summary>
    public long? Size { get; init; }
}

// amend: compat level, refcount width and lazy refcounts, in QEMU's order (upgrade first, downgrade last).
public sealed partial class Qcow2Driver
{
    public void Amend(Qcow2AmendOptions o)
    {
        lock (_lock)
        {
            CheckWritable();
            CheckDataFileAmend(o);
            if (o.Size is { } size && size != Header.Size)
                Resize(size);
            FlushInternal();
            int oldVersion = Header.Version;
            int newVersion = o.Version ?? oldVersion;
            bool lazy = o.LazyRefcounts ?? (Header.CompatibleFeatures & Qcow2Header.CompatLazyRefcounts) != 0;
            if (newVersion > oldVersion)
                Upgrade();
            if (o.RefcountBits is { } bits && bits != Header.RefcountBits)
            {
                if (newVersion < 3 && bits != 16)
                    throw new BlockException("Refcount widths other than 16 bits require compatibility level 1.1 or above (use compat=1.1 or greater)");
                ChangeRefcountOrder(System.Numerics.BitOperations.Log2((uint)bits));
            }
            if (lazy != ((Header.CompatibleFeatures & Qcow2Header.CompatLazyRefcounts) != 0))
            {
                if (lazy && newVersion < 3)
                    throw new BlockException("Lazy refcounts only supported with compatibility level 1.1 and above (use compat=1.1 or greater)");
                if (lazy)
                    Header.CompatibleFeatures |= Qcow2Header.CompatLazyRefcounts;
                else
                {
                    ClearDirtyBit();
                    Header.CompatibleFeatures &= ~Qcow2Header.CompatLazyRefcounts;
                }
                WriteHeader();
                _file.Flush();
            }
            AmendDataFile(o);
            if (newVersion < oldVersion)
                Downgrade();
        }
    }

    private const string HeaderFullMessage = "Failed to update the image header: No space left on device";

    // qemu-img's rules: the name of an existing data file may change, data_file_raw may only be cleared.
    private void CheckDataFileAmend(Qcow2AmendOptions o)
    {
        if (o.DataFile != null && (Header.IncompatibleFeatures & Qcow2Header.IncompatDataFile) == 0)
            throw new BlockException("data-file can only be set for images that use an external data file");
        if (o.DataFileRaw == true && (Header.AutoclearFeatures & Qcow2Header.AutoclearDataFileRaw) == 0)
            throw new BlockException("data-file-raw cannot be set on existing images");
        // Longer names than Emu reads back are refused with qemu-img's message for a header that does not fit.
        if (o.DataFile?.Length > Qcow2Header.MaxDataFileNameLength)
            throw new BlockException(HeaderFullMessage);
    }

    private void AmendDataFile(Qcow2AmendOptions o)
    {
        string? oldName = Header.DataFile;
        ulong oldAutoclear = Header.AutoclearFeatures;
        if (o.DataFile != null)
            Header.DataFile = o.DataFile.Length == 0 ? null : o.DataFile;
        if (o.DataFileRaw == false)
            Header.AutoclearFeatures &= ~Qcow2Header.AutoclearDataFileRaw;
        if (Header.DataFile == oldName && Header.AutoclearFeatures == oldAutoclear)
            return;
        try
        {
            Header.Serialize(); // a trial: the new name may not fit in the header cluster
        }
        catch (BlockException e)
        {
            Header.DataFile = oldName;
            Header.AutoclearFeatures = oldAutoclear;
            throw new BlockException(HeaderFullMessage, e);
        }
        WriteHeader();
        _file.Flush();
    }

    private void Upgrade()
    {
        Header.Version = 3;
        WriteHeader();
        _file.Flush();
        // v3 requires each snapshot's extra data (64-bit vm-state size, disk size); the table writer always adds it.
        if (_snapshots.Count > 0)
            WriteSnapshotTable();
    }

    /// <summary>Makes the image readable by v2 software, refusing when it uses what v2 cannot express.</summary>
    private void Downgrade()
    {
        if (Header.RefcountOrder != 4)
            throw new BlockException("compat=0.10 requires refcount_bits=16");
        if (Header.DataFile != null)
            throw new BlockException("Cannot downgrade an image with a data file");
        if (_bitmaps.Count > 0)
            throw new BlockException("Cannot downgrade an image with persistent bitmaps (compat=0.10 has none)");
        foreach (var s in _snapshots)
            if (s.VmStateSize > uint.MaxValue || s.DiskSize != Size)
                throw new BlockException("Internal snapshots prevent downgrade of image");
        ClearDirtyBit();
        ulong incompatible = Header.IncompatibleFeatures & ~Qcow2Header.IncompatCompression;
        if (incompatible != 0)
            throw new BlockException($"Cannot downgrade an image with incompatible features 0x{incompatible:x} set");
        if (Header.CompressionType != Qcow2Header.CompressionZlib)
        {
            if (HasCompressedClusters())
                throw new BlockException("Cannot downgrade an image with zstd compression type and existing compressed clusters");
            Header.CompressionType = Qcow2Header.CompressionZlib;
            Header.IncompatibleFeatures &= ~Qcow2Header.IncompatCompression;
        }
        ExpandZeroClusters();
        FlushInternal();
        Header.CompatibleFeatures = 0;
        Header.AutoclearFeatures = 0;
        Header.Version = 2;
        WriteHeader();
        _file.Flush();
    }

    private bool HasCompressedClusters()
    {
        foreach (ulong l1e in _l1)
        {
            if ((l1e & OffsetMask) == 0)
                continue;
            var l2 = GetL2Table(l1e);
            for (int i = 0; i < L2Entries; i++)
                if (Classify(ReadL2(l2, i)) == ClusterKind.Compressed)
                    return true;
        }
        return false;
    }

    /// <summary>Turns every zero cluster, of the active image and of each snapshot, into something v2 can express:
    /// nothing at all when there is no backing file to hide, else an allocated cluster of zeroes (as qemu-img does).</summary>
    /// <remarks>qemu-img 7.2 leaves images with zero clusters shared between snapshots failing its own check (COPIED on
    /// shared clusters) and with snapshots reading wrong, so only its outcome for unshared tables is followed here.</remarks>
    private void ExpandZeroClusters()
    {
        var zeroes = new byte[ClusterSize];
        var done = new HashSet<long>(); // L2 tables already expanded: snapshots share them
        ExpandZeroClustersIn(_l1, done, zeroes);
        foreach (var s in _snapshots)
            ExpandZeroClustersIn(ReadL1Table(s.L1TableOffset, s.L1Size), done, zeroes);
    }

    // Changes each L2 table in place, so every L1 table sharing it (as many as its refcount) sees the same result.
    private void ExpandZeroClustersIn(ulong[] l1, HashSet<long> done, byte[] zeroes)
    {
        foreach (ulong l1e in l1)
        {
            long l2Offset = (long)(l1e & OffsetMask);
            if (l2Offset == 0 || !done.Add(l2Offset))
                continue;
            var l2 = GetL2Table(l1e);
            ulong sharers = GetRefcount(l2Offset >> ClusterBits);
            if (sharers == 0)
                throw MarkCorrupt($"L2 table at 0x{l2Offset:x} has refcount 0");
            ulong copied = sharers == 1 ? Copied : 0;
            for (int j = 0; j < L2Entries; j++)
            {
                ulong e = ReadL2(l2, j);
                if (Classify(e) != ClusterKind.Zero)
                    continue;
                long host = (long)(e & OffsetMask);
                if ((host & ClusterMask) != 0)
                    throw MarkCorrupt($"Zero cluster entry 0x{e:x} has an unaligned offset");
                if (host == 0 && Header.BackingFile == null) // (amend opens without the backing chain)
                {
                    WriteL2(l2, j, 0);
                    continue;
                }
                // A preallocated zero cluster that no other table refers to is zeroed where it is; any other
                // (unallocated, or also mapped elsewhere, perhaps as data) gets a fresh zeroed cluster.
                if (host != 0 && GetRefcount(host >> ClusterBits) == sharers)
                {
                    CheckDataWrite(host, ClusterSize);
                    _file.Write(host, zeroes);
                    WriteL2(l2, j, (ulong)host | copied);
                    continue;
                }
                long fresh = AllocateClusters(1);
                if (sharers > 1)
                    UpdateRefcount(fresh >> ClusterBits, (long)sharers - 1);
                _file.Write(fresh, zeroes);
                WriteL2(l2, j, (ulong)fresh | copied);
                for (ulong k = 0; host != 0 && k < sharers; k++)
                    DeferFree(host, 1);
            }
        }
    }

    /// <summary>Rewrites every refcount with a new width: new blocks and table go to the end of the file, the old ones are freed.</summary>
    private void ChangeRefcountOrder(int newOrder)
    {
        int newBits = 1 << newOrder;
        ulong newMax = newBits == 64 ? ulong.MaxValue : (1UL << newBits) - 1;
        long fileClusters = (_file.Length + ClusterMask) >> ClusterBits;
        var oldBlocks = _refTable.Where(e => (e & OffsetMask) != 0).Select(e => (long)(e & OffsetMask)).ToList();
        long oldTable = Header.RefcountTableOffset;
        int oldTableClusters = Header.RefcountTableClusters;

        long perBlock = (long)ClusterSize * 8 / newBits;
        long perTableCluster = ClusterSize / 8;
        var (blocks, table) = Qcow2RefcountSizing.Cover(fileClusters, perBlock, perTableCluster);
        long total = fileClusters + blocks + table;
        if (table * ClusterSize > Qcow2Header.MaxRefcountTableBytes)
            throw new BlockException("Reference count table too large");

        var counts = new ulong[total];
        for (long c = 0; c < fileClusters; c++)
            counts[c] = GetRefcount(c);
        foreach (long b in oldBlocks)
            counts[b >> ClusterBits]--;
        for (int i = 0; i < oldTableClusters; i++)
            counts[(oldTable >> ClusterBits) + i]--;
        for (long c = fileClusters; c < total; c++)
            counts[c] = 1;
        for (long c = 0; c < total; c++)
            if (counts[c] > newMax)
                throw new BlockException($"Cannot decrease refcount entry width to {newBits} bits: Cluster at offset 0x{c << ClusterBits:x} has a refcount of {counts[c]}");

        var block = new byte[ClusterSize];
        var tableRaw = new byte[table * ClusterSize];
        for (long b = 0; b < blocks; b++)
        {
            Array.Clear(block);
            for (long c = b * perBlock; c < Math.Min(total, (b + 1) * perBlock); c++)
                WriteRefEntry(block, (int)(c - b * perBlock), newOrder, counts[c]);
            long offset = (fileClusters + b) << ClusterBits;
            _file.Write(offset, block);
            BinaryPrimitives.WriteUInt64BigEndian(tableRaw.AsSpan((int)(b * 8)), (ulong)offset);
        }
        long tableOffset = (fileClusters + blocks) << ClusterBits;
        _file.Write(tableOffset, tableRaw);
        _file.Flush();
        Header.RefcountOrder = newOrder;
        Header.RefcountTableOffset = tableOffset;
        Header.RefcountTableClusters = (int)table;
        WriteHeader();
        _file.Flush();
        InitRefcounts(_refCacheBlocks);
        _refBlockOffsets = null;
        _freeClusterIndex = 0;
        _freeByteOffset = 0;
    }
}
