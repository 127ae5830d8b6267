namespace Emu.Block.Qcow2;

// Metadata write-back and its ordering, overlap checks, the header, and the dirty and corrupt bits.
public sealed partial class Qcow2Driver
{
    private HashSet<long>? _refBlockOffsets;

    /// <summary>True when [offset, offset+length) overlaps the header, L1 table, refcount table or blocks, or snapshot metadata.</summary>
    internal bool OverlapsMetadata(long offset, long length)
    {
        static bool Overlap(long a, long alen, long b, long blen) => alen > 0 && blen > 0 && a < b + blen && b < a + alen;
        if (Overlap(offset, length, 0, ClusterSize))
            return true;
        if (Overlap(offset, length, Header.L1TableOffset, (long)_l1.Length * 8))
            return true;
        if (Overlap(offset, length, Header.RefcountTableOffset, (long)Header.RefcountTableClusters << ClusterBits))
            return true;
        if (Overlap(offset, length, Header.SnapshotsOffset, _snapshotTableBytes))
            return true;
        foreach (var s in _snapshots)
            if (Overlap(offset, length, s.L1TableOffset, (long)s.L1Size * 8))
                return true;
        _refBlockOffsets ??= BuildRefBlockSet();
        for (long c = offset & ~ClusterMask; c < offset + length; c += ClusterSize)
            if (_refBlockOffsets.Contains(c))
                return true;
        return false;
    }

    private HashSet<long> BuildRefBlockSet()
    {
        var set = new HashSet<long>();
        foreach (ulong e in _refTable)
            if ((e & OffsetMask) != 0)
                set.Add((long)(e & OffsetMask));
        return set;
    }

    private void CheckDataClusterForWrite(long host)
    {
        CheckDataCluster(host);
        CheckDataWrite(host, ClusterSize);
    }

    private void WriteBackL2(Qcow2Cache.Entry e)
    {
        // Refcounts (and the data they cover) before the L2 entries that use them; with lazy
        // refcounts the dirty bit stands in for the refcounts (a crash is repaired on open).
        if (!_lazyRefcounts)
            WriteDirtyRefblocks();
        _dataFile?.Flush();
        _file.Flush();
        WriteMetadata(e.Offset, e.Data, Qcow2Overlap.ActiveL2);
    }

    private void WriteDirtyRefblocks()
    {
        foreach (var e in _refCache.DirtyEntries())
        {
            WriteMetadata(e.Offset, e.Data, Qcow2Overlap.RefcountBlock);
            e.Dirty = false;
        }
    }

    /// <summary>Writes all cached metadata in crash-safe order: refcounts, then L2 tables, then L1, then deferred frees.</summary>
    internal void FlushInternal()
    {
        WriteDirtyRefblocks();
        _dataFile?.Flush();
        _file.Flush();
        bool wroteL2 = false;
        foreach (var e in _l2Cache.DirtyEntries())
        {
            WriteMetadata(e.Offset, e.Data, Qcow2Overlap.ActiveL2);
            e.Dirty = false;
            wroteL2 = true;
        }
        if (L1Dirty)
        {
            if (wroteL2)
                _file.Flush();
            WriteDirtyL1();
            _file.Flush();
        }
        else if (wroteL2)
        {
            _file.Flush();
        }
        if (_pendingFrees.Count > 0)
        {
            ApplyPendingFrees();
            WriteDirtyRefblocks();
            _file.Flush();
        }
    }

    internal void WriteHeader()
    {
        WriteMetadata(0, Header.Serialize(), Qcow2Overlap.MainHeader);
    }

    private void MarkDirtyIfLazy()
    {
        if (!_lazyRefcounts || (Header.IncompatibleFeatures & Qcow2Header.IncompatDirty) != 0)
            return;
        Header.IncompatibleFeatures |= Qcow2Header.IncompatDirty;
        WriteHeader();
        _file.Flush();
    }

    private void ClearDirtyBit()
    {
        if ((Header.IncompatibleFeatures & Qcow2Header.IncompatDirty) == 0)
            return;
        _file.Flush();
        Header.IncompatibleFeatures &= ~Qcow2Header.IncompatDirty;
        WriteHeader();
        _file.Flush();
    }

    /// <summary>Marks the image corrupt (v3) so it is not opened read/write again, and returns the error to throw.</summary>
    internal CorruptImageException MarkCorrupt(string message)
    {
        string text = $"qcow2: Marking image as corrupt: {message}; further corruption events will be suppressed";
        if (!_readOnly && Header.Version >= 3 && (Header.IncompatibleFeatures & Qcow2Header.IncompatCorrupt) == 0)
        {
            try
            {
                Header.IncompatibleFeatures |= Qcow2Header.IncompatCorrupt;
                WriteHeader();
                _file.Flush();
            }
            catch (IOException)
            {
                // The image is already failing; the error below says what went wrong first.
            }
        }
        else if (_readOnly)
        {
            text = $"qcow2: Image is corrupt: {message}";
        }
        _readOnly = true;
        return new CorruptImageException(text);
    }

    private void RepairAfterUncleanShutdown()
    {
        lock (_lock)
        {
            Check(CheckRepair.All);
            ClearDirtyBit();
        }
    }
}
