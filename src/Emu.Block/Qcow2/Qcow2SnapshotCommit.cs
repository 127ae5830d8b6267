using System.Buffers.Binary;

namespace Emu.Block.Qcow2;

// Atomic snapshot creation. Taking a snapshot raises the refcount of every cluster the active image
// uses and clears their COPIED flags; no order of in-place writes keeps refcounts and flags consistent
// across a crash. So everything that changes is written to new clusters (new L2 copies for the active
// image, a new L1, a new snapshot table, new refcount blocks and table) and one header write switches to
// it. The old active L1 becomes the snapshot's L1. A crash before the header write leaves the old image
// with some unreferenced clusters past its end; after it, the new one.
public sealed partial class Qcow2Driver
{
    private Qcow2Snapshot CommitSnapshot(Qcow2Snapshot snap)
    {
        FlushInternal();
        long perBlock = 1L << _refBlockBits;

        // Refcount changes other than the new clusters themselves.
        var deltas = new Dictionary<long, long>();
        void Add(long cluster, long d) => deltas[cluster] = deltas.GetValueOrDefault(cluster) + d;

        var tables = new List<(int Index, byte[] Copy)>();
        for (int i = 0; i < _l1.Length; i++)
        {
            if ((_l1[i] & OffsetMask) == 0)
                continue;
            var old = GetL2Table(_l1[i]);
            var copy = (byte[])old.Data.Clone();
            for (int j = 0; j < L2Entries; j++)
            {
                ulong e = ReadL2(copy, j);
                switch (Classify(e))
                {
                    case ClusterKind.Normal:
                    case ClusterKind.Zero when (e & OffsetMask) != 0:
                        Add((long)(e & OffsetMask) >> ClusterBits, 1);
                        BinaryPrimitives.WriteUInt64BigEndian(copy.AsSpan(j << _l2EntryShift), e & ~Copied);
                        break;
                    case ClusterKind.Compressed:
                        var (off, len) = CompressedRange(e);
                        for (long c = off >> ClusterBits; c <= (off + len - 1) >> ClusterBits; c++)
                            Add(c, 1);
                        break;
                }
            }
            tables.Add((i, copy));
        }
        long oldSnapTableClusters = _snapshotTableBytes == 0 ? 0 : (_snapshotTableBytes + ClusterMask) >> ClusterBits;
        for (long c = 0; c < oldSnapTableClusters; c++)
            Add((Header.SnapshotsOffset >> ClusterBits) + c, -1);
        for (long c = 0; c < Header.RefcountTableClusters; c++)
            Add((Header.RefcountTableOffset >> ClusterBits) + c, -1);

        var newSnapshots = new List<Qcow2Snapshot>(_snapshots) { snap };
        var saved = _snapshots;
        _snapshots = newSnapshots;
        byte[] snapTable;
        try
        {
            snapTable = SerializeSnapshotTable();
        }
        finally
        {
            _snapshots = saved;
        }

        long l1Clusters = Math.Max(1, ((long)_l1.Length * 8 + ClusterMask) >> ClusterBits);
        long stClusters = (snapTable.Length + ClusterMask) >> ClusterBits;
        long fixedClusters = tables.Count + l1Clusters + stClusters;
        long start = (_file.Length + ClusterMask) >> ClusterBits;
        for (long b = 0; b < _refTable.Length; b++)
        {
            long rb = (long)(_refTable[b] & OffsetMask) >> ClusterBits;
            if (rb >= start)
                start = rb + 1;
        }

        // Find the set of refcount blocks to rewrite and the region size together (each depends on the other).
        long blocks = 0, tableClusters = 1;
        HashSet<long> touched;
        while (true)
        {
            long region = fixedClusters + blocks + tableClusters;
            touched = [];
            foreach (var c in deltas.Keys)
                touched.Add(c / perBlock);
            for (long c = start; c < start + region; c++)
                touched.Add(c / perBlock);
            // Replaced refcount blocks drop to zero, which touches the blocks holding their entries.
            bool grew = true;
            while (grew)
            {
                grew = false;
                foreach (long b in touched.ToList())
                {
                    if (b >= _refTable.Length || (_refTable[b] & OffsetMask) == 0)
                        continue;
                    long own = (long)(_refTable[b] & OffsetMask) >> ClusterBits;
                    if (touched.Add(own / perBlock))
                        grew = true;
                }
            }
            long entries = Math.Max(_refTable.Length, touched.Max() + 1);
            long needTable = (entries * 8 + ClusterMask) >> ClusterBits;
            if (touched.Count == blocks && needTable == tableClusters)
                break;
            blocks = touched.Count;
            tableClusters = needTable;
        }
        if (tableClusters << ClusterBits > Qcow2Header.MaxRefcountTableBytes)
            throw new BlockException("Reference count table too large");

        // Place the new structures.
        long next = start;
        var l2New = new long[tables.Count];
        for (int t = 0; t < tables.Count; t++)
            l2New[t] = next++;
        long l1New = next;
        next += l1Clusters;
        long stNew = next;
        next += stClusters;
        var blockList = touched.OrderBy(b => b).ToList();
        var blockNew = new Dictionary<long, long>();
        foreach (long b in blockList)
            blockNew[b] = next++;
        long rtNew = next;
        next += tableClusters;
        for (long c = start; c < next; c++)
            Add(c, 1);
        foreach (long b in blockList)
            if (b < _refTable.Length && (_refTable[b] & OffsetMask) != 0)
                Add((long)(_refTable[b] & OffsetMask) >> ClusterBits, -1);

        // Build the new refcount blocks: old contents plus every change.
        var newBlocks = new Dictionary<long, byte[]>();
        foreach (long b in blockList)
        {
            var data = new byte[ClusterSize];
            var old = GetRefBlock(b * perBlock);
            old?.Data.CopyTo(data, 0);
            newBlocks[b] = data;
        }
        foreach (var (cluster, d) in deltas)
        {
            if (d == 0)
                continue;
            var data = newBlocks[cluster / perBlock];
            int index = (int)(cluster % perBlock);
            ulong value = ReadRefEntry(data, index, Header.RefcountOrder);
            long updated = (long)value + d;
            if (updated < 0)
                throw MarkCorrupt($"Refcount of cluster {cluster} would drop below zero");
            if ((ulong)updated > _refMax)
                throw new BlockException($"Refcount overflow for cluster {cluster} (maximum {_refMax})");
            WriteRefEntry(data, index, Header.RefcountOrder, (ulong)updated);
        }
        var newTable = new ulong[(tableClusters << ClusterBits) / 8];
        _refTable.CopyTo(newTable, 0);
        foreach (long b in blockList)
            newTable[b] = (ulong)(blockNew[b] << ClusterBits);

        // Write everything new, make it durable, then switch with one header write.
        var newL1 = new ulong[_l1.Length];
        for (int t = 0; t < tables.Count; t++)
        {
            WriteMetadata(l2New[t] << ClusterBits, tables[t].Copy, Qcow2Overlap.None);
            newL1[tables[t].Index] = (ulong)(l2New[t] << ClusterBits) | Copied;
        }
        var l1Raw = new byte[l1Clusters << ClusterBits];
        for (int i = 0; i < newL1.Length; i++)
            BinaryPrimitives.WriteUInt64BigEndian(l1Raw.AsSpan(i * 8), newL1[i]);
        WriteMetadata(l1New << ClusterBits, l1Raw, Qcow2Overlap.None);
        var stRaw = new byte[stClusters << ClusterBits];
        snapTable.CopyTo(stRaw, 0);
        WriteMetadata(stNew << ClusterBits, stRaw, Qcow2Overlap.None);
        foreach (long b in blockList)
            WriteMetadata(blockNew[b] << ClusterBits, newBlocks[b], Qcow2Overlap.None);
        var rtRaw = new byte[tableClusters << ClusterBits];
        for (int i = 0; i < newTable.Length; i++)
            BinaryPrimitives.WriteUInt64BigEndian(rtRaw.AsSpan(i * 8), newTable[i]);
        WriteMetadata(rtNew << ClusterBits, rtRaw, Qcow2Overlap.None);
        _file.Flush();

        snap.L1TableOffset = Header.L1TableOffset;
        snap.L1Size = _l1.Length;
        Header.L1TableOffset = l1New << ClusterBits;
        Header.RefcountTableOffset = rtNew << ClusterBits;
        Header.RefcountTableClusters = (int)tableClusters;
        Header.SnapshotsOffset = stNew << ClusterBits;
        Header.NbSnapshots = newSnapshots.Count;
        // The snapshot table was serialised before the L1 offset of the new snapshot was known: rewrite it in place (still unreferenced).
        _snapshots = newSnapshots;
        var finalTable = SerializeSnapshotTable();
        Array.Clear(stRaw);
        finalTable.CopyTo(stRaw, 0);
        WriteMetadata(stNew << ClusterBits, stRaw, Qcow2Overlap.SnapshotTable);
        _file.Flush();
        WriteHeader();
        _file.Flush();

        _l1 = newL1;
        ActiveL1Changed();
        _refTable = newTable;
        _refCache.Clear();
        _refBlockOffsets = null;
        _snapshotTableBytes = finalTable.Length;
        _freeClusterIndex = 1;
        return snap;
    }
}
