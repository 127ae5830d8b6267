using System.Buffers.Binary;

namespace Emu.Block.Qcow2;

/// <summary>What an L2 entry says about its guest cluster.</summary>
internal enum ClusterKind { Unallocated, Zero, Compressed, Normal }

// L1/L2 mapping: lookups, L2 tables made writable (allocated or copied on write), L1 growth.
public sealed partial class Qcow2Driver
{
    private ulong[] _l1 = [];
    private int _l1DirtyMin = int.MaxValue, _l1DirtyMax = -1;
    private readonly Qcow2Cache _l2Cache;

    internal ulong[] L1Table => _l1;

    internal int L2Index(long guestOffset) => (int)((guestOffset >> ClusterBits) & (L2Entries - 1));

    /// <summary>The cluster descriptor (first 64 bits) of L2 entry index.</summary>
    internal ulong ReadL2(Qcow2Cache.Entry table, int index) => ReadL2(table.Data, index);

    internal ulong ReadL2(byte[] table, int index) =>
        BinaryPrimitives.ReadUInt64BigEndian(table.AsSpan(index << _l2EntryShift));

    internal void WriteL2(Qcow2Cache.Entry table, int index, ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(table.Data.AsSpan(index << _l2EntryShift), value);
        table.Dirty = true;
    }

    internal ClusterKind Classify(ulong entry)
    {
        if ((entry & CompressedFlag) != 0)
            return ClusterKind.Compressed;
        if ((entry & _zeroFlag) != 0)
            return ClusterKind.Zero;
        if ((entry & OffsetMask) != 0)
            return ClusterKind.Normal;
        // Offset 0 is a real place in an external data file; its clusters always have COPIED set.
        if (_dataFile != null && (entry & Copied) != 0)
            return ClusterKind.Normal;
        return ClusterKind.Unallocated;
    }

    private void LoadL1()
    {
        var raw = new byte[(long)Header.L1Size * 8];
        _file.Read(Header.L1TableOffset, raw);
        _l1 = new ulong[Header.L1Size];
        for (int i = 0; i < _l1.Length; i++)
            _l1[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
        ActiveL1Changed();
    }

    private void LoadTable(long offset, byte[] data) => _file.Read(offset, data);

    private void LoadL2(long offset, byte[] data)
    {
        if (offset < ClusterSize || OverlapsMetadata(offset, ClusterSize))
            throw MarkCorrupt($"L2 table at 0x{offset:x} overlaps other metadata");
        _file.Read(offset, data);
    }

    /// <summary>The L2 table for an L1 entry (read-only use), validating its offset.</summary>
    private Qcow2Cache.Entry GetL2Table(ulong l1Entry)
    {
        long l2Offset = (long)(l1Entry & OffsetMask);
        if ((l2Offset & ClusterMask) != 0)
            throw MarkCorrupt($"L2 table offset 0x{l2Offset:x} unaligned");
        return _l2Cache.Get(l2Offset);
    }

    /// <summary>Bytes from offset (at most length) that map to one run of physically contiguous plain clusters,
    /// starting with the cluster whose L2 entry is given; with requireCopied, only clusters private to the active image.</summary>
    internal int ContiguousRun(long offset, ulong entry, int length, bool requireCopied)
    {
        if (ExtendedL2)
            return ContiguousSubclusterRun(offset, entry, length, requireCopied);
        int run = (int)Math.Min(length, ClusterSize - (offset & ClusterMask));
        long expect = (long)(entry & OffsetMask) + ClusterSize;
        while (run < length)
        {
            ulong next = GetL2Entry(offset + run);
            if (Classify(next) != ClusterKind.Normal || (long)(next & OffsetMask) != expect || (requireCopied && (next & Copied) == 0))
                break;
            run += (int)Math.Min(length - run, ClusterSize);
            expect += ClusterSize;
        }
        return run;
    }

    /// <summary>The L2 entry that maps a guest offset (0 when no L2 table exists).</summary>
    internal ulong GetL2Entry(long guestOffset)
    {
        long l1Index = guestOffset >> (ClusterBits + L2Bits);
        if (l1Index >= _l1.Length)
            return 0;
        ulong l1e = _l1[l1Index];
        if ((l1e & OffsetMask) == 0)
            return 0;
        return ReadL2(GetL2Table(l1e), L2Index(guestOffset));
    }

    /// <summary>The L2 table mapping a guest offset, made private to the active image so it can be changed.</summary>
    private Qcow2Cache.Entry GetL2TableForWrite(long guestOffset)
    {
        long l1Index = guestOffset >> (ClusterBits + L2Bits);
        if (l1Index >= _l1.Length)
            GrowL1((int)(l1Index + 1));
        ulong l1e = _l1[l1Index];
        long oldOffset = (long)(l1e & OffsetMask);
        if (oldOffset != 0 && (l1e & Copied) != 0)
            return GetL2Table(l1e);

        long newOffset = AllocateClusters(1);
        var table = _l2Cache.Create(newOffset);
        if (oldOffset != 0)
        {
            // Shared with a snapshot: copy it, and drop our reference to the original once the L1 is durable.
            var old = GetL2Table(l1e);
            old.Data.CopyTo(table.Data, 0);
            table.Dirty = true;
            DeferFree(oldOffset, 1);
        }
        SetL1((int)l1Index, (ulong)newOffset | Copied);
        return table;
    }

    private void SetL1(int index, ulong value)
    {
        _l1[index] = value;
        ActiveL1Changed();
        _l1DirtyMin = Math.Min(_l1DirtyMin, index);
        _l1DirtyMax = Math.Max(_l1DirtyMax, index);
    }

    private bool L1Dirty => _l1DirtyMax >= 0;

    private void WriteDirtyL1()
    {
        if (!L1Dirty)
            return;
        int n = _l1DirtyMax - _l1DirtyMin + 1;
        var raw = new byte[n * 8];
        for (int i = 0; i < n; i++)
            BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), _l1[_l1DirtyMin + i]);
        WriteMetadata(Header.L1TableOffset + (long)_l1DirtyMin * 8, raw, Qcow2Overlap.ActiveL1);
        _l1DirtyMin = int.MaxValue;
        _l1DirtyMax = -1;
    }

    /// <summary>Grows the active L1 table to at least minSize entries at a new place in the file.</summary>
    private void GrowL1(int minSize)
    {
        long maxEntries = Qcow2Header.MaxL1Bytes / 8;
        if (minSize > maxEntries)
            throw new BlockException("Active L1 table too large");
        long newSize = Math.Max(minSize, Math.Min(maxEntries, _l1.Length + (_l1.Length >> 1)));
        // Everything the current L1 points to must be durable before a new L1 refers to it.
        FlushInternal();
        int bytes = (int)(newSize * 8);
        int clusters = (bytes + ClusterSize - 1) >> ClusterBits;
        long newOffset = AllocateClusters(clusters);
        var newL1 = new ulong[newSize];
        _l1.CopyTo(newL1, 0);
        var raw = new byte[(long)clusters << ClusterBits];
        for (int i = 0; i < newL1.Length; i++)
            BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), newL1[i]);
        WriteMetadata(newOffset, raw, Qcow2Overlap.None);
        WriteDirtyRefblocks();
        _file.Flush();

        long oldOffset = Header.L1TableOffset;
        int oldClusters = (int)(((long)_l1.Length * 8 + ClusterSize - 1) >> ClusterBits);
        Header.L1TableOffset = newOffset;
        Header.L1Size = (int)newSize;
        WriteHeader();
        _file.Flush();
        _l1 = newL1;
        ActiveL1Changed();
        _l1DirtyMin = int.MaxValue;
        _l1DirtyMax = -1;
        if (oldOffset != 0 && oldClusters > 0)
            FreeClusters(oldOffset, oldClusters);
    }

    /// <summary>Host byte range of a compressed cluster as the format's check counts it (whole sectors).</summary>
    internal (long Offset, long Length) CompressedRange(ulong entry)
    {
        int shift = 62 - (ClusterBits - 8);
        ulong sizeMask = (1UL << (ClusterBits - 8)) - 1;
        long coffset = (long)(entry & ((1UL << shift) - 1));
        long sectors = (long)((entry >> shift) & sizeMask) + 1;
        return (coffset, sectors * 512 - (coffset & 511));
    }

    /// <summary>Builds the L2 entry of a compressed cluster stored at host offset with the given length.</summary>
    internal ulong CompressedEntry(long host, int length)
    {
        int shift = 62 - (ClusterBits - 8);
        ulong extraSectors = (ulong)(((host + length - 1) >> 9) - (host >> 9));
        return CompressedFlag | (extraSectors << shift) | (ulong)host;
    }

    private byte[]? _decompressed;
    private ulong _decompressedEntry;

    /// <summary>Inflates a compressed cluster (the last one stays cached for sequential reads).</summary>
    private byte[] DecompressCluster(ulong entry)
    {
        if (_decompressed != null && _decompressedEntry == entry)
            return _decompressed;
        if (_dataFile != null)
            throw MarkCorrupt("Compressed cluster in an image with an external data file");
        var (coffset, csize) = CompressedRange(entry);
        if (coffset + csize > _file.Length + 512 || coffset < ClusterSize)
            throw MarkCorrupt($"Compressed cluster at 0x{coffset:x} lies outside the image");
        var input = new byte[csize];
        _file.Read(coffset, input);
        var output = new byte[ClusterSize];
        bool ok = Header.CompressionType == Qcow2Header.CompressionZstd
            ? Qcow2Zstd.Decompress(input, output)
            : Qcow2Compression.Inflate(input, output);
        if (!ok)
            throw new BlockException($"Could not decompress cluster at host offset 0x{coffset:x}: invalid compressed data");
        _decompressed = output;
        _decompressedEntry = entry;
        return output;
    }

    /// <summary>Rejects data cluster offsets that are unaligned or point into metadata.</summary>
    private void CheckDataCluster(long host)
    {
        if ((host & ClusterMask) != 0)
            throw MarkCorrupt($"Cluster allocation offset 0x{host:x} unaligned");
        if (host < ClusterSize && _dataFile == null)
            throw MarkCorrupt($"Data cluster at 0x{host:x} overlaps the image header");
    }

    /// <summary>Gives back the data-file space of every cluster one L2 table maps (data-file clusters have no refcounts).</summary>
    private void DiscardDataClusters(ulong l1Entry)
    {
        var l2 = GetL2Table(l1Entry);
        for (int j = 0; j < L2Entries; j++)
            ReleaseDataFileCluster(ReadL2(l2, j), discard: true);
    }

    /// <summary>Drops every cluster of the active image: all of it reads from the backing file (or as zeroes) again.</summary>
    public void MakeEmpty()
    {
        lock (_lock)
        {
            CheckWritable();
            FlushInternal();
            var dropped = new List<ulong>();
            for (int i = 0; i < _l1.Length; i++)
            {
                if ((_l1[i] & OffsetMask) == 0)
                    continue;
                if (_dataFile != null)
                    DiscardDataClusters(_l1[i]);
                dropped.Add(_l1[i]);
                SetL1(i, 0);
            }
            FlushInternal();
            UpdateSnapshotRefcount([.. dropped], -1);
            FlushInternal();
        }
    }
}
