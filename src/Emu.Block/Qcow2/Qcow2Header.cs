using System.Buffers.Binary;
using System.Text;

namespace Emu.Block.Qcow2;

/// <summary>The qcow2 image header with its extensions: parse, validate and serialise.</summary>
public sealed class Qcow2Header
{
    public const uint Magic = 0x514649fb;
    public const int V2HeaderLength = 72;
    public const int V3HeaderLength = 112;
    public const int MaxBackingNameLength = 1023;
    public const int MaxDataFileNameLength = 4096;
    public const int MaxSnapshots = 65536;
    public const long MaxL1Bytes = 32L << 20;
    public const long MaxRefcountTableBytes = 8L << 20;

    public const uint ExtEnd = 0;
    public const uint ExtBackingFormat = 0xe2792aca;
    public const uint ExtFeatureNames = 0x6803f857;
    public const uint ExtBitmaps = 0x23852875;
    public const uint ExtCrypto = 0x0537be77;
    public const uint ExtDataFile = 0x44415441;

    public const ulong IncompatDirty = 1, IncompatCorrupt = 2, IncompatDataFile = 4, IncompatCompression = 8, IncompatExtendedL2 = 16;
    public const ulong CompatLazyRefcounts = 1;
    public const byte CompressionZlib = 0, CompressionZstd = 1;
    public const ulong AutoclearBitmaps = 1, AutoclearDataFileRaw = 2;

    public int Version;
    public ulong BackingFileOffset;
    public uint BackingFileSize;
    public int ClusterBits;
    public long Size;
    public uint CryptMethod;
    public int L1Size;
    public long L1TableOffset;
    public long RefcountTableOffset;
    public int RefcountTableClusters;
    public int NbSnapshots;
    public long SnapshotsOffset;
    public ulong IncompatibleFeatures;
    public ulong CompatibleFeatures;
    public ulong AutoclearFeatures;
    public int RefcountOrder = 4;
    public int HeaderLength;
    public byte CompressionType;

    /// <summary>Where the LUKS header area lives (crypto header extension), or 0 when there is none.</summary>
    public long CryptoHeaderOffset;
    public long CryptoHeaderLength;

    public string? BackingFile;
    /// <summary>The bitmaps extension (v3 with the bitmaps autoclear bit), or null.</summary>
    public BitmapsExtension? Bitmaps;
    public string? BackingFormat;
    public string? DataFile;

    /// <summary>Extensions this driver does not interpret, kept verbatim on rewrite.</summary>
    public List<(uint Type, byte[] Data)> UnknownExtensions { get; } = [];

    public int ClusterSize => 1 << ClusterBits;
    /// <summary>True when L2 entries are 128 bits with a subcluster bitmap (incompatible feature bit 4).</summary>
    public bool ExtendedL2 => (IncompatibleFeatures & IncompatExtendedL2) != 0;
    public int L2Bits => ClusterBits - (ExtendedL2 ? 4 : 3);
    public int RefcountBits => 1 << RefcountOrder;

    /// <summary>Entries needed in the L1 table to map a disk of the given size.</summary>
    public static long SizeToL1(long size, int clusterBits, bool extendedL2 = false)
    {
        int shift = clusterBits + clusterBits - (extendedL2 ? 4 : 3);
        return (long)(((ulong)size + (1UL << shift) - 1) >> shift);
    }

    private static readonly (byte Type, byte Bit, string Name)[] KnownFeatures =
    [
        (0, 0, "dirty bit"), (0, 1, "corrupt bit"), (0, 2, "external data file"),
        (0, 3, "compression type"), (0, 4, "extended L2 entries"),
        (1, 0, "lazy refcounts"), (2, 0, "bitmaps"), (2, 1, "raw external data"),
    ];

    /// <summary>Parses and validates the header from the start of the image file.</summary>
    public static Qcow2Header Parse(HostFile file)
    {
        long fileLength = file.Length;
        var fixedPart = new byte[V3HeaderLength];
        if (fileLength < V2HeaderLength)
            throw new BlockException("Image is not in qcow2 format");
        file.Read(0, fixedPart);
        ReadOnlySpan<byte> b = fixedPart;
        if (BinaryPrimitives.ReadUInt32BigEndian(b) != Magic)
            throw new BlockException("Image is not in qcow2 format");
        var h = new Qcow2Header
        {
            Version = (int)BinaryPrimitives.ReadUInt32BigEndian(b[4..]),
            BackingFileOffset = BinaryPrimitives.ReadUInt64BigEndian(b[8..]),
            BackingFileSize = BinaryPrimitives.ReadUInt32BigEndian(b[16..]),
        };
        uint clusterBits = BinaryPrimitives.ReadUInt32BigEndian(b[20..]);
        ulong size = BinaryPrimitives.ReadUInt64BigEndian(b[24..]);
        h.CryptMethod = BinaryPrimitives.ReadUInt32BigEndian(b[32..]);
        uint l1Size = BinaryPrimitives.ReadUInt32BigEndian(b[36..]);
        ulong l1Offset = BinaryPrimitives.ReadUInt64BigEndian(b[40..]);
        ulong refTableOffset = BinaryPrimitives.ReadUInt64BigEndian(b[48..]);
        uint refTableClusters = BinaryPrimitives.ReadUInt32BigEndian(b[56..]);
        uint nbSnapshots = BinaryPrimitives.ReadUInt32BigEndian(b[60..]);
        ulong snapshotsOffset = BinaryPrimitives.ReadUInt64BigEndian(b[64..]);

        if (h.Version is not (2 or 3))
            throw new BlockException($"Unsupported qcow2 version {h.Version}");
        if (clusterBits is < 9 or > 21)
            throw new BlockException($"Unsupported cluster size: 2^{clusterBits}");
        h.ClusterBits = (int)clusterBits;
        int clusterSize = h.ClusterSize;

        if (h.Version == 3)
        {
            h.IncompatibleFeatures = BinaryPrimitives.ReadUInt64BigEndian(b[72..]);
            h.CompatibleFeatures = BinaryPrimitives.ReadUInt64BigEndian(b[80..]);
            h.AutoclearFeatures = BinaryPrimitives.ReadUInt64BigEndian(b[88..]);
            uint order = BinaryPrimitives.ReadUInt32BigEndian(b[96..]);
            uint headerLength = BinaryPrimitives.ReadUInt32BigEndian(b[100..]);
            if (headerLength < 104)
                throw new BlockException("qcow2 header too short");
            if (headerLength > clusterSize)
                throw new BlockException("qcow2 header exceeds cluster size");
            if (order > 6)
                throw new BlockException("Reference count entry width too large; may not exceed 64 bits");
            h.RefcountOrder = (int)order;
            h.HeaderLength = (int)headerLength;
            if (headerLength > 104)
                h.CompressionType = b[104];
        }
        else
        {
            h.RefcountOrder = 4;
            h.HeaderLength = V2HeaderLength;
        }

        if (size > long.MaxValue / 2)
            throw new BlockException($"Image size {size} is too large");
        h.Size = (long)size;

        // Unknown incompatible features must refuse to open, naming them.
        ulong known = IncompatDirty | IncompatCorrupt | IncompatDataFile | IncompatCompression | IncompatExtendedL2;
        ulong unknown = h.IncompatibleFeatures & ~known;

        if (h.CryptMethod > 2)
            throw new BlockException($"Unsupported encryption method: {h.CryptMethod}");

        if (l1Offset % (ulong)clusterSize != 0)
            throw new BlockException("Invalid L1 table offset");
        if ((ulong)l1Size * 8 > MaxL1Bytes)
            throw new BlockException("Active L1 table too large");
        if (h.ExtendedL2 && clusterSize / 32 < 512)
            throw new BlockException($"Unsupported subcluster size: {clusterSize / 32}");
        if (l1Size < SizeToL1(h.Size, h.ClusterBits, h.ExtendedL2))
            throw new BlockException("L1 table is too small");
        if (l1Size > 0 && (l1Offset == 0 || l1Offset > (ulong)long.MaxValue / 2))
            throw new BlockException("Invalid L1 table offset");
        h.L1Size = (int)l1Size;
        h.L1TableOffset = (long)l1Offset;

        if (refTableOffset % (ulong)clusterSize != 0 || refTableOffset == 0 || refTableOffset > (ulong)long.MaxValue / 2)
            throw new BlockException("Invalid reference count table offset");
        if ((ulong)refTableClusters * (ulong)clusterSize > MaxRefcountTableBytes || refTableClusters == 0)
            throw new BlockException("Reference count table too large");
        h.RefcountTableOffset = (long)refTableOffset;
        h.RefcountTableClusters = (int)refTableClusters;

        if (nbSnapshots > MaxSnapshots)
            throw new BlockException("Too many snapshots");
        if (snapshotsOffset % (ulong)clusterSize != 0 || snapshotsOffset > (ulong)long.MaxValue / 2)
            throw new BlockException("Invalid snapshot table offset");
        h.NbSnapshots = (int)nbSnapshots;
        h.SnapshotsOffset = (long)snapshotsOffset;

        CheckTableInFile("L1 table", h.L1TableOffset, (long)h.L1Size * 8, fileLength);
        CheckTableInFile("Reference count table", h.RefcountTableOffset, (long)h.RefcountTableClusters * clusterSize, fileLength);
        if (h.L1Size > 0 && Overlaps(h.L1TableOffset, (long)h.L1Size * 8, 0, clusterSize))
            throw new BlockException("L1 table overlaps the image header");
        if (Overlaps(h.RefcountTableOffset, (long)h.RefcountTableClusters * clusterSize, 0, clusterSize))
            throw new BlockException("Reference count table overlaps the image header");
        if (h.L1Size > 0 && Overlaps(h.L1TableOffset, (long)h.L1Size * 8, h.RefcountTableOffset, (long)h.RefcountTableClusters * clusterSize))
            throw new BlockException("L1 table overlaps the reference count table");

        // Extensions live in the rest of the first cluster.
        var cluster0 = new byte[clusterSize];
        file.Read(0, cluster0);
        if (h.BackingFileOffset != 0)
        {
            if (h.BackingFileSize > MaxBackingNameLength)
                throw new BlockException("Backing file name too long");
            if (h.BackingFileOffset > (ulong)clusterSize || h.BackingFileOffset + h.BackingFileSize > (ulong)clusterSize)
                throw new BlockException("Invalid backing file offset");
            h.BackingFile = Encoding.UTF8.GetString(cluster0, (int)h.BackingFileOffset, (int)h.BackingFileSize);
        }
        h.ParseExtensions(cluster0);

        h.CheckCryptoHeader(fileLength);

        if (unknown != 0)
            throw new BlockException($"Unsupported qcow2 feature(s): {h.DescribeFeatures(unknown)}");
        if ((h.IncompatibleFeatures & IncompatCompression) != 0 && h.CompressionType == 0)
            throw new BlockException("Invalid compression type header: compression type bit set but type is zlib");
        if (h.CompressionType > 1)
            throw new BlockException($"Unknown compression type: {h.CompressionType}");
        if (h.CompressionType != 0 && (h.IncompatibleFeatures & IncompatCompression) == 0)
            throw new BlockException("Invalid compression type: the compression type bit is not set");
        return h;
    }

    private void CheckCryptoHeader(long fileLength)
    {
        if (CryptMethod != 2)
            return;
        if (CryptoHeaderLength == 0)
            throw new BlockException("LUKS-encrypted image has no crypto header extension");
        if ((CryptoHeaderOffset & (ClusterSize - 1)) != 0 || CryptoHeaderOffset < ClusterSize)
            throw new BlockException($"Invalid crypto header offset 0x{CryptoHeaderOffset:x}");
        if (CryptoHeaderOffset > fileLength || CryptoHeaderLength > fileLength - CryptoHeaderOffset)
            throw new BlockException($"Crypto header lies beyond the end of the image file (offset 0x{CryptoHeaderOffset:x}, length {CryptoHeaderLength}, file size {fileLength})");
    }

    private static bool Overlaps(long a, long alen, long b, long blen) => a < b + blen && b < a + alen;

    private static void CheckTableInFile(string what, long offset, long bytes, long fileLength)
    {
        if (bytes > 0 && offset + bytes > fileLength)
            throw new BlockException($"{what} lies beyond the end of the image file (offset 0x{offset:x}, file size {fileLength})");
    }

    private string DescribeFeatures(ulong unknown)
    {
        var names = new List<string>();
        for (int bit = 0; bit < 64; bit++)
        {
            if ((unknown & (1UL << bit)) == 0)
                continue;
            names.Add(FeatureNameFromTable(0, bit) ?? $"Unknown incompatible feature: {1UL << bit:x}");
        }
        return string.Join(", ", names);
    }

    // The image's own feature name table names features newer than this driver.
    private string? FeatureNameFromTable(int type, int bit)
    {
        foreach (var (t, b, name) in _featureTable ?? [])
            if (t == type && b == bit)
                return name;
        return null;
    }

    private List<(int Type, int Bit, string Name)>? _featureTable;

    private void ParseExtensions(byte[] cluster0)
    {
        int pos = HeaderLength;
        int end = BackingFileOffset != 0 ? (int)BackingFileOffset : cluster0.Length;
        if (Version == 2 && pos >= end)
            return;
        while (pos + 8 <= end)
        {
            uint type = BinaryPrimitives.ReadUInt32BigEndian(cluster0.AsSpan(pos));
            uint len = BinaryPrimitives.ReadUInt32BigEndian(cluster0.AsSpan(pos + 4));
            pos += 8;
            if (type == ExtEnd)
                return;
            if (len > end - pos)
                throw new BlockException($"Header extension 0x{type:x8} too large (length {len})");
            var data = cluster0.AsSpan(pos, (int)len);
            switch (type)
            {
                case ExtBackingFormat:
                    BackingFormat = Encoding.UTF8.GetString(data).TrimEnd('\0');
                    break;
                case ExtFeatureNames:
                    _featureTable = [];
                    for (int i = 0; i + 48 <= data.Length; i += 48)
                        _featureTable.Add((data[i], data[i + 1], Encoding.UTF8.GetString(data.Slice(i + 2, 46)).TrimEnd('\0')));
                    break;
                case ExtCrypto:
                    if (len != 16)
                        throw new BlockException($"Invalid crypto header extension length {len}");
                    ulong cryptoOffset = BinaryPrimitives.ReadUInt64BigEndian(data);
                    ulong cryptoLength = BinaryPrimitives.ReadUInt64BigEndian(data[8..]);
                    if (cryptoOffset > long.MaxValue / 2 || cryptoLength > long.MaxValue / 2 || cryptoLength == 0)
                        throw new BlockException($"Invalid crypto header (offset 0x{cryptoOffset:x}, length {cryptoLength})");
                    CryptoHeaderOffset = (long)cryptoOffset;
                    CryptoHeaderLength = (long)cryptoLength;
                    break;
                case ExtBitmaps when Version >= 3 && (AutoclearFeatures & AutoclearBitmaps) != 0:
                    Bitmaps = BitmapsExtension.Parse(data, ClusterSize);
                    break;
                case ExtDataFile:
                    if (len > MaxDataFileNameLength)
                        throw new BlockException($"Data file name too long ({len} bytes)");
                    DataFile = Encoding.UTF8.GetString(data).TrimEnd('\0');
                    if (DataFile.Length == 0 || DataFile.Contains('\0'))
                        throw new BlockException("Invalid data file name in the image header");
                    break;
                default:
                    UnknownExtensions.Add((type, data.ToArray()));
                    break;
            }
            pos += (int)((len + 7) & ~7u);
        }
    }

    /// <summary>Serialises header, extensions and backing name into one cluster-sized buffer.</summary>
    public byte[] Serialize()
    {
        var buf = new byte[ClusterSize];
        var b = buf.AsSpan();
        BinaryPrimitives.WriteUInt32BigEndian(b, Magic);
        BinaryPrimitives.WriteUInt32BigEndian(b[4..], (uint)Version);
        BinaryPrimitives.WriteUInt32BigEndian(b[20..], (uint)ClusterBits);
        BinaryPrimitives.WriteUInt64BigEndian(b[24..], (ulong)Size);
        BinaryPrimitives.WriteUInt32BigEndian(b[32..], CryptMethod);
        BinaryPrimitives.WriteUInt32BigEndian(b[36..], (uint)L1Size);
        BinaryPrimitives.WriteUInt64BigEndian(b[40..], (ulong)L1TableOffset);
        BinaryPrimitives.WriteUInt64BigEndian(b[48..], (ulong)RefcountTableOffset);
        BinaryPrimitives.WriteUInt32BigEndian(b[56..], (uint)RefcountTableClusters);
        BinaryPrimitives.WriteUInt32BigEndian(b[60..], (uint)NbSnapshots);
        BinaryPrimitives.WriteUInt64BigEndian(b[64..], (ulong)SnapshotsOffset);
        int pos;
        if (Version >= 3)
        {
            HeaderLength = V3HeaderLength;
            BinaryPrimitives.WriteUInt64BigEndian(b[72..], IncompatibleFeatures);
            BinaryPrimitives.WriteUInt64BigEndian(b[80..], CompatibleFeatures);
            BinaryPrimitives.WriteUInt64BigEndian(b[88..], AutoclearFeatures);
            BinaryPrimitives.WriteUInt32BigEndian(b[96..], (uint)RefcountOrder);
            BinaryPrimitives.WriteUInt32BigEndian(b[100..], (uint)HeaderLength);
            b[104] = CompressionType;
            pos = HeaderLength;
        }
        else
        {
            HeaderLength = V2HeaderLength;
            pos = V2HeaderLength;
        }

        void Ext(uint type, ReadOnlySpan<byte> data)
        {
            int need = 8 + ((data.Length + 7) & ~7);
            if (pos + need > buf.Length)
                throw new BlockException("Header extensions do not fit in the first cluster");
            BinaryPrimitives.WriteUInt32BigEndian(buf.AsSpan(pos), type);
            BinaryPrimitives.WriteUInt32BigEndian(buf.AsSpan(pos + 4), (uint)data.Length);
            data.CopyTo(buf.AsSpan(pos + 8));
            pos += need;
        }

        if (BackingFormat != null && BackingFile != null)
            Ext(ExtBackingFormat, Encoding.UTF8.GetBytes(BackingFormat));
        if (CryptoHeaderLength != 0)
        {
            Span<byte> crypto = stackalloc byte[16];
            BinaryPrimitives.WriteUInt64BigEndian(crypto, (ulong)CryptoHeaderOffset);
            BinaryPrimitives.WriteUInt64BigEndian(crypto[8..], (ulong)CryptoHeaderLength);
            Ext(ExtCrypto, crypto);
        }
        if (DataFile != null)
            Ext(ExtDataFile, Encoding.UTF8.GetBytes(DataFile));
        if (Version >= 3)
        {
            var table = new byte[KnownFeatures.Length * 48];
            for (int i = 0; i < KnownFeatures.Length; i++)
            {
                table[i * 48] = KnownFeatures[i].Type;
                table[i * 48 + 1] = KnownFeatures[i].Bit;
                Encoding.ASCII.GetBytes(KnownFeatures[i].Name).CopyTo(table, i * 48 + 2);
            }
            if (ClusterSize - pos >= table.Length + 16 + 8 + (BackingFile?.Length ?? 0))
                Ext(ExtFeatureNames, table);
        }
        if (Bitmaps is { } bitmaps)
            Ext(ExtBitmaps, bitmaps.Serialize());
        // A bitmaps extension left over from a writer without bitmap support (autoclear bit clear) gives way to ours.
        foreach (var (type, data) in UnknownExtensions)
            if (type != ExtBitmaps || Bitmaps == null)
                Ext(type, data);
        if (Version >= 3 || pos > V2HeaderLength)
            Ext(ExtEnd, []);

        if (BackingFile != null)
        {
            var name = Encoding.UTF8.GetBytes(BackingFile);
            if (name.Length > MaxBackingNameLength)
                throw new BlockException("Backing file name too long");
            if (pos + name.Length > buf.Length)
                throw new BlockException("Backing file name does not fit in the first cluster");
            BinaryPrimitives.WriteUInt64BigEndian(b[8..], (ulong)pos);
            BinaryPrimitives.WriteUInt32BigEndian(b[16..], (uint)name.Length);
            name.CopyTo(b[pos..]);
            pos += name.Length;
            BackingFileOffset = (ulong)(pos - name.Length);
            BackingFileSize = (uint)name.Length;
        }
        UsedBytes = pos;
        return buf;
    }

    /// <summary>Bytes of the serialised header actually in use (what needs writing).</summary>
    public int UsedBytes { get; private set; }
}

/// <summary>The qcow2 bitmaps header extension: where the bitmap directory is and how many entries it has.</summary>
public sealed record BitmapsExtension(int Count, long DirectorySize, long DirectoryOffset)
{
    public const int MaxBitmaps = 65535;
    public const long MaxDirectorySize = 1024L * MaxBitmaps;

    internal static BitmapsExtension Parse(ReadOnlySpan<byte> data, int clusterSize)
    {
        if (data.Length != 24)
            throw new BlockException("bitmaps_ext: Invalid extension length");
        uint count = BinaryPrimitives.ReadUInt32BigEndian(data);
        uint reserved = BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
        ulong size = BinaryPrimitives.ReadUInt64BigEndian(data[8..]);
        ulong offset = BinaryPrimitives.ReadUInt64BigEndian(data[16..]);
        if (reserved != 0)
            throw new BlockException("bitmaps_ext: Reserved field is not zero");
        if (count > MaxBitmaps)
            throw new BlockException($"bitmaps_ext: Image has {count} bitmaps, exceeding the QEMU supported maximum of {MaxBitmaps}");
        if (count == 0)
            throw new BlockException("bitmaps_ext: found bitmaps extension with zero bitmaps");
        if (offset == 0 || offset % (ulong)clusterSize != 0 || offset > long.MaxValue / 2)
            throw new BlockException("bitmaps_ext: invalid bitmap directory offset");
        if (size > MaxDirectorySize)
            throw new BlockException($"bitmaps_ext: bitmap directory size ({size}) exceeds the maximum supported size ({MaxDirectorySize})");
        if (size < 24UL * count)
            throw new BlockException($"bitmaps_ext: bitmap directory size ({size}) is too small for {count} bitmaps");
        return new BitmapsExtension((int)count, (long)size, (long)offset);
    }

    internal byte[] Serialize()
    {
        var b = new byte[24];
        BinaryPrimitives.WriteUInt32BigEndian(b, (uint)Count);
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(8), (ulong)DirectorySize);
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(16), (ulong)DirectoryOffset);
        return b;
    }
}
