namespace Emu.Block.Qcow2;

/// <summary>What <c>check -r</c> may repair.</summary>
public enum CheckRepair { None, Leaks, All }

/// <summary>The outcome of a consistency check, with the counts qemu-img reports.</summary>
public sealed class CheckResult
{
    /// <summary>Report lines in the order found (errors, leaks, repairs).</summary>
    public List<string> Messages { get; } = [];
    public long Corruptions;
    public long Leaks;
    public long CheckErrors;
    public long CorruptionsFixed;
    public long LeaksFixed;
    public long TotalClusters;
    public long AllocatedClusters;
    public long FragmentedClusters;
    public long CompressedClusters;
    public long ImageEndOffset;
}

// Consistency check: recompute every refcount from the metadata, compare, and optionally repair.
public sealed partial class Qcow2Driver
{
    /// <summary>Recomputes all refcounts and compares them with the stored ones, repairing as asked.</summary>
    public CheckResult Check(CheckRepair repair = CheckRepair.None)
    {
        lock (_lock)
        {
            CheckOpen();
            if (repair != CheckRepair.None)
                CheckWritable();
            else if (!_readOnly)
                FlushInternal();
            if (repair != CheckRepair.None)
                FlushInternal();
            var result = RunCheck(repair);
            if (repair != CheckRepair.None && (result.LeaksFixed > 0 || result.CorruptionsFixed > 0))
            {
                FlushInternal();
                var again = RunCheck(CheckRepair.None);
                again.Messages.InsertRange(0, result.Messages);
                again.LeaksFixed = result.LeaksFixed;
                again.CorruptionsFixed = result.CorruptionsFixed;
                return again;
            }
            return result;
        }
    }

    private CheckResult RunCheck(CheckRepair repair)
    {
        var r = new CheckResult();
        long fileLength = _file.Length;
        long nbClusters = (fileLength + ClusterMask) >> ClusterBits;
        var computed = new uint[nbClusters];

        void Inc(long offset, long length, string what)
        {
            if (length <= 0)
                return;
            long first = offset >> ClusterBits;
            long last = (offset + length - 1) >> ClusterBits;
            for (long c = first; c <= last; c++)
            {
                if (c >= nbClusters)
                {
                    r.Messages.Add($"ERROR: {what} at offset 0x{offset:x} lies beyond the end of the image file");
                    r.Corruptions++;
                    return;
                }
                if (computed[c] < uint.MaxValue)
                    computed[c]++;
            }
        }

        Inc(0, ClusterSize, "header");
        Inc(Header.CryptoHeaderOffset, Header.CryptoHeaderLength, "crypto header");
        Inc(Header.L1TableOffset, (long)_l1.Length * 8, "L1 table");
        CheckL1(_l1, true, r, Inc);
        foreach (var s in _snapshots)
        {
            Inc(s.L1TableOffset, (long)s.L1Size * 8, $"L1 table of snapshot {s.Id}");
            CheckL1(ReadL1Table(s.L1TableOffset, s.L1Size), false, r, Inc);
        }
        Inc(Header.SnapshotsOffset, _snapshotTableBytes, "snapshot table");
        CheckBitmaps(r, Inc);
        Inc(Header.RefcountTableOffset, (long)Header.RefcountTableClusters << ClusterBits, "refcount table");
        for (int i = 0; i < _refTable.Length; i++)
        {
            long off = (long)(_refTable[i] & OffsetMask);
            if (off == 0)
                continue;
            if ((off & ClusterMask) != 0)
            {
                r.Messages.Add($"ERROR refcount block {i} is not cluster aligned; refcount table entry corrupted");
                r.Corruptions++;
                continue;
            }
            if (off >> ClusterBits >= nbClusters)
            {
                r.Messages.Add($"ERROR refcount block {i} is outside image");
                r.Corruptions++;
                continue;
            }
            Inc(off, ClusterSize, "refcount block");
        }

        // Compare stored and computed refcounts over every cluster either knows about.
        long highest = -1;
        long storedLimit = Math.Min((long)_refTable.Length << _refBlockBits, nbClusters);
        for (long c = 0; c < nbClusters; c++)
        {
            ulong stored = c < storedLimit ? SafeGetRefcount(c, r) : 0;
            ulong want = computed[c];
            if (stored > 0 || want > 0)
                highest = c;
            if (stored == want)
                continue;
            bool leak = stored > want;
            bool fix = repair == CheckRepair.All || (repair == CheckRepair.Leaks && leak);
            string prefix = fix ? "Repairing" : leak ? "Leaked" : "ERROR";
            r.Messages.Add($"{prefix} cluster {c} refcount={stored} reference={want}");
            if (leak)
                r.Leaks++;
            else
                r.Corruptions++;
            if (!fix)
                continue;
            if (TrySetRefcount(c, want))
            {
                if (leak)
                    r.LeaksFixed++;
                else
                    r.CorruptionsFixed++;
            }
        }
        if (repair == CheckRepair.All)
        {
            RecomputeCopiedFlags();
            FlushInternal();
        }
        else
        {
            CheckCopiedFlags(r);
        }
        r.ImageEndOffset = (highest + 1) << ClusterBits;
        r.TotalClusters = (Header.Size + ClusterMask) >> ClusterBits;
        return r;
    }

    private ulong SafeGetRefcount(long cluster, CheckResult r)
    {
        try
        {
            return GetRefcount(cluster);
        }
        catch (CorruptImageException e)
        {
            r.CheckErrors++;
            r.Messages.Add($"ERROR: {e.Message}");
            return 0;
        }
    }

    private bool TrySetRefcount(long cluster, ulong value)
    {
        var block = GetRefBlock(cluster);
        if (block == null)
        {
            if (value == 0)
                return true;
            return false;
        }
        if (value > _refMax)
            value = _refMax;
        WriteRefEntry(block.Data, (int)(cluster & ((1L << _refBlockBits) - 1)), Header.RefcountOrder, value);
        block.Dirty = true;
        if (value == 0 && cluster < _freeClusterIndex)
            _freeClusterIndex = cluster;
        return true;
    }

    private void CheckL1(ulong[] l1, bool active, CheckResult r, Action<long, long, string> inc)
    {
        for (int i = 0; i < l1.Length; i++)
        {
            long nextContiguous = 0;
            long l2Offset = (long)(l1[i] & OffsetMask);
            if (l2Offset == 0)
                continue;
            if ((l2Offset & ClusterMask) != 0)
            {
                r.Messages.Add($"ERROR l2_offset={l2Offset:x}: Table is not cluster aligned; L1 entry corrupted");
                r.Corruptions++;
                continue;
            }
            if (l2Offset + ClusterSize > _file.Length)
            {
                r.Messages.Add($"ERROR l2_offset={l2Offset:x}: L2 table lies beyond the end of the image file");
                r.Corruptions++;
                continue;
            }
            inc(l2Offset, ClusterSize, "L2 table");
            var table = new byte[ClusterSize];
            _file.Read(l2Offset, table);
            if (_l2Cache.TryGet(l2Offset, out var cached))
                cached.Data.CopyTo(table, 0);
            for (int j = 0; j < L2Entries; j++)
            {
                ulong e = ReadL2(table, j);
                ulong bitmap = ReadL2Bitmap(table, j);
                var kind = Classify(e);
                if (ExtendedL2 && !CheckBitmap(e, bitmap, j, r))
                    continue;
                long guest = ((long)i << (ClusterBits + L2Bits)) + ((long)j << ClusterBits);
                bool inDisk = guest < Header.Size;
                switch (kind)
                {
                    case ClusterKind.Compressed:
                        var (off, len) = CompressedRange(e);
                        if (active && inDisk)
                        {
                            // Compressed clusters count as fragmented by nature, as QEMU counts them.
                            r.AllocatedClusters++;
                            r.CompressedClusters++;
                            r.FragmentedClusters++;
                        }
                        inc(off & ~511L, len + (off & 511), "compressed cluster");
                        break;
                    case ClusterKind.Zero:
                    case ClusterKind.Normal:
                        long host = (long)(e & OffsetMask);
                        if (host == 0)
                            break;
                        if ((host & ClusterMask) != 0)
                        {
                            r.Messages.Add($"ERROR offset={host:x}: Cluster is not properly aligned; L2 entry corrupted.");
                            r.Corruptions++;
                            break;
                        }
                        if (active && inDisk)
                        {
                            r.AllocatedClusters++;
                            if (nextContiguous != 0 && host != nextContiguous)
                                r.FragmentedClusters++;
                            nextContiguous = host + ClusterSize;
                        }
                        // Clusters of an external data file are not refcounted.
                        if (_dataFile == null)
                            inc(host, ClusterSize, "data cluster");
                        break;
                }
            }
        }
    }

    /// <summary>Reports an extended L2 entry whose bitmap contradicts its descriptor, as QEMU's check does;
    /// false when the entry's clusters must not be counted (a compressed cluster with a bitmap).</summary>
    private bool CheckBitmap(ulong entry, ulong bitmap, int index, CheckResult r)
    {
        switch (Classify(entry))
        {
            case ClusterKind.Compressed when bitmap != 0:
                r.Messages.Add($"ERROR compressed cluster {index} with non-zero subcluster allocation bitmap, entry=0x{entry:x}");
                r.Corruptions++;
                return false;
            case ClusterKind.Normal when ((bitmap >> 32) & bitmap) != 0:
                r.Messages.Add($"ERROR offset={entry & OffsetMask:x}: Allocated cluster has corrupted subcluster allocation bitmap");
                r.Corruptions++;
                break;
            case ClusterKind.Unallocated when (bitmap & AllAllocatedBits) != 0:
                r.Messages.Add("ERROR: Unallocated cluster has non-zero subcluster allocation map");
                r.Corruptions++;
                break;
        }
        return true;
    }

    private void CheckCopiedFlags(CheckResult r)
    {
        for (int i = 0; i < _l1.Length; i++)
        {
            long l2Offset = (long)(_l1[i] & OffsetMask);
            if (l2Offset == 0 || (l2Offset & ClusterMask) != 0 || l2Offset + ClusterSize > _file.Length)
                continue;
            ulong rc = SafeGetRefcount(l2Offset >> ClusterBits, r);
            bool copied = (_l1[i] & Copied) != 0;
            if ((rc == 1) != copied)
            {
                r.Messages.Add($"ERROR OFLAG_COPIED L2 cluster: l1_index={i} l1_entry={_l1[i]:x} refcount={rc}");
                r.Corruptions++;
            }
            var table = GetL2Table(_l1[i]);
            for (int j = 0; j < L2Entries; j++)
            {
                ulong e = ReadL2(table, j);
                if (_dataFile != null || Classify(e) == ClusterKind.Compressed || (e & OffsetMask) == 0 || (e & (ulong)ClusterMask & ~1UL) != 0)
                    continue;
                long host = (long)(e & OffsetMask);
                if ((host & ClusterMask) != 0)
                    continue;
                ulong drc = SafeGetRefcount(host >> ClusterBits, r);
                if ((drc == 1) != ((e & Copied) != 0))
                {
                    r.Messages.Add($"ERROR OFLAG_COPIED data cluster: l2_entry={e:x} refcount={drc}");
                    r.Corruptions++;
                }
            }
        }
    }
}
