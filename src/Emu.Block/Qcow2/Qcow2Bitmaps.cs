using System.Buffers.Binary;
using System.Text;

namespace Emu.Block.Qcow2;

/// <summary>One persistent dirty bitmap: an entry of the qcow2 bitmap directory.</summary>
public sealed class Qcow2Bitmap
{
    public const uint FlagInUse = 1, FlagAuto = 2, FlagExtraDataCompatible = 4;
    public const byte TypeDirtyTracking = 1;
    public const int MinGranularityBits = 9, MaxGranularityBits = 31, MaxNameBytes = 1023;

    public required string Name { get; init; }
    public uint Flags { get; internal set; }
    public byte Type { get; init; } = TypeDirtyTracking;
    public int GranularityBits { get; init; }
    public long TableOffset { get; internal set; }
    public int TableSize { get; internal set; }
    /// <summary>Type-specific extra data, kept verbatim.</summary>
    public byte[] ExtraData { get; init; } = [];

    public long Granularity => 1L << GranularityBits;
    /// <summary>Not saved cleanly: the contents may be outdated (QEMU's "in-use" flag).</summary>
    public bool InUse => (Flags & FlagInUse) != 0;
    /// <summary>Records every write to the disk (QEMU's "auto" flag).</summary>
    public bool Enabled => (Flags & FlagAuto) != 0;
    /// <summary>A dirty-tracking bitmap whose extra data (if any) may be ignored: one this driver may use.</summary>
    public bool Usable => Type == TypeDirtyTracking && (ExtraData.Length == 0 || (Flags & FlagExtraDataCompatible) != 0);

    /// <summary>Bytes of bitmap data for a disk of <paramref name="diskSize"/> bytes.</summary>
    public long DataBytes(long diskSize) => (((diskSize + Granularity - 1) >> GranularityBits) + 7) / 8;

    /// <summary>Sets in <paramref name="bits"/> (this bitmap's data) every granule that [offset, offset + length)
    /// touches inside a disk of <paramref name="diskSize"/> bytes.</summary>
    internal void MarkDirty(byte[] bits, long offset, long length, long diskSize)
    {
        long last = Math.Min(offset + length, diskSize) - 1;
        for (long g = offset >> GranularityBits; g <= last >> GranularityBits; g++)
            bits[g >> 3] |= (byte)(1 << (int)(g & 7));
    }

    /// <summary>Bytes the bitmap table takes in the file (one entry at least, so an empty disk's table has a place).</summary>
    internal long TableBytes => Math.Max(8L, (long)TableSize * 8);

    /// <summary>Bytes of the bitmap's directory entry.</summary>
    public int EntryBytes => (24 + ExtraData.Length + Encoding.UTF8.GetByteCount(Name) + 7) & ~7;
}

// Persistent dirty bitmaps (the bitmaps header extension): the directory, its bitmap tables and data, their refcounts for
// check, tracking of writes into the enabled bitmaps while the image is open, and add / remove / clear / enable /
// disable / merge for emu img bitmap. While a bitmap is being changed it carries the in-use flag on disk, so a crash
// leaves it marked inconsistent (and at worst some clusters leaked), never silently wrong.
public sealed partial class Qcow2Driver
{
    private const ulong BitmapTableReserved = 0xff00_0000_0000_01feUL;
    private const long BitmapTableMaxEntries = 0x800_0000;
    /// <summary>Largest bitmap this driver holds in memory (a 256 GiB disk at 512-byte granularity).</summary>
    private const long MaxBitmapBytes = 64L << 20;

    private List<Qcow2Bitmap> _bitmaps = [];
    private readonly object _bitmapLock = new();
    /// <summary>The enabled bitmaps marked in use on disk at the first write, with the bits written since; null before.</summary>
    private volatile List<(Qcow2Bitmap Bitmap, byte[]? Bits)>? _tracked;

    /// <summary>The persistent bitmaps, in directory order.</summary>
    public IReadOnlyList<Qcow2Bitmap> Bitmaps => _bitmaps;

    private void LoadBitmaps()
    {
        if (Header.Bitmaps is not { } ext)
            return;
        if (ext.DirectoryOffset + ext.DirectorySize > _file.Length)
            throw new BlockException("Bitmap directory lies beyond the end of the image file");
        var dir = new byte[ext.DirectorySize];
        _file.Read(ext.DirectoryOffset, dir);
        var list = new List<Qcow2Bitmap>();
        int pos = 0;
        for (int i = 0; i < ext.Count; i++)
        {
            if (dir.Length - pos < 24)
                throw new BlockException("Bitmap directory is too small for its bitmaps");
            var b = dir.AsSpan(pos);
            ulong tableOffset = BinaryPrimitives.ReadUInt64BigEndian(b);
            uint tableSize = BinaryPrimitives.ReadUInt32BigEndian(b[8..]);
            uint flags = BinaryPrimitives.ReadUInt32BigEndian(b[12..]);
            int nameSize = BinaryPrimitives.ReadUInt16BigEndian(b[18..]);
            uint extraSize = BinaryPrimitives.ReadUInt32BigEndian(b[20..]);
            if (nameSize == 0 || nameSize > Qcow2Bitmap.MaxNameBytes || extraSize > dir.Length - pos - 24 - nameSize)
                throw new BlockException($"Bitmap directory entry {i} is invalid");
            var bitmap = new Qcow2Bitmap
            {
                TableOffset = (long)Math.Min(tableOffset, long.MaxValue),
                TableSize = (int)Math.Min(tableSize, int.MaxValue),
                Flags = flags,
                Type = b[16],
                GranularityBits = b[17],
                ExtraData = b.Slice(24, (int)extraSize).ToArray(),
                Name = Encoding.UTF8.GetString(b.Slice(24 + (int)extraSize, nameSize)),
            };
            CheckBitmapEntry(bitmap);
            list.Add(bitmap);
            pos += (24 + (int)extraSize + nameSize + 7) & ~7;
        }
        _bitmaps = list;
    }

    /// <summary>Refuses a directory entry that would make the bitmap's table or data unbounded or misplaced.</summary>
    private void CheckBitmapEntry(Qcow2Bitmap b)
    {
        string why =
            (b.Flags & ~(Qcow2Bitmap.FlagInUse | Qcow2Bitmap.FlagAuto | Qcow2Bitmap.FlagExtraDataCompatible)) != 0 ? "reserved flags are set"
            : b.GranularityBits is < Qcow2Bitmap.MinGranularityBits or > Qcow2Bitmap.MaxGranularityBits ? $"granularity 2^{b.GranularityBits} is not supported"
            : b.TableOffset == 0 || (b.TableOffset & ClusterMask) != 0 ? "its table offset is invalid"
            : b.TableSize > BitmapTableMaxEntries ? "its table is too large"
            : b.TableOffset + (long)b.TableSize * 8 > _file.Length ? "its table lies beyond the end of the image file"
            : !b.InUse && b.TableSize != BitmapClusters(b) ? $"its table has {b.TableSize} entries, not the {BitmapClusters(b)} the disk size needs"
            : "";
        if (why != "")
            throw new BlockException($"Bitmap '{b.Name}' is invalid: {why}");
    }

    private long BitmapClusters(Qcow2Bitmap b) => (b.DataBytes(Size) + ClusterMask) >> ClusterBits;

    /// <summary>The bitmap table, each entry checked: a data cluster inside the file, or 0 (zeros) or 1 (ones).</summary>
    private ulong[] ReadBitmapTable(Qcow2Bitmap b)
    {
        var raw = new byte[(long)b.TableSize * 8];
        _file.Read(b.TableOffset, raw);
        var table = new ulong[b.TableSize];
        long fileLength = _file.Length;
        for (int i = 0; i < table.Length; i++)
        {
            ulong e = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
            long offset = (long)(e & OffsetMask);
            if ((e & BitmapTableReserved) != 0 || (offset & ClusterMask) != 0 || (offset != 0 && (e & 1) != 0)
                || offset >= fileLength)
                throw new BlockException($"Bitmap '{b.Name}' has an invalid table entry {i}: 0x{e:x16}");
            table[i] = e;
        }
        return table;
    }

    /// <summary>The bitmap's bits (bit n of byte k covers the disk's granule 8k + n).</summary>
    private byte[] ReadBitmapData(Qcow2Bitmap b, ulong[] table)
    {
        long bytes = b.DataBytes(Size);
        if (bytes > MaxBitmapBytes)
            throw new BlockException($"Bitmap '{b.Name}' is too large ({bytes} bytes) to load");
        var data = new byte[bytes];
        for (int k = 0; k < table.Length && (long)k << ClusterBits < bytes; k++)
        {
            var chunk = data.AsSpan((int)((long)k << ClusterBits), (int)Math.Min(ClusterSize, bytes - ((long)k << ClusterBits)));
            long offset = (long)(table[k] & OffsetMask);
            if (offset != 0)
                _file.Read(offset, chunk);
            else if ((table[k] & 1) != 0)
                chunk.Fill(0xFF);
        }
        return data;
    }

    /// <summary>Stores the bits: all-zero clusters lose their allocation, others are written in place or to new
    /// clusters, then the table is rewritten in place. The caller holds the in-use flag on disk meanwhile.</summary>
    private void WriteBitmapData(Qcow2Bitmap b, ulong[] table, byte[] data)
    {
        var cluster = new byte[ClusterSize];
        for (int k = 0; k < table.Length; k++)
        {
            long start = (long)k << ClusterBits;
            var chunk = start < data.Length ? data.AsSpan((int)start, (int)Math.Min(ClusterSize, data.Length - start)) : [];
            long offset = (long)(table[k] & OffsetMask);
            if (!chunk.ContainsAnyExcept((byte)0))
            {
                if (offset != 0)
                    DeferFree(offset, 1);
                table[k] = 0;
                continue;
            }
            if (offset == 0)
                offset = AllocateClusters(1);
            Array.Clear(cluster);
            chunk.CopyTo(cluster);
            WriteMetadata(offset, cluster, Qcow2Overlap.None);
            table[k] = (ulong)offset;
        }
        var raw = new byte[table.Length * 8];
        for (int i = 0; i < table.Length; i++)
            BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), table[i]);
        WriteMetadata(b.TableOffset, raw, Qcow2Overlap.None);
    }

    /// <summary>Reads a bitmap's data, lets <paramref name="change"/> alter it and stores it; the caller holds the
    /// in-use flag on disk.</summary>
    private void RewriteBitmapData(Qcow2Bitmap b, Action<byte[]> change)
    {
        var table = ReadBitmapTable(b);
        var data = ReadBitmapData(b, table);
        change(data);
        WriteBitmapData(b, table, data);
    }

    private byte[] SerializeBitmapDirectory()
    {
        var dir = new byte[_bitmaps.Sum(b => b.EntryBytes)];
        int pos = 0;
        foreach (var b in _bitmaps)
        {
            var e = dir.AsSpan(pos);
            BinaryPrimitives.WriteUInt64BigEndian(e, (ulong)b.TableOffset);
            BinaryPrimitives.WriteUInt32BigEndian(e[8..], (uint)b.TableSize);
            BinaryPrimitives.WriteUInt32BigEndian(e[12..], b.Flags);
            e[16] = b.Type;
            e[17] = (byte)b.GranularityBits;
            var name = Encoding.UTF8.GetBytes(b.Name);
            BinaryPrimitives.WriteUInt16BigEndian(e[18..], (ushort)name.Length);
            BinaryPrimitives.WriteUInt32BigEndian(e[20..], (uint)b.ExtraData.Length);
            b.ExtraData.CopyTo(e[24..]);
            name.CopyTo(e[(24 + b.ExtraData.Length)..]);
            pos += b.EntryBytes;
        }
        return dir;
    }

    /// <summary>Writes the directory to new clusters, points the header at it (or drops the extension when no bitmap is
    /// left), then frees the old directory.</summary>
    private void WriteBitmapDirectory()
    {
        var old = Header.Bitmaps;
        if (_bitmaps.Count == 0)
        {
            Header.Bitmaps = null;
            Header.AutoclearFeatures &= ~Qcow2Header.AutoclearBitmaps;
            WriteHeader();
            _file.Flush();
        }
        else
        {
            var dir = SerializeBitmapDirectory();
            long offset = WriteToNewClusters(dir);
            Header.Bitmaps = new BitmapsExtension(_bitmaps.Count, dir.Length, offset);
            Header.AutoclearFeatures |= Qcow2Header.AutoclearBitmaps;
            WriteHeader();
            _file.Flush();
        }
        if (old != null)
            FreeClusters(old.DirectoryOffset, (int)((old.DirectorySize + ClusterMask) >> ClusterBits));
    }

    // ---------- tracking writes ----------

    /// <summary>Records a write of [offset, offset + length) in every enabled bitmap; the first one marks them in use
    /// on disk before any data changes.</summary>
    private void MarkBitmapsDirty(long offset, long length)
    {
        if (_bitmaps.Count == 0 || length <= 0)
            return;
        if (_tracked == null)
        {
            lock (_lock)
                StartTracking();
        }
        lock (_bitmapLock)
        {
            foreach (var (b, bits) in _tracked!)
                if (bits != null)
                    b.MarkDirty(bits, offset, length, Size);
        }
    }

    private void StartTracking()
    {
        if (_tracked != null)
            return;
        CheckWritable();
        var tracked = new List<(Qcow2Bitmap, byte[]?)>();
        foreach (var b in _bitmaps)
        {
            if (!b.Enabled || b.InUse || !b.Usable)
                continue;
            long bytes = b.DataBytes(Size);
            // A bitmap too large to hold stays marked in use: inconsistent, as QEMU leaves one it fails to save.
            tracked.Add((b, bytes <= MaxBitmapBytes ? new byte[bytes] : null));
            b.Flags |= Qcow2Bitmap.FlagInUse;
        }
        if (tracked.Count > 0)
            WriteBitmapDirectory();
        _tracked = tracked;
    }

    /// <summary>Merges the writes recorded since the image was opened into the enabled bitmaps and clears their in-use
    /// flags (at close, as QEMU stores its bitmaps).</summary>
    private void StoreTrackedBitmaps()
    {
        if (_tracked is not { Count: > 0 } tracked)
            return;
        bool stored = false;
        foreach (var (b, bits) in tracked)
        {
            if (bits == null)
                continue;
            RewriteBitmapData(b, data =>
            {
                for (int i = 0; i < data.Length; i++)
                    data[i] |= bits[i];
            });
            stored = true;
        }
        _tracked = null;
        if (!stored)
            return;
        FlushInternal();
        foreach (var (b, bits) in tracked)
            if (bits != null)
                b.Flags &= ~Qcow2Bitmap.FlagInUse;
        WriteBitmapDirectory();
    }

    // ---------- resize ----------

    /// <summary>Before a resize: stores the writes tracked so far, reads every consistent bitmap and marks it in use on
    /// disk, so a crash during the resize leaves bitmaps inconsistent rather than wrong.</summary>
    private List<(Qcow2Bitmap Bitmap, ulong[] Table, byte[] Data)> PrepareBitmapsForResize(long newSize)
    {
        var list = new List<(Qcow2Bitmap, ulong[], byte[])>();
        if (_bitmaps.Count == 0)
            return list;
        foreach (var b in _bitmaps)
            if (!b.InUse && b.Usable && b.DataBytes(newSize) > MaxBitmapBytes)
                throw new BlockException($"Cannot resize: bitmap '{b.Name}' would be too large ({b.DataBytes(newSize)} bytes)");
        StoreTrackedBitmaps();
        foreach (var b in _bitmaps)
        {
            if (b.InUse || !b.Usable)
                continue;
            var table = ReadBitmapTable(b);
            list.Add((b, table, ReadBitmapData(b, table)));
            b.Flags |= Qcow2Bitmap.FlagInUse;
        }
        if (list.Count > 0)
            WriteBitmapDirectory();
        return list;
    }

    /// <summary>After a resize: each bitmap gets a table for the new size, with granules past the old end clean and those
    /// past the new end dropped (as QEMU resizes them), then its in-use flag clears.</summary>
    private void FinishBitmapsResize(List<(Qcow2Bitmap Bitmap, ulong[] Table, byte[] Data)> bitmaps, long newSize)
    {
        if (bitmaps.Count == 0)
            return;
        var oldTables = new List<(long Offset, long Bytes)>();
        foreach (var (b, table, data) in bitmaps)
        {
            var bits = new byte[b.DataBytes(newSize)];
            data.AsSpan(0, Math.Min(data.Length, bits.Length)).CopyTo(bits);
            int tail = (int)(((newSize + b.Granularity - 1) >> b.GranularityBits) & 7);
            if (tail != 0)
                bits[^1] &= (byte)((1 << tail) - 1);
            int entries = (int)((bits.Length + ClusterMask) >> ClusterBits);
            var resized = new ulong[entries];
            Array.Copy(table, resized, Math.Min(table.Length, entries));
            for (int k = entries; k < table.Length; k++)
                if ((table[k] & OffsetMask) != 0)
                    DeferFree((long)(table[k] & OffsetMask), 1);
            oldTables.Add((b.TableOffset, b.TableBytes));
            b.TableSize = entries;
            b.TableOffset = AllocateClusters((int)((b.TableBytes + ClusterMask) >> ClusterBits));
            WriteBitmapData(b, resized, bits);
        }
        FlushInternal();
        foreach (var (b, _, _) in bitmaps)
            b.Flags &= ~Qcow2Bitmap.FlagInUse;
        WriteBitmapDirectory();
        foreach (var (offset, bytes) in oldTables)
            FreeClusters(offset, (int)((bytes + ClusterMask) >> ClusterBits));
    }

    // ---------- check ----------

    /// <summary>Counts the clusters of the bitmap directory, tables and data for check.</summary>
    private void CheckBitmaps(CheckResult r, Action<long, long, string> inc)
    {
        if (Header.Bitmaps is not { } ext)
            return;
        inc(ext.DirectoryOffset, ext.DirectorySize, "bitmap directory");
        foreach (var b in _bitmaps)
        {
            inc(b.TableOffset, b.TableBytes, $"bitmap table of '{b.Name}'");
            ulong[] table;
            try
            {
                table = ReadBitmapTable(b);
            }
            catch (BlockException e)
            {
                r.Messages.Add($"ERROR {e.Message}");
                r.Corruptions++;
                continue;
            }
            foreach (ulong e in table)
                if ((e & OffsetMask) != 0)
                    inc((long)(e & OffsetMask), ClusterSize, $"bitmap data of '{b.Name}'");
        }
    }
}
