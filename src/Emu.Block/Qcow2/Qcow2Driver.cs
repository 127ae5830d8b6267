using System.Buffers.Binary;

namespace Emu.Block.Qcow2;

/// <summary>The qcow2 format driver: open, the read and write paths, and block status.</summary>
/// <remarks>The driver is split by concern like QEMU's: clusters (L1/L2 mapping), refcounts, metadata
/// write-back ordering, compression, encryption, snapshots and check live in their own files.
/// One lock serialises metadata; all public entry points take it.</remarks>
public sealed partial class Qcow2Driver : BlockDriver
{
    internal const ulong OffsetMask = 0x00ff_ffff_ffff_fe00UL;
    internal const ulong Copied = 1UL << 63;
    internal const ulong CompressedFlag = 1UL << 62;
    internal const ulong ZeroFlag = 1UL;

    private readonly object _lock = new();
    private readonly HostFile _file;
    /// <summary>Where guest data clusters live: the image file itself, or the external data file.</summary>
    private readonly HostFile _data;
    private readonly HostFile? _dataFile;
    private readonly BlockDriver? _backing;
    private readonly Qcow2Crypto? _crypto;
    private bool _readOnly;
    private bool _disposed;
    private readonly bool _lazyRefcounts;
    private readonly Timer? _cleanTimer;
    private long _l2CleanMark, _refCleanMark;

    /// <summary>The parsed header (read it; the driver owns changes).</summary>
    public Qcow2Header Header { get; }
    /// <summary>The LUKS header of a LUKS-encrypted image (crypt_method 2), else null.</summary>
    public Crypto.LuksHeader? Luks { get; private init; }
    internal readonly int ClusterBits;
    internal readonly int L2Bits;
    internal readonly int L2Entries;
    internal readonly long ClusterMask;
    /// <summary>True for 128-bit L2 entries with subcluster bitmaps.</summary>
    internal readonly bool ExtendedL2;
    /// <summary>log2 of the bytes of one L2 entry: 3, or 4 with extended L2 entries.</summary>
    private readonly int _l2EntryShift;
    /// <summary>The descriptor bit that marks a zero cluster: bit 0 in v3 images without subclusters, otherwise none.</summary>
    private readonly ulong _zeroFlag;

    public override string Format => "qcow2";
    public override string FileName => _file.Path;
    public override long Size => Header.Size;
    public override bool ReadOnly => _readOnly;
    public override int ClusterSize => 1 << ClusterBits;
    public override BlockDriver? Backing => _backing;
    public override long AllocatedFileBytes => _file.AllocatedBytes;
    internal HostFile File => _file;

    /// <summary>Offset where the vm-state area starts: just beyond the range the disk's L1 can map.</summary>
    public long VmStateOffset => Qcow2Header.SizeToL1(Header.Size, ClusterBits, ExtendedL2) << (ClusterBits + L2Bits);

    private Qcow2Driver(HostFile file, HostFile? dataFile, Qcow2Header header, BlockDriver? backing, Qcow2Crypto? crypto, ImageOptions options)
    {
        _file = file;
        _dataFile = dataFile;
        _data = dataFile ?? file;
        Header = header;
        _backing = backing;
        _crypto = crypto;
        _readOnly = file.ReadOnly;
        ClusterBits = header.ClusterBits;
        ExtendedL2 = header.ExtendedL2;
        _l2EntryShift = ExtendedL2 ? 4 : 3;
        _zeroFlag = header.Version >= 3 && !ExtendedL2 ? ZeroFlag : 0;
        L2Bits = header.L2Bits;
        L2Entries = 1 << L2Bits;
        ClusterMask = (1L << ClusterBits) - 1;
        _overlapChecks = options.OverlapCheck;
        _lazyRefcounts = options.LazyRefcounts ?? (header.CompatibleFeatures & Qcow2Header.CompatLazyRefcounts) != 0;
        if (_lazyRefcounts && header.Version < 3 && !file.ReadOnly)
            throw new BlockException("Lazy refcounts require a qcow2 image with at least qemu 1.1 compatibility level");
        InitRefcounts(options.RefcountCacheBytes > 0 ? (int)Math.Clamp(options.RefcountCacheBytes / ClusterSize, 4, 1 << 16) : 64);
        long l2Bytes = options.L2CacheBytes > 0 ? options.L2CacheBytes : 32L << 20;
        long needed = Math.Max(1, header.L1Size) * (long)ClusterSize;
        int l2Tables = (int)Math.Clamp(Math.Min(l2Bytes, needed) / ClusterSize, 16, 1 << 16);
        _l2Cache = new Qcow2Cache(l2Tables, ClusterSize, LoadL2, WriteBackL2);
        LoadL1();
        LoadSnapshots();
        LoadBitmaps();
        if (options.CacheCleanInterval > 0)
            _cleanTimer = new Timer(_ => CleanCaches(), null, options.CacheCleanInterval * 1000, options.CacheCleanInterval * 1000);
    }

    internal static Qcow2Driver Open(string path, ImageOptions options, int depth, HashSet<string> chain)
    {
        var file = HostFile.Open(path, options.ReadOnly, options.Cache, options.LockFor(qcow2: true));
        BlockDriver? backing = null;
        HostFile? dataFile = null;
        try
        {
            var header = Qcow2Header.Parse(file);
            dataFile = OpenDataFile(path, header, options);
            if ((header.IncompatibleFeatures & Qcow2Header.IncompatCorrupt) != 0 && !options.ReadOnly)
                throw new BlockException($"qcow2: Image is corrupt; cannot be opened read/write");
            Qcow2Crypto? crypto = null;
            var luks = header.CryptMethod == 2 ? Qcow2Luks.ReadHeader(file, header) : null;
            if (header.CryptMethod != 0)
            {
                if (options.EncryptionKey == null && !options.MetadataOnly)
                    throw new BlockException($"Parameter 'encrypt.key-secret' is required for cipher");
                crypto = options.EncryptionKey == null ? Qcow2Crypto.Locked()
                    : luks != null ? Qcow2Luks.Unlock(file, header, luks, options.EncryptionKey)
                    : Qcow2Crypto.Legacy(options.EncryptionKey);
            }
            if (header.BackingFile != null && !options.NoBacking)
            {
                string backingPath = ImageOpener.ResolveBacking(path, header.BackingFile);
                var backingOptions = options with { Format = header.BackingFormat, ReadOnly = true, EncryptionKey = null };
                try
                {
                    backing = ImageOpener.Open(backingPath, backingOptions, depth + 1, chain);
                }
                catch (BlockException e) when (depth == 0)
                {
                    throw new BlockException($"Could not open backing file: {e.Message}", e);
                }
            }
            var driver = new Qcow2Driver(file, dataFile, header, backing, crypto, options) { Luks = luks };
            if ((header.IncompatibleFeatures & Qcow2Header.IncompatDirty) != 0 && !options.ReadOnly)
                driver.RepairAfterUncleanShutdown();
            return driver;
        }
        catch
        {
            backing?.Dispose();
            dataFile?.Dispose();
            file.Dispose();
            throw;
        }
    }

    // ---------- read path ----------

    public override void Read(long offset, Span<byte> buffer)
    {
        CheckRange(offset, buffer.Length);
        if (_crypto == null)
        {
            ReadParallel(offset, buffer);
            return;
        }
        lock (_lock)
        {
            // Encryption works on whole sectors: read the covering sectors and copy out.
            long start = offset & ~511L;
            long end = (offset + buffer.Length + 511) & ~511L;
            if (start == offset && end == offset + buffer.Length)
            {
                ReadInternal(offset, buffer);
                return;
            }
            var bounce = new byte[end - start];
            ReadInternal(start, bounce);
            bounce.AsSpan((int)(offset - start), buffer.Length).CopyTo(buffer);
        }
    }

    internal void ReadInternal(long offset, Span<byte> buffer)
    {
        CheckOpen();
        while (buffer.Length > 0)
        {
            long inCluster = offset & ClusterMask;
            int chunk = (int)Math.Min(buffer.Length, ClusterSize - inCluster);
            ulong entry = GetL2Entry(offset);
            var kind = Classify(entry);
            if (ExtendedL2 && kind != ClusterKind.Compressed)
            {
                ReadSubclusters(offset, buffer[..chunk]);
            }
            else if (kind == ClusterKind.Normal)
            {
                // One host read for the whole run of physically contiguous clusters.
                chunk = ContiguousRun(offset, entry, buffer.Length, requireCopied: false);
                long host = (long)(entry & OffsetMask);
                CheckDataCluster(host);
                _data.Read(host + inCluster, buffer[..chunk]);
                _crypto?.Decrypt(host + inCluster, offset, buffer[..chunk]);
            }
            else
            {
                ReadCluster(offset, entry, kind, buffer[..chunk]);
            }
            buffer = buffer[chunk..];
            offset += chunk;
        }
    }

    /// <summary>Reads part of one guest cluster whose L2 entry is not a plain allocated cluster.</summary>
    private void ReadCluster(long offset, ulong entry, ClusterKind kind, Span<byte> dest)
    {
        switch (kind)
        {
            case ClusterKind.Unallocated:
                ReadBacking(offset, dest);
                break;
            case ClusterKind.Zero:
                dest.Clear();
                break;
            case ClusterKind.Compressed:
                var data = DecompressCluster(entry);
                data.AsSpan((int)(offset & ClusterMask), dest.Length).CopyTo(dest);
                break;
            default:
                long host = (long)(entry & OffsetMask);
                CheckDataCluster(host);
                _data.Read(host + (offset & ClusterMask), dest);
                _crypto?.Decrypt(host + (offset & ClusterMask), offset, dest);
                break;
        }
    }

    private void ReadBacking(long offset, Span<byte> dest)
    {
        // The vm-state area beyond the disk never reads through to a backing file.
        if (_backing == null || offset >= _backing.Size || offset >= Size)
        {
            dest.Clear();
            return;
        }
        int fromBacking = (int)Math.Min(dest.Length, _backing.Size - offset);
        _backing.Read(offset, dest[..fromBacking]);
        dest[fromBacking..].Clear();
    }

    // ---------- write path ----------

    public override void Write(long offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        MarkBitmapsDirty(offset, data.Length);
        if (_crypto == null)
        {
            WriteParallel(offset, data);
            return;
        }
        lock (_lock)
        {
            if (((offset | (long)data.Length) & 511) == 0)
            {
                WriteInternal(offset, data);
                return;
            }
            // Read-modify-write of the covering sectors, since encryption works on whole sectors.
            long start = offset & ~511L;
            long end = (offset + data.Length + 511) & ~511L;
            var bounce = new byte[end - start];
            ReadInternal(start, bounce);
            data.CopyTo(bounce.AsSpan((int)(offset - start)));
            WriteInternal(start, bounce);
        }
    }

    internal void WriteInternal(long offset, ReadOnlySpan<byte> data)
    {
        CheckWritable();
        MarkDirtyIfLazy();
        while (data.Length > 0)
        {
            long inCluster = offset & ClusterMask;
            int chunk = (int)Math.Min(data.Length, ClusterSize - inCluster);
            var l2 = GetL2TableForWrite(offset);
            int index = L2Index(offset);
            ulong entry = ReadL2(l2, index);
            if (ExtendedL2)
            {
                chunk = WriteSubclusters(offset, data[..chunk], l2);
            }
            else if (Classify(entry) == ClusterKind.Normal && (entry & Copied) != 0)
            {
                long host = (long)(entry & OffsetMask);
                CheckDataClusterForWrite(host);
                int total = ContiguousRun(offset, entry, data.Length, requireCopied: true);
                WriteData(host + inCluster, offset, data[..total]);
                chunk = total;
            }
            else
            {
                chunk = AllocatingWrite(offset, data, l2);
            }
            data = data[chunk..];
            offset += chunk;
        }
    }

    /// <summary>Writes guest data at a host offset, encrypting it when the image is encrypted.</summary>
    private void WriteData(long host, long guestOffset, ReadOnlySpan<byte> data)
    {
        if (_crypto == null)
        {
            _data.Write(host, data);
            return;
        }
        var tmp = data.ToArray();
        _crypto.Encrypt(host, guestOffset, tmp);
        _data.Write(host, tmp);
    }

    /// <summary>Writes into clusters that need a fresh allocation (unallocated, zero, compressed or shared),
    /// allocating one contiguous host run for as many of them as the request and L2 table cover.</summary>
    private int AllocatingWrite(long offset, ReadOnlySpan<byte> data, Qcow2Cache.Entry l2)
    {
        int first = L2Index(offset);
        long inCluster = offset & ClusterMask;
        long end = offset + data.Length;
        int count = 1;
        while (first + count < L2Entries)
        {
            long clusterStart = ((offset >> ClusterBits) + count) << ClusterBits;
            if (clusterStart >= end)
                break;
            ulong e = ReadL2(l2, first + count);
            if (Classify(e) == ClusterKind.Normal && (e & Copied) != 0)
                break;
            count++;
        }
        long guestStart = offset - inCluster;
        long runBytes = (long)count << ClusterBits;
        int covered = (int)Math.Min(data.Length, runBytes - inCluster);

        long fileEnd = _data.Length;
        long host = AllocateDataClusters(guestStart, count);
        if (inCluster == 0 && covered == runBytes)
        {
            // Whole clusters: no copy-on-write, write straight from the caller's buffer.
            WriteData(host, guestStart, data[..covered]);
            UpdateL2Run(l2, first, count, host);
            return covered;
        }
        if (host >= fileEnd && _crypto == null && ReadsAsZero(l2, first, count, guestStart))
        {
            // Fresh clusters past the end of the file read as zeroes already: only the new data needs writing. Like
            // QEMU, the whole run is reserved on the host first, so the rest of it is no hole a later write must fill.
            _data.AllocateZeroes(host, runBytes);
            WriteData(host + inCluster, offset, data[..covered]);
            UpdateL2Run(l2, first, count, host);
            return covered;
        }
        var buffer = new byte[runBytes];
        // Copy-on-write: the head of the first and the tail of the last cluster keep their old contents.
        if (inCluster > 0)
            ReadOldCluster(guestStart, ReadL2(l2, first), buffer.AsSpan(0, ClusterSize));
        long tail = inCluster + covered;
        bool lastAlreadyRead = count == 1 && inCluster > 0;
        if (tail < runBytes && !lastAlreadyRead)
        {
            int last = count - 1;
            ReadOldCluster(guestStart + ((long)last << ClusterBits), ReadL2(l2, first + last),
                buffer.AsSpan(last << ClusterBits, ClusterSize));
        }
        data[..covered].CopyTo(buffer.AsSpan((int)inCluster));
        WriteData(host, guestStart, buffer);
        UpdateL2Run(l2, first, count, host);
        return covered;
    }

    /// <summary>Points count L2 entries at consecutive new clusters and releases what they pointed to.</summary>
    private void UpdateL2Run(Qcow2Cache.Entry l2, int first, int count, long host)
    {
        for (int i = 0; i < count; i++)
        {
            ulong old = ReadL2(l2, first + i);
            WriteL2(l2, first + i, (ulong)(host + ((long)i << ClusterBits)) | Copied);
            ReleaseOldEntry(old);
        }
    }

    /// <summary>True when the head of the first and the tail of the last cluster of a run currently read as zeroes.</summary>
    private bool ReadsAsZero(Qcow2Cache.Entry l2, int first, int count, long guestStart)
    {
        return ClusterReadsAsZero(l2, first, guestStart) && ClusterReadsAsZero(l2, first + count - 1, guestStart + ((long)(count - 1) << ClusterBits));
    }

    private bool ClusterReadsAsZero(Qcow2Cache.Entry l2, int index, long guest)
    {
        var kind = Classify(ReadL2(l2, index));
        return kind == ClusterKind.Zero || (kind == ClusterKind.Unallocated && (_backing == null || guest >= _backing.Size));
    }

    /// <summary>Fills dest with the current contents of the guest cluster whose old entry is given.</summary>
    private void ReadOldCluster(long guestCluster, ulong entry, Span<byte> dest)
    {
        var kind = Classify(entry);
        if (kind == ClusterKind.Normal)
        {
            long host = (long)(entry & OffsetMask);
            CheckDataCluster(host);
            _data.Read(host, dest);
            _crypto?.Decrypt(host, guestCluster, dest);
        }
        else
        {
            ReadCluster(guestCluster, entry, kind, dest);
        }
    }

    /// <summary>Drops this L2 entry's reference to its host clusters once the new entry is durable;
    /// a discard also punches clusters that become free out of the host file.</summary>
    private void ReleaseOldEntry(ulong old, bool discard = false)
    {
        if (_dataFile != null)
        {
            ReleaseDataFileCluster(old, discard);
            return;
        }
        switch (Classify(old))
        {
            case ClusterKind.Normal:
                DeferFree((long)(old & OffsetMask), 1, discard);
                break;
            case ClusterKind.Zero when (old & OffsetMask) != 0:
                DeferFree((long)(old & OffsetMask), 1, discard);
                break;
            case ClusterKind.Compressed:
                var (coffset, csize) = CompressedRange(old);
                DeferFreeBytes(coffset, csize, discard);
                break;
        }
    }

    public override void WriteZeroes(long offset, long length)
    {
        CheckRange(offset, length);
        MarkBitmapsDirty(offset, length);
        lock (_lock)
            WriteZeroesInternal(offset, length, unmap: false);
    }

    /// <summary>Zeroes a range; with unmap, whole clusters lose their allocation (qemu-io write -z -u).</summary>
    public void WriteZeroes(long offset, long length, bool unmap)
    {
        CheckRange(offset, length);
        MarkBitmapsDirty(offset, length);
        lock (_lock)
            WriteZeroesInternal(offset, length, unmap);
    }

    private void WriteZeroesInternal(long offset, long length, bool unmap)
    {
        CheckWritable();
        MarkDirtyIfLazy();
        while (length > 0)
        {
            long inCluster = offset & ClusterMask;
            long chunk = Math.Min(length, ClusterSize - inCluster);
            if (ExtendedL2)
            {
                ZeroSubclusters(offset, (int)chunk, unmap);
                offset += chunk;
                length -= chunk;
                continue;
            }
            bool whole = inCluster == 0 && (chunk == ClusterSize || offset + chunk == Size);
            if (whole && DataFileRaw && !unmap)
            {
                ZeroRawDataCluster(offset, chunk);
            }
            else if (whole && Header.Version >= 3)
            {
                var l2 = GetL2TableForWrite(offset);
                int index = L2Index(offset);
                ulong old = ReadL2(l2, index);
                var kind = Classify(old);
                bool keep = !unmap && kind == ClusterKind.Normal && (old & Copied) != 0;
                if (keep)
                {
                    WriteL2(l2, index, old | ZeroFlag);
                }
                else if (!(kind == ClusterKind.Zero && (old & OffsetMask) == 0))
                {
                    WriteL2(l2, index, ZeroFlag);
                    ReleaseOldEntry(old, discard: unmap);
                }
            }
            else
            {
                var zeros = new byte[chunk];
                WriteInternal(offset, zeros);
            }
            offset += chunk;
            length -= chunk;
        }
    }

    public override void Discard(long offset, long length)
    {
        CheckRange(offset, length);
        MarkBitmapsDirty(offset, length);
        lock (_lock)
        {
            CheckWritable();
            // Like QEMU, only whole clusters are discarded; the unaligned head and tail are left alone.
            long start = (offset + ClusterMask) & ~ClusterMask;
            long end = offset + length == Size ? Size : (offset + length) & ~ClusterMask;
            for (long pos = start; pos < end; pos += ClusterSize)
            {
                if (DataFileRaw)
                {
                    ZeroRawDataCluster(pos, Math.Min(ClusterSize, Size - pos));
                    continue;
                }
                if (ExtendedL2)
                {
                    DiscardCluster(pos);
                    continue;
                }
                ulong old = GetL2Entry(pos);
                if (old == 0)
                    continue;
                var l2 = GetL2TableForWrite(pos);
                int index = L2Index(pos);
                old = ReadL2(l2, index);
                ulong replacement = Header.Version >= 3 ? ZeroFlag : 0;
                if (old == replacement)
                    continue;
                WriteL2(l2, index, replacement);
                ReleaseOldEntry(old, discard: true);
            }
        }
    }

    public override BlockStatus GetStatus(long offset, long length)
    {
        CheckRange(offset, length);
        lock (_lock)
        {
            CheckOpen();
            if (ExtendedL2)
                return GetStatusExtended(offset, length);
            long inCluster = offset & ClusterMask;
            ulong entry = GetL2Entry(offset);
            var kind = Classify(entry);
            long run = Math.Min(length, ClusterSize - inCluster);
            // Normal clusters and preallocated zero clusters report host offsets, so their runs must be contiguous.
            bool hasHost = kind is ClusterKind.Normal or ClusterKind.Zero && (entry & OffsetMask) != 0;
            long expectHost = hasHost ? (long)(entry & OffsetMask) + ClusterSize : 0;
            while (run < length)
            {
                long next = offset + run;
                if (kind == ClusterKind.Unallocated && L1EntryEmpty(next))
                {
                    // A whole L1 range without an L2 table: skip it in one step.
                    long l1Span = 1L << (ClusterBits + L2Bits);
                    run += Math.Min(length - run, l1Span - (next & (l1Span - 1)));
                    continue;
                }
                ulong e = GetL2Entry(next);
                var k = Classify(e);
                if (k != kind || k == ClusterKind.Compressed)
                    break;
                if (hasHost)
                {
                    if ((long)(e & OffsetMask) != expectHost)
                        break;
                    expectHost += ClusterSize;
                }
                else if (k == ClusterKind.Zero && (e & OffsetMask) != 0)
                {
                    break;
                }
                run += Math.Min(length - run, ClusterSize);
            }
            long host = (long)(entry & OffsetMask) + inCluster;
            switch (kind)
            {
                case ClusterKind.Normal:
                    return NormalStatus(run, host, ClusterMask);
                case ClusterKind.Zero when hasHost && _crypto == null:
                    return new BlockStatus(run, BlockStatusFlags.Zero | BlockStatusFlags.Allocated | BlockStatusFlags.OffsetValid, host, 0);
                case ClusterKind.Zero:
                    return new BlockStatus(run, BlockStatusFlags.Zero | BlockStatusFlags.Allocated, 0, 0);
                case ClusterKind.Compressed:
                    return new BlockStatus(run, BlockStatusFlags.Data | BlockStatusFlags.Allocated | BlockStatusFlags.Compressed, 0, 0);
                default:
                    if (_backing == null)
                        return new BlockStatus(run, BlockStatusFlags.Zero, 0, 0);
                    return BackingStatus(offset, run);
            }
        }
    }

    /// <summary>Status of allocated data at a host offset; like QEMU, a hole in the host file reads as zeroes
    /// (a partial hole is reported when it covers whole units of unitMask + 1 bytes).</summary>
    private BlockStatus NormalStatus(long run, long host, long unitMask)
    {
        var flags = BlockStatusFlags.Data | BlockStatusFlags.Allocated;
        if (_crypto == null)
        {
            flags |= BlockStatusFlags.OffsetValid;
            long hole = _data.HoleLength(host, run);
            if (hole >= run)
                flags |= BlockStatusFlags.Zero;
            else if (hole >= unitMask + 1 - (host & unitMask))
            {
                run = hole - ((host + hole) & unitMask);
                flags |= BlockStatusFlags.Zero;
            }
        }
        return new BlockStatus(run, flags, host, 0);
    }

    /// <summary>Status of a range the active image leaves to its backing file.</summary>
    private BlockStatus BackingStatus(long offset, long run)
    {
        // Past the backing file's end the active image itself reads as zeroes, as QEMU reports it.
        if (offset >= _backing!.Size)
            return new BlockStatus(run, BlockStatusFlags.Zero, 0, 0);
        var inner = _backing.GetStatus(offset, Math.Min(run, _backing.Size - offset));
        return inner with { Depth = inner.Depth + 1 };
    }

    private bool L1EntryEmpty(long guestOffset)
    {
        long l1Index = guestOffset >> (ClusterBits + L2Bits);
        return l1Index >= _l1.Length || (_l1[l1Index] & OffsetMask) == 0;
    }

    // ---------- vm-state ----------

    /// <summary>Writes machine state into the vm-state area beyond the disk's L1 range.</summary>
    public void WriteVmState(long position, ReadOnlySpan<byte> data)
    {
        if (position < 0)
            throw new BlockException("Negative vm-state position");
        lock (_lock)
            WriteInternal(VmStateOffset + position, data);
    }

    /// <summary>Reads machine state from the vm-state area.</summary>
    public void ReadVmState(long position, Span<byte> buffer)
    {
        if (position < 0)
            throw new BlockException("Negative vm-state position");
        lock (_lock)
            ReadInternal(VmStateOffset + position, buffer);
    }

    // ---------- helpers ----------

    private void CheckOpen() => ObjectDisposedException.ThrowIf(_disposed, this);

    private void CheckWritable()
    {
        CheckOpen();
        if (_readOnly)
            throw new BlockException($"Image '{_file.Path}' is read-only");
    }

    public override void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            try
            {
                if (!_readOnly)
                {
                    StoreTrackedBitmaps();
                    FlushInternal();
                    ClearDirtyBit();
                }
            }
            finally
            {
                _cleanTimer?.Dispose();
                _disposed = true;
                _file.Dispose();
                _dataFile?.Dispose();
                _backing?.Dispose();
                _crypto?.Dispose();
            }
        }
    }

    public override void Flush()
    {
        lock (_lock)
        {
            CheckOpen();
            if (!_readOnly)
                FlushInternal();
        }
    }

    /// <summary>Drops cache entries unused since the previous run (QEMU's cache-clean-interval timer).</summary>
    internal void CleanCaches()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _l2Cache.DropIdle(_l2CleanMark);
            _refCache.DropIdle(_refCleanMark);
            _l2CleanMark = _l2Cache.Clock;
            _refCleanMark = _refCache.Clock;
        }
    }

    internal int CachedL2Tables => _l2Cache.Count;

    internal static ulong BE64(ReadOnlySpan<byte> b) => BinaryPrimitives.ReadUInt64BigEndian(b);
}
