using System.Buffers.Binary;

namespace Emu.Block.Qcow2;

// Refcount table and blocks: reading and updating entries of any width, cluster allocation,
// freeing (immediate or deferred until the metadata that dropped the reference is durable),
// and growth of the refcount table.
public sealed partial class Qcow2Driver
{
    private ulong[] _refTable = [];
    private Qcow2Cache _refCache = null!;
    private int _refBlockBits;
    private ulong _refMax;
    private long _freeClusterIndex;
    private long _freeByteOffset;
    private readonly List<(long Cluster, int Count, bool Punch)> _pendingFrees = [];

    private int _refCacheBlocks;

    private void InitRefcounts(int cachedBlocks)
    {
        _refCacheBlocks = cachedBlocks;
        int bits = Header.RefcountBits;
        _refBlockBits = ClusterBits + 3 - Header.RefcountOrder;
        _refMax = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        _refCache = new Qcow2Cache(cachedBlocks, ClusterSize, LoadTable, e => WriteMetadata(e.Offset, e.Data, Qcow2Overlap.RefcountBlock));
        int entries = (int)(((long)Header.RefcountTableClusters << ClusterBits) / 8);
        var raw = new byte[(long)entries * 8];
        _file.Read(Header.RefcountTableOffset, raw);
        _refTable = new ulong[entries];
        for (int i = 0; i < entries; i++)
            _refTable[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
    }

    internal ulong[] RefcountTable => _refTable;
    internal int RefBlockBits => _refBlockBits;
    internal ulong RefcountMax => _refMax;

    internal static ulong ReadRefEntry(byte[] block, int index, int order) => order switch
    {
        < 3 => (ulong)((block[(index << order) >> 3] >> ((index << order) & 7)) & ((1 << (1 << order)) - 1)),
        3 => block[index],
        4 => BinaryPrimitives.ReadUInt16BigEndian(block.AsSpan(index * 2)),
        5 => BinaryPrimitives.ReadUInt32BigEndian(block.AsSpan(index * 4)),
        _ => BinaryPrimitives.ReadUInt64BigEndian(block.AsSpan(index * 8)),
    };

    internal static void WriteRefEntry(byte[] block, int index, int order, ulong value)
    {
        switch (order)
        {
            case < 3:
                int bit = index << order;
                int width = 1 << order;
                int mask = ((1 << width) - 1) << (bit & 7);
                block[bit >> 3] = (byte)((block[bit >> 3] & ~mask) | ((int)value << (bit & 7) & mask));
                break;
            case 3: block[index] = (byte)value; break;
            case 4: BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(index * 2), (ushort)value); break;
            case 5: BinaryPrimitives.WriteUInt32BigEndian(block.AsSpan(index * 4), (uint)value); break;
            default: BinaryPrimitives.WriteUInt64BigEndian(block.AsSpan(index * 8), value); break;
        }
    }

    /// <summary>The cached refcount block covering a cluster, or null when none is allocated.</summary>
    private Qcow2Cache.Entry? GetRefBlock(long cluster)
    {
        long blockIndex = cluster >> _refBlockBits;
        if (blockIndex >= _refTable.Length)
            return null;
        long offset = (long)(_refTable[blockIndex] & OffsetMask);
        if (offset == 0)
            return null;
        if ((offset & ClusterMask) != 0 || offset < ClusterSize)
            throw MarkCorrupt($"Refblock offset 0x{offset:x} unaligned or inside the header (reftable index {blockIndex})");
        return _refCache.Get(offset);
    }

    internal ulong GetRefcount(long cluster)
    {
        var block = GetRefBlock(cluster);
        if (block == null)
            return 0;
        return ReadRefEntry(block.Data, (int)(cluster & ((1L << _refBlockBits) - 1)), Header.RefcountOrder);
    }

    /// <summary>Adds delta to a cluster's refcount (its refcount block must exist) and returns the new refcount.</summary>
    private ulong UpdateRefcount(long cluster, long delta)
    {
        var block = GetRefBlock(cluster) ?? throw MarkCorrupt($"No refcount block for cluster {cluster}");
        int index = (int)(cluster & ((1L << _refBlockBits) - 1));
        ulong old = ReadRefEntry(block.Data, index, Header.RefcountOrder);
        ulong value = (ulong)((long)old + delta);
        if (delta < 0 && old < (ulong)(-delta))
            throw MarkCorrupt($"Refcount of cluster {cluster} would drop below zero");
        if (delta > 0 && (value > _refMax || value < old))
            throw new BlockException($"Refcount overflow for cluster {cluster} (maximum {_refMax})");
        if (value == 0)
            DrainDataIo();
        WriteRefEntry(block.Data, index, Header.RefcountOrder, value);
        block.Dirty = true;
        if (value == 0)
        {
            if (cluster < _freeClusterIndex)
                _freeClusterIndex = cluster;
            long offset = cluster << ClusterBits;
            _l2Cache.Discard(offset);
            _refCache.Discard(offset);
            if (_freeByteOffset >> ClusterBits == cluster)
                _freeByteOffset = 0;
            if (_decompressed != null && ((long)_decompressedEntry & ~ClusterMask) == offset)
                _decompressed = null;
        }
        return value;
    }

    /// <summary>Allocates n contiguous clusters with refcount 1 and returns the host offset of the first.</summary>
    internal long AllocateClusters(int n)
    {
        while (true)
        {
            long start = FindFreeRun(n, _freeClusterIndex);
            if (EnsureRefBlocks(start, n))
                continue;
            for (int i = 0; i < n; i++)
                UpdateRefcount(start + i, 1);
            _freeClusterIndex = start + n;
            return start << ClusterBits;
        }
    }

    private long FindFreeRun(int n, long from)
    {
        long start = Math.Max(from, 1);
        int run = 0;
        long limit = (long.MaxValue >> ClusterBits) - n;
        for (long c = start; c < limit; c++)
        {
            if (GetRefcount(c) != 0)
            {
                run = 0;
                start = c + 1;
                continue;
            }
            if (OverlapsMetadata(c << ClusterBits, ClusterSize))
                throw MarkCorrupt($"Cluster {c} is in use by image metadata but has refcount 0");
            if (++run == n)
                return start;
        }
        throw new BlockException("No free clusters left in the image");
    }

    /// <summary>Creates the refcount blocks that clusters [start, start+n) need; true if any was created.</summary>
    private bool EnsureRefBlocks(long start, int n)
    {
        bool created = false;
        for (long b = start >> _refBlockBits; b <= (start + n - 1) >> _refBlockBits; b++)
        {
            if (b < _refTable.Length && (_refTable[b] & OffsetMask) != 0)
                continue;
            CreateRefBlock(b);
            created = true;
        }
        return created;
    }

    /// <summary>Creates refcount block b at the first cluster of the range it covers, describing itself.</summary>
    private void CreateRefBlock(long b)
    {
        if (b >= _refTable.Length)
            GrowRefcountTable(b + 1);
        if ((_refTable[b] & OffsetMask) != 0)
            return;
        long cluster = b << _refBlockBits;
        if (OverlapsMetadata(cluster << ClusterBits, ClusterSize))
            throw MarkCorrupt($"Refcount block {b} missing although its range holds metadata");
        InstallRefBlock(b, cluster);
    }

    /// <summary>Writes a new refcount block at cluster <paramref name="at"/> (inside the range of table entry
    /// <paramref name="b"/>) that counts itself, then points the table entry at it.</summary>
    private void InstallRefBlock(long b, long at)
    {
        long offset = at << ClusterBits;
        var block = _refCache.Create(offset);
        WriteRefEntry(block.Data, (int)(at - (b << _refBlockBits)), Header.RefcountOrder, 1);
        // The block must be durable before the table entry that exposes it.
        WriteMetadata(offset, block.Data, Qcow2Overlap.RefcountBlock);
        block.Dirty = false;
        _file.Flush();
        _refTable[b] = (ulong)offset;
        _refBlockOffsets = null;
        WriteRefTableEntry(b);
    }

    private void WriteRefTableEntry(long index)
    {
        var raw = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(raw, _refTable[index]);
        WriteMetadata(Header.RefcountTableOffset + index * 8, raw, Qcow2Overlap.RefcountTable);
    }

    /// <summary>Moves the refcount table to a larger place at the end of the image.</summary>
    private void GrowRefcountTable(long minEntries)
    {
        long perCluster = ClusterSize / 8;
        long entries = Math.Max(minEntries, _refTable.Length + (_refTable.Length >> 1) + 1);
        long searchFrom = _freeClusterIndex;
        while (true)
        {
            int clusters = (int)((entries + perCluster - 1) / perCluster);
            if ((long)clusters * ClusterSize > Qcow2Header.MaxRefcountTableBytes)
                throw new BlockException("Reference count table too large");
            long start = FindFreeRun(clusters, searchFrom);
            // The new table's own clusters need refcount blocks; new ones sit at the start of their range.
            var newBlocks = new List<long>();
            bool retry = false;
            for (long b = start >> _refBlockBits; b <= (start + clusters - 1) >> _refBlockBits; b++)
            {
                if (b < _refTable.Length && (_refTable[b] & OffsetMask) != 0)
                    continue;
                long blockCluster = b << _refBlockBits;
                if (blockCluster >= start && blockCluster < start + clusters)
                {
                    searchFrom = blockCluster + 1;
                    retry = true;
                    break;
                }
                newBlocks.Add(b);
            }
            if (retry)
                continue;
            long needEntries = Math.Max(minEntries, ((start + clusters - 1) >> _refBlockBits) + 1);
            if (needEntries > (long)clusters * perCluster)
            {
                entries = needEntries;
                continue;
            }

            var newTable = new ulong[(long)clusters * perCluster];
            _refTable.CopyTo(newTable, 0);
            foreach (long b in newBlocks)
            {
                long offset = (b << _refBlockBits) << ClusterBits;
                var block = _refCache.Create(offset);
                WriteRefEntry(block.Data, 0, Header.RefcountOrder, 1);
                newTable[b] = (ulong)offset;
            }
            long oldOffset = Header.RefcountTableOffset;
            int oldClusters = Header.RefcountTableClusters;
            _refTable = newTable;
            _refBlockOffsets = null;
            for (int i = 0; i < clusters; i++)
                UpdateRefcount(start + i, 1);

            WriteDirtyRefblocks();
            var raw = new byte[(long)clusters << ClusterBits];
            for (int i = 0; i < newTable.Length; i++)
                BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), newTable[i]);
            WriteMetadata(start << ClusterBits, raw, Qcow2Overlap.None);
            _file.Flush();
            Header.RefcountTableOffset = start << ClusterBits;
            Header.RefcountTableClusters = clusters;
            WriteHeader();
            _file.Flush();
            FreeClusters(oldOffset, oldClusters);
            return;
        }
    }

    /// <summary>Drops one reference from each of count clusters starting at host offset, now.</summary>
    internal void FreeClusters(long offset, int count)
    {
        for (int i = 0; i < count; i++)
            UpdateRefcount((offset >> ClusterBits) + i, -1);
    }

    /// <summary>Drops references once the metadata that stopped using the clusters is on disk;
    /// with punch (a discard), clusters that become free also give their host space back.</summary>
    private void DeferFree(long offset, int count, bool punch = false) => _pendingFrees.Add((offset >> ClusterBits, count, punch));

    private void DeferFreeBytes(long offset, long length, bool punch = false)
    {
        long first = offset >> ClusterBits;
        long last = (offset + length - 1) >> ClusterBits;
        _pendingFrees.Add((first, (int)(last - first + 1), punch));
    }

    private void ApplyPendingFrees()
    {
        long holeStart = -1, holeEnd = -1;
        foreach (var (cluster, count, punch) in _pendingFrees)
        {
            for (int i = 0; i < count; i++)
            {
                long c = cluster + i;
                if (UpdateRefcount(c, -1) != 0 || !punch)
                    continue;
                // Coalesce neighbouring freed clusters into one hole.
                if (c == holeEnd)
                {
                    holeEnd++;
                    continue;
                }
                PunchClusters(holeStart, holeEnd);
                holeStart = c;
                holeEnd = c + 1;
            }
        }
        PunchClusters(holeStart, holeEnd);
        _pendingFrees.Clear();
    }

    /// <summary>Deallocates free clusters [first, end) in the host file, where the host supports it (QEMU's discard pass-through).</summary>
    private void PunchClusters(long first, long end)
    {
        if (first >= 0 && end > first)
            _file.PunchHole(first << ClusterBits, (end - first) << ClusterBits);
    }

    /// <summary>Allocates host bytes for compressed data, packing several compressed clusters per host cluster.</summary>
    internal long AllocateBytes(int length)
    {
        if (_freeByteOffset != 0)
        {
            long inCluster = _freeByteOffset & ClusterMask;
            if (inCluster != 0 && inCluster + length <= ClusterSize && GetRefcount(_freeByteOffset >> ClusterBits) > 0)
            {
                long at = _freeByteOffset;
                UpdateRefcount(at >> ClusterBits, 1);
                _freeByteOffset += length;
                return at;
            }
        }
        int clusters = (length + ClusterSize - 1) >> ClusterBits;
        long start = AllocateClusters(clusters);
        _freeByteOffset = start + length;
        return start;
    }
}
