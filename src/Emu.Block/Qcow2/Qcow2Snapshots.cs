using System.Buffers.Binary;
using System.Text;

namespace Emu.Block.Qcow2;

/// <summary>One internal snapshot as recorded in the qcow2 snapshot table.</summary>
public sealed class Qcow2Snapshot
{
    public long L1TableOffset;
    public int L1Size;
    public string Id = "";
    public string Name = "";
    public uint DateSeconds;
    public uint DateNanoseconds;
    public ulong VmClockNs;
    /// <summary>Size of the saved machine state (the 64-bit field of the extra data when present).</summary>
    public long VmStateSize;
    /// <summary>Virtual disk size when the snapshot was taken.</summary>
    public long DiskSize;
    /// <summary>Instruction count for record/replay; -1 when unknown.</summary>
    public long Icount = -1;
    /// <summary>Extra data beyond the fields this driver knows, kept verbatim.</summary>
    public byte[] UnknownExtra = [];

    public DateTime Date => DateTime.UnixEpoch.AddSeconds(DateSeconds).AddTicks(DateNanoseconds / 100);
}

// The snapshot table and internal snapshot create / apply / delete with their refcount and COPIED rules.
public sealed partial class Qcow2Driver
{
    private const int MaxSnapshotExtraData = 1024;
    private const long MaxSnapshotTableBytes = 64L << 20;

    private List<Qcow2Snapshot> _snapshots = [];
    private long _snapshotTableBytes;

    /// <summary>The internal snapshots, in table order.</summary>
    public IReadOnlyList<Qcow2Snapshot> Snapshots => _snapshots;

    private void LoadSnapshots()
    {
        var list = new List<Qcow2Snapshot>();
        long pos = Header.SnapshotsOffset;
        if (Header.NbSnapshots > 0 && pos == 0)
            throw new BlockException("Invalid snapshot table offset");
        long fileLength = _file.Length;
        var fixedPart = new byte[40];
        for (int i = 0; i < Header.NbSnapshots; i++)
        {
            if (pos + 40 > fileLength)
                throw new BlockException("Snapshot table lies beyond the end of the image file");
            _file.Read(pos, fixedPart);
            var b = fixedPart.AsSpan();
            var s = new Qcow2Snapshot
            {
                L1TableOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(b),
                L1Size = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(b[8..]), int.MaxValue),
                DateSeconds = BinaryPrimitives.ReadUInt32BigEndian(b[16..]),
                DateNanoseconds = BinaryPrimitives.ReadUInt32BigEndian(b[20..]),
                VmClockNs = BinaryPrimitives.ReadUInt64BigEndian(b[24..]),
                VmStateSize = BinaryPrimitives.ReadUInt32BigEndian(b[32..]),
                DiskSize = Header.Size,
            };
            int idSize = BinaryPrimitives.ReadUInt16BigEndian(b[12..]);
            int nameSize = BinaryPrimitives.ReadUInt16BigEndian(b[14..]);
            uint extraSize = BinaryPrimitives.ReadUInt32BigEndian(b[36..]);
            if (extraSize > MaxSnapshotExtraData)
                throw new BlockException($"Too much extra metadata in snapshot table entry {i} ({extraSize} bytes)");
            pos += 40;
            long entryEnd = pos + extraSize + idSize + nameSize;
            if (entryEnd - Header.SnapshotsOffset > MaxSnapshotTableBytes)
                throw new BlockException("Snapshot table is too big");
            if (entryEnd > fileLength)
                throw new BlockException("Snapshot table lies beyond the end of the image file");
            var rest = new byte[extraSize + idSize + nameSize];
            _file.Read(pos, rest);
            var extra = rest.AsSpan(0, (int)extraSize);
            if (extra.Length >= 8)
                s.VmStateSize = (long)BinaryPrimitives.ReadUInt64BigEndian(extra);
            if (extra.Length >= 16)
                s.DiskSize = (long)BinaryPrimitives.ReadUInt64BigEndian(extra[8..]);
            if (extra.Length >= 24)
                s.Icount = (long)BinaryPrimitives.ReadUInt64BigEndian(extra[16..]);
            if (extra.Length > 24)
                s.UnknownExtra = extra[24..].ToArray();
            s.Id = Encoding.UTF8.GetString(rest, (int)extraSize, idSize);
            s.Name = Encoding.UTF8.GetString(rest, (int)extraSize + idSize, nameSize);
            pos = (entryEnd + 7) & ~7L;

            if ((s.L1TableOffset & ClusterMask) != 0 || (s.L1Size > 0 && s.L1TableOffset < ClusterSize))
                throw new BlockException($"Snapshot L1 table offset invalid (snapshot '{s.Name}')");
            if ((long)s.L1Size * 8 > Qcow2Header.MaxL1Bytes)
                throw new BlockException($"Snapshot L1 table too large (snapshot '{s.Name}')");
            if (s.L1TableOffset + (long)s.L1Size * 8 > fileLength)
                throw new BlockException($"Snapshot L1 table lies beyond the end of the image file (snapshot '{s.Name}')");
            list.Add(s);
        }
        _snapshots = list;
        _snapshotTableBytes = pos - Header.SnapshotsOffset;
    }

    private byte[] SerializeSnapshotTable()
    {
        using var ms = new MemoryStream();
        var fixedPart = new byte[40];
        foreach (var s in _snapshots)
        {
            var id = Encoding.UTF8.GetBytes(s.Id);
            var name = Encoding.UTF8.GetBytes(s.Name);
            int extraSize = 24 + s.UnknownExtra.Length;
            var b = fixedPart.AsSpan();
            BinaryPrimitives.WriteUInt64BigEndian(b, (ulong)s.L1TableOffset);
            BinaryPrimitives.WriteUInt32BigEndian(b[8..], (uint)s.L1Size);
            BinaryPrimitives.WriteUInt16BigEndian(b[12..], (ushort)id.Length);
            BinaryPrimitives.WriteUInt16BigEndian(b[14..], (ushort)name.Length);
            BinaryPrimitives.WriteUInt32BigEndian(b[16..], s.DateSeconds);
            BinaryPrimitives.WriteUInt32BigEndian(b[20..], s.DateNanoseconds);
            BinaryPrimitives.WriteUInt64BigEndian(b[24..], s.VmClockNs);
            BinaryPrimitives.WriteUInt32BigEndian(b[32..], s.VmStateSize > uint.MaxValue ? 0 : (uint)s.VmStateSize);
            BinaryPrimitives.WriteUInt32BigEndian(b[36..], (uint)extraSize);
            ms.Write(fixedPart);
            var extra = new byte[24];
            BinaryPrimitives.WriteUInt64BigEndian(extra, (ulong)s.VmStateSize);
            BinaryPrimitives.WriteUInt64BigEndian(extra.AsSpan(8), (ulong)s.DiskSize);
            BinaryPrimitives.WriteUInt64BigEndian(extra.AsSpan(16), (ulong)s.Icount);
            ms.Write(extra);
            ms.Write(s.UnknownExtra);
            ms.Write(id);
            ms.Write(name);
            while (ms.Length % 8 != 0)
                ms.WriteByte(0);
        }
        return ms.ToArray();
    }

    /// <summary>Finds a snapshot by ID first, then by name, as QEMU does.</summary>
    public Qcow2Snapshot? FindSnapshot(string idOrName)
    {
        lock (_lock)
            return _snapshots.Find(s => s.Id == idOrName) ?? _snapshots.Find(s => s.Name == idOrName);
    }

    /// <summary>Creates an internal snapshot of the current disk state (and of the vm-state area, already written).</summary>
    public Qcow2Snapshot CreateSnapshot(string name, long vmStateSize = 0, ulong vmClockNs = 0, DateTime? date = null)
    {
        lock (_lock)
        {
            CheckWritable();
            RefuseWithDataFile("Internal snapshots");
            if (_snapshots.Count >= Qcow2Header.MaxSnapshots)
                throw new BlockException("Too many snapshots");
            FlushInternal();
            int maxId = 0;
            foreach (var s in _snapshots)
                if (int.TryParse(s.Id, out int n) && n > maxId)
                    maxId = n;
            var when = date ?? DateTime.UtcNow;
            long ticks = (when.ToUniversalTime() - DateTime.UnixEpoch).Ticks;
            var snap = new Qcow2Snapshot
            {
                Id = (maxId + 1).ToString(),
                Name = name,
                DateSeconds = (uint)(ticks / TimeSpan.TicksPerSecond),
                DateNanoseconds = (uint)(ticks % TimeSpan.TicksPerSecond * 100),
                VmClockNs = vmClockNs,
                VmStateSize = vmStateSize,
                DiskSize = Header.Size,
                Icount = 0,
                L1Size = _l1.Length,
            };

            CommitSnapshot(snap);

            // The active image does not need the saved state any more; keeping it would only cost copy-on-write.
            if (vmStateSize > 0)
            {
                DiscardVmStateArea();
                FlushInternal();
            }
            return snap;
        }
    }

    /// <summary>Reverts the active disk to a snapshot (its vm-state becomes readable through <see cref="ReadVmState"/>).</summary>
    public void ApplySnapshot(string idOrName)
    {
        lock (_lock)
        {
            CheckWritable();
            var snap = FindSnapshotLocked(idOrName);
            FlushInternal();
            var snapL1 = ReadL1Table(snap.L1TableOffset, snap.L1Size);
            if (snap.L1Size > _l1.Length)
                GrowL1(snap.L1Size);

            UpdateSnapshotRefcount(snapL1, +1);
            FlushInternal();

            var oldL1 = (ulong[])_l1.Clone();
            var newL1 = new ulong[_l1.Length];
            Array.Copy(snapL1, newL1, snapL1.Length);
            var raw = new byte[(long)newL1.Length * 8];
            for (int i = 0; i < newL1.Length; i++)
                BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), newL1[i]);
            WriteMetadata(Header.L1TableOffset, raw, Qcow2Overlap.ActiveL1);
            _l1 = newL1;
            ActiveL1Changed();
            if (snap.DiskSize != Header.Size && snap.DiskSize > 0)
            {
                Header.Size = snap.DiskSize;
                WriteHeader();
            }
            _file.Flush();

            UpdateSnapshotRefcount(oldL1, -1);
            RecomputeCopiedFlags();
            FlushInternal();
        }
    }

    /// <summary>Deletes a snapshot and releases the clusters only it used.</summary>
    public void DeleteSnapshot(string idOrName)
    {
        lock (_lock)
        {
            CheckWritable();
            var snap = FindSnapshotLocked(idOrName);
            FlushInternal();
            _snapshots.Remove(snap);
            WriteSnapshotTable();

            var snapL1 = ReadL1Table(snap.L1TableOffset, snap.L1Size);
            UpdateSnapshotRefcount(snapL1, -1);
            int l1Clusters = Math.Max(1, (snap.L1Size * 8 + ClusterSize - 1) >> ClusterBits);
            if (snap.L1TableOffset != 0)
                FreeClusters(snap.L1TableOffset, l1Clusters);
            RecomputeCopiedFlags();
            FlushInternal();
        }
    }

    private Qcow2Snapshot FindSnapshotLocked(string idOrName) =>
        _snapshots.Find(s => s.Id == idOrName) ?? _snapshots.Find(s => s.Name == idOrName)
        ?? throw new BlockException($"Can't find the snapshot '{idOrName}'");

    internal ulong[] ReadL1Table(long offset, int size)
    {
        var raw = new byte[(long)size * 8];
        _file.Read(offset, raw);
        var l1 = new ulong[size];
        for (int i = 0; i < size; i++)
            l1[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
        return l1;
    }

    /// <summary>Writes the snapshot table to a new place, switches the header to it, then frees the old one.</summary>
    private void WriteSnapshotTable()
    {
        var table = SerializeSnapshotTable();
        long oldOffset = Header.SnapshotsOffset;
        long oldBytes = _snapshotTableBytes;
        long newOffset = table.Length > 0 ? WriteToNewClusters(table) : 0;
        Header.SnapshotsOffset = newOffset;
        Header.NbSnapshots = _snapshots.Count;
        _snapshotTableBytes = table.Length;
        WriteHeader();
        _file.Flush();
        if (oldOffset != 0 && oldBytes > 0)
            FreeClusters(oldOffset, (int)((oldBytes + ClusterSize - 1) >> ClusterBits));
    }

    /// <summary>Writes a table to newly allocated clusters and flushes it with its refcounts, so a header can point
    /// at it next; returns its offset.</summary>
    private long WriteToNewClusters(byte[] table)
    {
        int clusters = (int)((table.Length + ClusterMask) >> ClusterBits);
        long offset = AllocateClusters(clusters);
        var padded = new byte[(long)clusters << ClusterBits];
        table.CopyTo(padded, 0);
        WriteMetadata(offset, padded, Qcow2Overlap.None);
        WriteDirtyRefblocks();
        _file.Flush();
        return offset;
    }

    /// <summary>Adds addend to the refcount of every L2 table and data cluster an L1 table references.</summary>
    private void UpdateSnapshotRefcount(ulong[] l1, int addend)
    {
        foreach (ulong l1e in l1)
        {
            long l2Offset = (long)(l1e & OffsetMask);
            if (l2Offset == 0)
                continue;
            var table = GetL2Table(l1e);
            // Clusters in an external data file have no refcounts; only the L2 table itself does.
            for (int i = 0; i < (_dataFile == null ? L2Entries : 0); i++)
            {
                ulong e = ReadL2(table, i);
                switch (Classify(e))
                {
                    case ClusterKind.Normal:
                    case ClusterKind.Zero when (e & OffsetMask) != 0:
                        UpdateRefcount((long)(e & OffsetMask) >> ClusterBits, addend);
                        break;
                    case ClusterKind.Compressed:
                        var (off, len) = CompressedRange(e);
                        for (long c = off >> ClusterBits; c <= (off + len - 1) >> ClusterBits; c++)
                            UpdateRefcount(c, addend);
                        break;
                }
            }
            UpdateRefcount(l2Offset >> ClusterBits, addend);
        }
    }

    /// <summary>Sets the COPIED flag on exactly the active L1 and L2 entries whose cluster has refcount 1.</summary>
    private void RecomputeCopiedFlags()
    {
        for (int i = 0; i < _l1.Length; i++)
        {
            ulong l1e = _l1[i];
            long l2Offset = (long)(l1e & OffsetMask);
            if (l2Offset == 0)
                continue;
            bool l2Private = GetRefcount(l2Offset >> ClusterBits) == 1;
            ulong wantL1 = l2Private ? l1e | Copied : l1e & ~Copied;
            if (wantL1 != l1e)
                SetL1(i, wantL1);
            var table = GetL2Table(l1e);
            for (int j = 0; j < L2Entries; j++)
            {
                ulong e = ReadL2(table, j);
                var kind = Classify(e);
                if (kind == ClusterKind.Compressed || (e & OffsetMask) == 0)
                    continue;
                bool one = GetRefcount((long)(e & OffsetMask) >> ClusterBits) == 1;
                ulong want = one ? e | Copied : e & ~Copied;
                if (want != e)
                    WriteL2(table, j, want);
            }
        }
    }

    /// <summary>Drops the active image's references to the vm-state area (whole L1 entries: the area is L1-aligned).</summary>
    private void DiscardVmStateArea()
    {
        var dropped = new List<ulong>();
        for (long i = VmStateOffset >> (ClusterBits + L2Bits); i < _l1.Length; i++)
        {
            if ((_l1[i] & OffsetMask) == 0)
                continue;
            dropped.Add(_l1[i]);
            SetL1((int)i, 0);
        }
        if (dropped.Count == 0)
            return;
        FlushInternal();
        UpdateSnapshotRefcount([.. dropped], -1);
    }

    /// <summary>Reads a snapshot's saved machine state without applying the snapshot (loadvm checks it first).</summary>
    public void ReadSnapshotVmState(string idOrName, long position, Span<byte> buffer)
    {
        lock (_lock)
        {
            CheckOpen();
            var snap = FindSnapshotLocked(idOrName);
            if (position < 0 || position + buffer.Length > snap.VmStateSize)
                throw new BlockException($"vm-state read beyond the {snap.VmStateSize} bytes saved in snapshot '{snap.Name}'");
            var l1 = ReadL1Table(snap.L1TableOffset, snap.L1Size);
            long offset = VmStateOffset + position;
            while (buffer.Length > 0)
            {
                int chunk = (int)Math.Min(buffer.Length, ClusterSize - (offset & ClusterMask));
                long l1Index = offset >> (ClusterBits + L2Bits);
                ulong entry = 0, bitmap = 0;
                if (l1Index < l1.Length && (l1[l1Index] & OffsetMask) != 0)
                {
                    var table = GetL2Table(l1[l1Index]);
                    entry = ReadL2(table, L2Index(offset));
                    bitmap = ReadL2Bitmap(table, L2Index(offset));
                }
                var kind = Classify(entry);
                if (ExtendedL2 && kind != ClusterKind.Compressed)
                {
                    if (BitmapInvalid(entry, bitmap))
                        throw MarkCorrupt($"Invalid cluster entry found in the vm-state of snapshot '{snap.Name}'");
                    ReadWithinCluster(offset, entry, bitmap, buffer[..chunk], fromBacking: false);
                }
                else if (kind is ClusterKind.Unallocated or ClusterKind.Zero)
                    buffer[..chunk].Clear();
                else
                    ReadCluster(offset, entry, kind, buffer[..chunk]);
                buffer = buffer[chunk..];
                offset += chunk;
            }
        }
    }
}
