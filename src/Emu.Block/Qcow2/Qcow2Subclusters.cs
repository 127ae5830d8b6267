using System.Buffers.Binary;
using System.Numerics;

namespace Emu.Block.Qcow2;

/// <summary>What an extended L2 entry says about one of its subclusters.</summary>
internal enum SubclusterKind { Unallocated, Zero, Normal, Compressed, Invalid }

// Extended L2 entries (extended_l2=on): each L2 entry is a descriptor plus a 64-bit bitmap splitting the
// cluster into 32 subclusters, bits 0-31 "allocated", bits 32-63 "reads as zeroes". Writes allocate and
// fill only the subclusters they touch; the rest keep reading from the backing file or as zeroes.
public sealed partial class Qcow2Driver
{
    internal const int SubclustersPerCluster = 32;
    internal const ulong AllAllocatedBits = 0xffff_ffffUL;
    internal const ulong AllZeroBits = 0xffff_ffff_0000_0000UL;

    internal int SubclusterBits => ClusterBits - 5;
    private int SubclusterSize => 1 << SubclusterBits;

    /// <summary>The subcluster bitmap of L2 entry index (0 without extended L2 entries).</summary>
    internal ulong ReadL2Bitmap(Qcow2Cache.Entry table, int index) => ReadL2Bitmap(table.Data, index);

    internal ulong ReadL2Bitmap(byte[] table, int index) =>
        ExtendedL2 ? BinaryPrimitives.ReadUInt64BigEndian(table.AsSpan((index << 4) + 8)) : 0;

    internal void WriteL2Bitmap(Qcow2Cache.Entry table, int index, ulong bitmap)
    {
        if (!ExtendedL2)
            return;
        BinaryPrimitives.WriteUInt64BigEndian(table.Data.AsSpan((index << 4) + 8), bitmap);
        table.Dirty = true;
    }

    /// <summary>Allocation bits of subclusters [first, end).</summary>
    internal static ulong AllocRange(int first, int end) => ((1UL << end) - 1) & ~((1UL << first) - 1);

    /// <summary>Zero bits of subclusters [first, end).</summary>
    internal static ulong ZeroRange(int first, int end) => AllocRange(first, end) << 32;

    /// <summary>True when an entry's bitmap contradicts its descriptor: a subcluster both allocated and zero, or
    /// allocated without a host cluster. Compressed clusters read whatever their bitmap says, as in QEMU; check reports them.</summary>
    internal bool BitmapInvalid(ulong entry, ulong bitmap) => Classify(entry) switch
    {
        ClusterKind.Normal => ((bitmap >> 32) & bitmap) != 0,
        ClusterKind.Unallocated => (bitmap & AllAllocatedBits) != 0,
        _ => false,
    };

    internal SubclusterKind SubKind(ulong entry, ulong bitmap, int sc)
    {
        var kind = Classify(entry);
        if (kind == ClusterKind.Compressed)
            return SubclusterKind.Compressed;
        if (BitmapInvalid(entry, bitmap))
            return SubclusterKind.Invalid;
        if (((bitmap >> (32 + sc)) & 1) != 0)
            return SubclusterKind.Zero;
        if (kind == ClusterKind.Normal && ((bitmap >> sc) & 1) != 0)
            return SubclusterKind.Normal;
        return SubclusterKind.Unallocated;
    }

    /// <summary>How many subclusters from sc on have the same kind as sc.</summary>
    private int SubRun(ulong entry, ulong bitmap, int sc, SubclusterKind kind)
    {
        if (kind is SubclusterKind.Compressed or SubclusterKind.Invalid)
            return SubclustersPerCluster - sc;
        int n = 1;
        while (sc + n < SubclustersPerCluster && SubKind(entry, bitmap, sc + n) == kind)
            n++;
        return n;
    }

    /// <summary>The L2 entry and bitmap that map a guest offset (both 0 when no L2 table exists).</summary>
    internal ulong GetL2Entry(long guestOffset, out ulong bitmap)
    {
        bitmap = 0;
        long l1Index = guestOffset >> (ClusterBits + L2Bits);
        if (l1Index >= _l1.Length)
            return 0;
        ulong l1e = _l1[l1Index];
        if ((l1e & OffsetMask) == 0)
            return 0;
        var table = GetL2Table(l1e);
        int index = L2Index(guestOffset);
        bitmap = ReadL2Bitmap(table, index);
        return ReadL2(table, index);
    }

    /// <summary>Marks the image corrupt because of the L2 entry mapping a guest offset, as QEMU words it.</summary>
    private CorruptImageException InvalidEntry(long guestOffset)
    {
        long l1Index = guestOffset >> (ClusterBits + L2Bits);
        long l2Offset = l1Index < _l1.Length ? (long)(_l1[l1Index] & OffsetMask) : 0;
        return MarkCorrupt($"Invalid cluster entry found (L2 offset: 0x{l2Offset:x}, L2 index: 0x{L2Index(guestOffset):x})");
    }

    /// <summary>Reads part of one guest cluster of an extended-L2 image, subcluster run by run.</summary>
    private void ReadSubclusters(long offset, Span<byte> dest)
    {
        ulong entry = GetL2Entry(offset, out ulong bitmap);
        if (BitmapInvalid(entry, bitmap))
            throw InvalidEntry(offset);
        ReadWithinCluster(offset, entry, bitmap, dest, fromBacking: true);
    }

    /// <summary>Fills dest (inside one guest cluster) from a valid entry; unallocated subclusters read the backing file or, without fromBacking, zeroes.</summary>
    private void ReadWithinCluster(long offset, ulong entry, ulong bitmap, Span<byte> dest, bool fromBacking)
    {
        while (dest.Length > 0)
        {
            long inCluster = offset & ClusterMask;
            int sc = (int)(inCluster >> SubclusterBits);
            var kind = SubKind(entry, bitmap, sc);
            int n = SubRun(entry, bitmap, sc, kind);
            int len = (int)Math.Min(dest.Length, ((long)(sc + n) << SubclusterBits) - inCluster);
            var part = dest[..len];
            switch (kind)
            {
                case SubclusterKind.Normal:
                    long host = (long)(entry & OffsetMask);
                    CheckDataCluster(host);
                    _data.Read(host + inCluster, part);
                    _crypto?.Decrypt(host + inCluster, offset, part);
                    break;
                case SubclusterKind.Compressed:
                    DecompressCluster(entry).AsSpan((int)inCluster, len).CopyTo(part);
                    break;
                case SubclusterKind.Unallocated when fromBacking:
                    ReadBacking(offset, part);
                    break;
                default:
                    part.Clear();
                    break;
            }
            dest = dest[len..];
            offset += len;
        }
    }

    /// <summary>Bytes from offset (at most length) that lie in allocated subclusters of physically contiguous clusters,
    /// starting in the cluster whose entry is given; 0 when the first subcluster is not allocated.</summary>
    private int ContiguousSubclusterRun(long offset, ulong entry, int length, bool requireCopied)
    {
        GetL2Entry(offset, out ulong bitmap);
        long inCluster = offset & ClusterMask;
        int run = 0;
        int sc = (int)(inCluster >> SubclusterBits);
        long expect = (long)(entry & OffsetMask);
        while (run < length)
        {
            if (Classify(entry) != ClusterKind.Normal || BitmapInvalid(entry, bitmap) || (long)(entry & OffsetMask) != expect
                || (requireCopied && (entry & Copied) == 0))
                break;
            // First subcluster at or after sc that is not allocated (32 when the rest of the cluster is).
            uint allocated = (uint)bitmap | (uint)((1UL << sc) - 1);
            int end = BitOperations.TrailingZeroCount(~allocated);
            if (end <= sc)
                break;
            long bytes = ((long)end << SubclusterBits) - inCluster;
            run += (int)Math.Min(length - run, bytes);
            if (end < SubclustersPerCluster)
                break;
            expect += ClusterSize;
            inCluster = 0;
            sc = 0;
            if (run < length)
                entry = GetL2Entry(offset + run, out bitmap);
        }
        return run;
    }

    /// <summary>Writes inside one guest cluster of an extended-L2 image: only the touched subclusters are allocated,
    /// and only their untouched head and tail are copied; the other subclusters keep their state.</summary>
    private int WriteSubclusters(long offset, ReadOnlySpan<byte> data, Qcow2Cache.Entry l2)
    {
        int index = L2Index(offset);
        ulong entry = ReadL2(l2, index);
        ulong bitmap = ReadL2Bitmap(l2, index);
        var kind = Classify(entry);
        if (BitmapInvalid(entry, bitmap))
            throw InvalidEntry(offset);
        long inCluster = offset & ClusterMask;
        long guestCluster = offset - inCluster;
        int first = (int)(inCluster >> SubclusterBits);
        int end = (int)((inCluster + data.Length - 1) >> SubclusterBits) + 1;
        ulong range = AllocRange(first, end);
        bool inPlace = kind == ClusterKind.Normal && (entry & Copied) != 0;
        long oldHost = (long)(entry & OffsetMask);
        if (inPlace)
        {
            CheckDataClusterForWrite(oldHost);
            if ((bitmap & range) == range)
            {
                WriteData(oldHost + inCluster, offset, data);
                return data.Length;
            }
        }

        // Whole subclusters: the untouched head and tail of the first and last keep what they read now.
        long spanStart = (long)first << SubclusterBits;
        long spanEnd = (long)end << SubclusterBits;
        var span = new byte[spanEnd - spanStart];
        int head = (int)(inCluster - spanStart);
        long tail = inCluster + data.Length;
        if (head > 0)
            ReadWithinCluster(guestCluster + spanStart, entry, bitmap, span.AsSpan(0, head), fromBacking: true);
        if (tail < spanEnd)
            ReadWithinCluster(guestCluster + tail, entry, bitmap, span.AsSpan((int)(tail - spanStart)), fromBacking: true);
        data.CopyTo(span.AsSpan(head));
        ulong newBitmap = (bitmap | range) & ~(range << 32);

        if (inPlace)
        {
            WriteData(oldHost + spanStart, guestCluster + spanStart, span);
            WriteL2Bitmap(l2, index, newBitmap);
            return data.Length;
        }

        long host = AllocateClusters(1);
        CheckDataClusterForWrite(host);
        if (kind == ClusterKind.Compressed)
        {
            // Compressed clusters have no subclusters: the new cluster holds all of it.
            var whole = new byte[ClusterSize];
            DecompressCluster(entry).CopyTo(whole, 0);
            span.CopyTo(whole, spanStart);
            WriteData(host, guestCluster, whole);
            newBitmap = AllAllocatedBits;
        }
        else
        {
            if (kind == ClusterKind.Normal && (bitmap & AllAllocatedBits & ~range) != 0)
            {
                // Shared with a snapshot: the allocated subclusters move along (raw, so encryption stays valid).
                CheckDataCluster(oldHost);
                var whole = new byte[ClusterSize];
                _data.Read(oldHost, whole);
                _data.Write(host, whole);
            }
            WriteData(host + spanStart, guestCluster + spanStart, span);
        }
        WriteL2(l2, index, (ulong)host | Copied);
        WriteL2Bitmap(l2, index, newBitmap);
        ReleaseOldEntry(entry);
        return data.Length;
    }

    /// <summary>Zeroes a range inside one guest cluster of an extended-L2 image: whole subclusters by their zero bits,
    /// and, like QEMU, a partly covered subcluster too when the rest of it already reads as zeroes (otherwise
    /// zeroes are written there); with unmap, a whole cluster also loses its host cluster.</summary>
    private void ZeroSubclusters(long offset, int length, bool unmap)
    {
        long inCluster = offset & ClusterMask;
        long guestCluster = offset - inCluster;
        long mask = SubclusterSize - 1;
        long stop = inCluster + length;
        long alignedStart = (inCluster + mask) & ~mask;
        long alignedEnd = offset + length == Size ? (stop + mask) & ~mask : stop & ~mask;
        if (alignedEnd < alignedStart)
        {
            ZeroPartialSubcluster(guestCluster, inCluster, stop);
            return;
        }
        if (inCluster < alignedStart)
            ZeroPartialSubcluster(guestCluster, inCluster, alignedStart);
        if (stop > alignedEnd)
            ZeroPartialSubcluster(guestCluster, alignedEnd, stop);
        if (alignedEnd > alignedStart)
            ZeroWholeSubclusters(guestCluster, (int)(alignedStart >> SubclusterBits),
                (int)Math.Min(SubclustersPerCluster, alignedEnd >> SubclusterBits), unmap);
    }

    /// <summary>Zeroes [from, to) of one subcluster (cluster-relative offsets).</summary>
    private void ZeroPartialSubcluster(long guestCluster, long from, long to)
    {
        int sc = (int)(from >> SubclusterBits);
        long scStart = (long)sc << SubclusterBits;
        long scEnd = scStart + SubclusterSize;
        ulong entry = GetL2Entry(guestCluster + from, out ulong bitmap);
        var kind = SubKind(entry, bitmap, sc);
        if (kind == SubclusterKind.Invalid)
            throw InvalidEntry(guestCluster + from);
        bool restIsZero = kind == SubclusterKind.Zero || (kind == SubclusterKind.Unallocated
            && BackingReadsZero(guestCluster + scStart, from - scStart) && BackingReadsZero(guestCluster + to, scEnd - to));
        if (restIsZero)
            ZeroWholeSubclusters(guestCluster, sc, sc + 1, unmap: false);
        else
            WriteInternal(guestCluster + from, new byte[to - from]);
    }

    /// <summary>True when the backing chain reads [offset, offset+length) as zeroes (by its block status).</summary>
    private bool BackingReadsZero(long offset, long length)
    {
        long end = Math.Min(offset + length, Size);
        while (offset < end)
        {
            if (_backing == null || offset >= _backing.Size)
                return true;
            var s = _backing.GetStatus(offset, Math.Min(end, _backing.Size) - offset);
            if ((s.Flags & BlockStatusFlags.Zero) == 0)
                return false;
            offset += s.Length;
        }
        return true;
    }

    /// <summary>Makes subclusters [first, end) of one guest cluster read as zeroes through the bitmap.</summary>
    private void ZeroWholeSubclusters(long guestCluster, int first, int end, bool unmap)
    {
        var l2 = GetL2TableForWrite(guestCluster);
        int index = L2Index(guestCluster);
        ulong entry = ReadL2(l2, index);
        ulong bitmap = ReadL2Bitmap(l2, index);
        var kind = Classify(entry);
        if (BitmapInvalid(entry, bitmap))
            throw InvalidEntry(guestCluster);
        if (first == 0 && end == SubclustersPerCluster)
        {
            // Compressed clusters cannot keep a host cluster with zero bits; others keep it unless unmapping.
            bool drop = kind == ClusterKind.Compressed || (unmap && kind == ClusterKind.Normal);
            if (drop)
            {
                WriteL2(l2, index, 0);
                ReleaseOldEntry(entry);
            }
            if (drop || bitmap != AllZeroBits)
                WriteL2Bitmap(l2, index, AllZeroBits);
            return;
        }
        if (kind == ClusterKind.Compressed)
        {
            // A compressed cluster cannot be zeroed in part: it becomes a normal cluster holding zeroes there.
            WriteInternal(guestCluster + ((long)first << SubclusterBits), new byte[(long)(end - first) << SubclusterBits]);
            return;
        }
        ulong range = AllocRange(first, end);
        ulong newBitmap = (bitmap | (range << 32)) & ~range;
        if (newBitmap != bitmap)
            WriteL2Bitmap(l2, index, newBitmap);
    }

    /// <summary>Discards one whole guest cluster of an extended-L2 image as QEMU does: it reads as zeroes afterwards
    /// when it was allocated or a backing file exists, and is unallocated otherwise.</summary>
    private void DiscardCluster(long pos)
    {
        var l2 = GetL2TableForWrite(pos);
        int index = L2Index(pos);
        ulong old = ReadL2(l2, index);
        ulong bitmap = ReadL2Bitmap(l2, index);
        bool allocated = Classify(old) != ClusterKind.Unallocated;
        ulong replacement = allocated || _backing != null ? AllZeroBits : 0;
        if (old == 0 && bitmap == replacement)
            return;
        WriteL2(l2, index, 0);
        WriteL2Bitmap(l2, index, replacement);
        ReleaseOldEntry(old);
    }

    /// <summary>Block status of an extended-L2 image: runs of subclusters of one kind (and, where they have one,
    /// contiguous host offsets), reported the way QEMU reports them.</summary>
    private BlockStatus GetStatusExtended(long offset, long length)
    {
        ulong entry = GetL2Entry(offset, out ulong bitmap);
        long inCluster = offset & ClusterMask;
        int sc = (int)(inCluster >> SubclusterBits);
        var kind = SubKind(entry, bitmap, sc);
        if (kind == SubclusterKind.Invalid)
            throw InvalidEntry(offset);
        long host = (long)(entry & OffsetMask);
        bool hasHost = kind != SubclusterKind.Compressed && host != 0;
        int n = SubRun(entry, bitmap, sc, kind);
        long run = Math.Min(length, ((long)(sc + n) << SubclusterBits) - inCluster);
        long expectHost = host + ClusterSize;
        while (run < length && sc + n == SubclustersPerCluster && kind != SubclusterKind.Compressed)
        {
            long next = offset + run;
            if (kind == SubclusterKind.Unallocated && !hasHost && L1EntryEmpty(next))
            {
                long l1Span = 1L << (ClusterBits + L2Bits);
                run += Math.Min(length - run, l1Span - (next & (l1Span - 1)));
                continue;
            }
            ulong e = GetL2Entry(next, out ulong b);
            var k = SubKind(e, b, 0);
            long h = (long)(e & OffsetMask);
            if (k != kind || (h != 0) != hasHost || (hasHost && h != expectHost))
                break;
            expectHost += ClusterSize;
            sc = 0;
            n = SubRun(e, b, 0, k);
            run += Math.Min(length - run, (long)n << SubclusterBits);
        }
        long at = host + inCluster;
        bool showHost = hasHost && _crypto == null;
        switch (kind)
        {
            case SubclusterKind.Normal:
                return NormalStatus(run, at, SubclusterSize - 1);
            case SubclusterKind.Zero:
                return showHost
                    ? new BlockStatus(run, BlockStatusFlags.Zero | BlockStatusFlags.Allocated | BlockStatusFlags.OffsetValid, at, 0)
                    : new BlockStatus(run, BlockStatusFlags.Zero | BlockStatusFlags.Allocated, 0, 0);
            case SubclusterKind.Compressed:
                return new BlockStatus(run, BlockStatusFlags.Data | BlockStatusFlags.Allocated | BlockStatusFlags.Compressed, 0, 0);
            default:
                if (_backing == null || offset >= _backing.Size)
                    return showHost
                        ? new BlockStatus(run, BlockStatusFlags.Zero | BlockStatusFlags.OffsetValid, at, 0)
                        : new BlockStatus(run, BlockStatusFlags.Zero, 0, 0);
                return BackingStatus(offset, run);
        }
    }
}
