namespace Emu.Block.Qcow2;

/// <summary>Metadata sections a write can be checked against before it reaches the file (QEMU's overlap-check).</summary>
[Flags]
public enum Qcow2Overlap
{
    None = 0,
    MainHeader = 1,
    ActiveL1 = 2,
    ActiveL2 = 4,
    RefcountTable = 8,
    RefcountBlock = 16,
    SnapshotTable = 32,
    InactiveL1 = 64,
    InactiveL2 = 128,
    /// <summary>Sections whose place is known without reading anything: QEMU's "constant".</summary>
    Constant = MainHeader | ActiveL1 | RefcountTable | SnapshotTable,
    /// <summary>Constant plus tables known from memory: QEMU's "cached", the default.</summary>
    Cached = Constant | ActiveL2 | RefcountBlock | InactiveL1,
    /// <summary>Everything, reading the snapshots' L1 tables for their L2 tables: QEMU's "all".</summary>
    All = Cached | InactiveL2,
}

// Overlap checks before every metadata and data write: a write that would land on other metadata marks
// the image corrupt and fails instead of destroying it.
public sealed partial class Qcow2Driver
{
    private readonly Qcow2Overlap _overlapChecks;
    private HashSet<long>? _activeL2Offsets;

    /// <summary>Parses an overlap-check template name (none, constant, cached, all).</summary>
    public static Qcow2Overlap ParseOverlapCheck(string text) => text switch
    {
        "none" => Qcow2Overlap.None,
        "constant" => Qcow2Overlap.Constant,
        "cached" => Qcow2Overlap.Cached,
        "all" => Qcow2Overlap.All,
        _ => throw new BlockException($"Unsupported value '{text}' for qcow2 option 'overlap-check'. Allowed are any of the following: none, constant, cached, all"),
    };

    private static string SectionName(Qcow2Overlap section) => section switch
    {
        Qcow2Overlap.MainHeader => "qcow2_header",
        Qcow2Overlap.ActiveL1 => "active L1 table",
        Qcow2Overlap.ActiveL2 => "active L2 table",
        Qcow2Overlap.RefcountTable => "refcount table",
        Qcow2Overlap.RefcountBlock => "refcount block",
        Qcow2Overlap.SnapshotTable => "snapshot table",
        Qcow2Overlap.InactiveL1 => "inactive L1 table",
        _ => "inactive L2 table",
    };

    /// <summary>Forgets the set of active L2 tables (the active L1 table changed).</summary>
    private void ActiveL1Changed() => _activeL2Offsets = null;

    /// <summary>The first checked metadata section (other than those in ignore) that [offset, offset+length) overlaps, or None.</summary>
    internal Qcow2Overlap FindOverlap(long offset, long length, Qcow2Overlap ignore)
    {
        var check = _overlapChecks & ~ignore;
        if (check == Qcow2Overlap.None || length <= 0)
            return Qcow2Overlap.None;
        static bool Overlap(long a, long alen, long b, long blen) => blen > 0 && a < b + blen && b < a + alen;
        if ((check & Qcow2Overlap.MainHeader) != 0 && Overlap(offset, length, 0, ClusterSize))
            return Qcow2Overlap.MainHeader;
        if ((check & Qcow2Overlap.ActiveL1) != 0 && Overlap(offset, length, Header.L1TableOffset, (long)_l1.Length * 8))
            return Qcow2Overlap.ActiveL1;
        if ((check & Qcow2Overlap.RefcountTable) != 0 && Overlap(offset, length, Header.RefcountTableOffset, (long)Header.RefcountTableClusters << ClusterBits))
            return Qcow2Overlap.RefcountTable;
        if ((check & Qcow2Overlap.SnapshotTable) != 0 && Overlap(offset, length, Header.SnapshotsOffset, _snapshotTableBytes))
            return Qcow2Overlap.SnapshotTable;
        if ((check & Qcow2Overlap.InactiveL1) != 0)
            foreach (var s in _snapshots)
                if (Overlap(offset, length, s.L1TableOffset, (long)s.L1Size * 8))
                    return Qcow2Overlap.InactiveL1;
        if ((check & Qcow2Overlap.ActiveL2) != 0 && AnyClusterIn(offset, length, _activeL2Offsets ??= L2Offsets(_l1)))
            return Qcow2Overlap.ActiveL2;
        if ((check & Qcow2Overlap.RefcountBlock) != 0 && AnyClusterIn(offset, length, _refBlockOffsets ??= BuildRefBlockSet()))
            return Qcow2Overlap.RefcountBlock;
        if ((check & Qcow2Overlap.InactiveL2) != 0)
            foreach (var s in _snapshots)
                if (AnyClusterIn(offset, length, L2Offsets(ReadL1Table(s.L1TableOffset, s.L1Size))))
                    return Qcow2Overlap.InactiveL2;
        return Qcow2Overlap.None;
    }

    private bool AnyClusterIn(long offset, long length, HashSet<long> clusters)
    {
        for (long c = offset & ~ClusterMask; c < offset + length; c += ClusterSize)
            if (clusters.Contains(c))
                return true;
        return false;
    }

    private static HashSet<long> L2Offsets(ulong[] l1)
    {
        var set = new HashSet<long>();
        foreach (ulong e in l1)
            if ((e & OffsetMask) != 0)
                set.Add((long)(e & OffsetMask));
        return set;
    }

    /// <summary>Refuses a metadata write of the given section that would land on other metadata.</summary>
    private void CheckMetadataWrite(long offset, long length, Qcow2Overlap section)
    {
        var hit = FindOverlap(offset, length, section);
        if (hit != Qcow2Overlap.None)
            throw MarkCorrupt($"Preventing invalid write on metadata (overlaps with {SectionName(hit)}; writing {SectionName(section)} at 0x{offset:x})");
    }

    /// <summary>Refuses a guest data write that would land on metadata.</summary>
    private void CheckDataWrite(long host, long length)
    {
        if (_dataFile != null)
            return; // Data lives in another file than the metadata.
        var hit = FindOverlap(host, length, Qcow2Overlap.None);
        if (hit != Qcow2Overlap.None)
            throw MarkCorrupt($"Preventing invalid write on metadata (overlaps with {SectionName(hit)}; data at 0x{host:x})");
    }

    private void WriteMetadata(long offset, ReadOnlySpan<byte> data, Qcow2Overlap section)
    {
        CheckMetadataWrite(offset, data.Length, section);
        _file.Write(offset, data);
    }
}
