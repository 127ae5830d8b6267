using System.Buffers.Binary;

namespace Emu.Block.Qcow2;

// Preallocation of a freshly created image (create -o preallocation=...), laid out as QEMU lays it out.
public sealed partial class Qcow2Driver
{
    /// <summary>Maps every guest cluster of an empty image: metadata only, or with the data area reserved (falloc) or zeroed (full).</summary>
    public void Preallocate(Preallocation mode)
    {
        if (mode == Preallocation.Off)
            return;
        lock (_lock)
        {
            CheckWritable();
            if (mode == Preallocation.Metadata)
                PreallocateMetadata();
            else
                PreallocateData(mode);
            FlushInternal();
        }
    }

    private long GuestClusters => (Size + ClusterMask) >> ClusterBits;

    /// <summary>Allocates clusters in guest order, each L2 table just before the data it maps; the data stays a hole.</summary>
    private void PreallocateMetadata()
    {
        long clusters = GuestClusters;
        long lastHost = -1;
        for (long c = 0; c < clusters;)
        {
            long off = c << ClusterBits;
            var l2 = GetL2TableForWrite(off);
            int index = L2Index(off);
            int n = (int)Math.Min(clusters - c, L2Entries - index);
            long host = AllocateRun(n);
            for (int i = 0; i < n; i++)
                WriteL2(l2, index + i, (ulong)(host + ((long)i << ClusterBits)) | Copied);
            lastHost = host + ((long)(n - 1) << ClusterBits);
            c += n;
        }
        if (lastHost < 0)
            return;
        // QEMU copies-on-write the tail of a partial last cluster, so that cluster ends up stored in full.
        int tail = (int)(Size & ClusterMask);
        if (tail != 0)
            _file.Write(lastHost + tail, new byte[ClusterSize - tail]);
        if (_file.Length < lastHost + ClusterSize)
            _file.SetLength(lastHost + ClusterSize);
    }

    /// <summary>Allocates n contiguous clusters; a refcount block they lack goes to the first free cluster after
    /// the run when it can describe itself there, as QEMU places it.</summary>
    private long AllocateRun(int n)
    {
        while (true)
        {
            long start = FindFreeRun(n, _freeClusterIndex);
            long after = PlaceRefBlocksAfterRun(start, n);
            if (after < 0)
                continue;
            for (int i = 0; i < n; i++)
                UpdateRefcount(start + i, 1);
            _freeClusterIndex = after;
            return start << ClusterBits;
        }
    }

    /// <summary>Creates the refcount blocks the run lacks; returns the first cluster after the run and them,
    /// or -1 when the refcount table had to grow first (the run must be searched again).</summary>
    private long PlaceRefBlocksAfterRun(long start, int n)
    {
        long after = start + n;
        for (long b = start >> _refBlockBits; b <= (start + n - 1) >> _refBlockBits; b++)
        {
            if (b < _refTable.Length && (_refTable[b] & OffsetMask) != 0)
                continue;
            long at = FindFreeRun(1, after);
            if (b >= _refTable.Length || at >> _refBlockBits != b)
            {
                CreateRefBlock(b);
                return -1;
            }
            InstallRefBlock(b, at);
            after = at + 1;
        }
        return after;
    }

    /// <summary>Puts refcount structures covering the whole disk at the end of the file, then the data clusters in one run.</summary>
    private void PreallocateData(Preallocation mode)
    {
        long start = (LastUsedCluster() + 1) << ClusterBits;
        long dataClusters = GuestClusters;
        long l2Tables = (dataClusters + L2Entries - 1) / L2Entries + 1;
        long dataStart = BuildRefcountArea(start, dataClusters + l2Tables);
        long firstData = dataStart >> ClusterBits;
        for (long c = 0; c < dataClusters; c++)
            UpdateRefcount(firstData + c, 1);
        WriteDirtyRefblocks();
        PreallocationModes.Extend(_file, dataStart + (dataClusters << ClusterBits), mode);
        for (long c = 0; c < dataClusters;)
        {
            long off = c << ClusterBits;
            var l2 = GetL2TableForWrite(off);
            int index = L2Index(off);
            int n = (int)Math.Min(dataClusters - c, L2Entries - index);
            for (int i = 0; i < n; i++)
                WriteL2(l2, index + i, (ulong)(dataStart + ((c + i) << ClusterBits)) | Copied);
            c += n;
        }
    }

    /// <summary>The last host cluster in the file with a non-zero refcount, or -1.</summary>
    private long LastUsedCluster()
    {
        for (long c = ((_file.Length + ClusterMask) >> ClusterBits) - 1; c >= 0; c--)
            if (GetRefcount(c) != 0)
                return c;
        return -1;
    }

    /// <summary>Writes new refcount blocks and a new refcount table at start, sized to cover the image plus
    /// extra clusters, and frees the old table; returns the first offset after them.</summary>
    private long BuildRefcountArea(long start, long extraClusters)
    {
        long perBlock = 1L << _refBlockBits;
        long perTableCluster = ClusterSize / 8;
        long covered = (start >> ClusterBits) + extraClusters;
        var (blocks, table) = Qcow2RefcountSizing.Cover(covered, perBlock, perTableCluster);
        long entries = table * perTableCluster;
        if (entries * 8 > Qcow2Header.MaxRefcountTableBytes)
            throw new BlockException("Reference count table too large");

        var newTable = new ulong[entries];
        Array.Copy(_refTable, newTable, Math.Min(_refTable.Length, entries));
        long firstIndex = (start >> ClusterBits) / perBlock;
        long missing = 0;
        for (long i = firstIndex; i < blocks; i++)
            if ((newTable[i] & OffsetMask) == 0)
                missing++;
        long tableOffset = start + (missing << ClusterBits);
        long end = tableOffset + (table << ClusterBits);
        long blockOffset = start;
        for (long i = firstIndex; i < blocks; i++)
        {
            if ((newTable[i] & OffsetMask) != 0)
                continue;
            _refCache.Create(blockOffset);
            newTable[i] = (ulong)blockOffset;
            blockOffset += ClusterSize;
        }
        long oldOffset = Header.RefcountTableOffset;
        int oldClusters = Header.RefcountTableClusters;
        _refTable = newTable;
        _refBlockOffsets = null;
        for (long c = start >> ClusterBits; c < end >> ClusterBits; c++)
            UpdateRefcount(c, 1);
        WriteDirtyRefblocks();
        var raw = new byte[table << ClusterBits];
        for (long i = 0; i < entries; i++)
            BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan((int)(i * 8)), newTable[i]);
        _file.Write(tableOffset, raw);
        _file.Flush();
        Header.RefcountTableOffset = tableOffset;
        Header.RefcountTableClusters = (int)table;
        WriteHeader();
        _file.Flush();
        FreeClusters(oldOffset, oldClusters);
        return end;
    }
}
