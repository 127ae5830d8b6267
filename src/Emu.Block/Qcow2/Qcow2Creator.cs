using System.Buffers.Binary;

namespace Emu.Block.Qcow2;

/// <summary>Options of <c>qemu-img create -f qcow2 -o ...</c> that this driver supports.</summary>
public sealed record Qcow2CreateOptions
{
    public long Size { get; init; }
    /// <summary>3 for compat=1.1 (the default), 2 for compat=0.10.</summary>
    public int Version { get; init; } = 3;
    public int ClusterSize { get; init; } = 65536;
    public int RefcountBits { get; init; } = 16;
    public bool LazyRefcounts { get; init; }
    /// <summary>128-bit L2 entries with 32 subclusters per cluster (extended_l2=on).</summary>
    public bool ExtendedL2 { get; init; }
    public string? BackingFile { get; init; }
    public string? BackingFormat { get; init; }
    /// <summary>Passphrase for legacy AES encryption (encrypt.format=aes), or null.</summary>
    public string? AesKey { get; init; }
    /// <summary>External data file to create and keep guest data in (data_file), or null.</summary>
    public string? DataFile { get; init; }
    /// <summary>The data file is kept a valid raw image of the disk (data_file_raw).</summary>
    public bool DataFileRaw { get; init; }
    /// <summary>Qcow2Header.CompressionZlib or CompressionZstd (which needs version 3).</summary>
    public byte CompressionType { get; init; }
    /// <summary>Passphrase for LUKS encryption (encrypt.format=luks), or null.</summary>
    public string? LuksKey { get; init; }
    /// <summary>Algorithms and iteration time of the LUKS header (with <see cref="LuksKey"/>).</summary>
    public Crypto.LuksFormatOptions Luks { get; init; } = new();
}

/// <summary>Creates empty qcow2 images laid out as QEMU lays them out.</summary>
public static class Qcow2Creator
{
    /// <summary>Creates a qcow2 overlay in the temporary folder over <paramref name="backing"/> (a snapshot: writes go
    /// to the overlay, the image is only read) and returns its path; the caller deletes it when done.</summary>
    public static string CreateTemporaryOverlay(string backing, string backingFormat, long size)
    {
        string overlay = Path.Combine(Path.GetTempPath(), $"emu-snapshot-{Environment.ProcessId}-{Guid.NewGuid():N}.qcow2");
        Create(overlay, new Qcow2CreateOptions { Size = size, BackingFile = Path.GetFullPath(backing), BackingFormat = backingFormat });
        return overlay;
    }

    public static void Create(string path, Qcow2CreateOptions o)
    {
        int cs = o.ClusterSize;
        if (cs < 512 || cs > (2 << 20) || (cs & (cs - 1)) != 0)
            throw new BlockException("Cluster size must be a power of two between 512 and 2048k");
        if (o.RefcountBits < 1 || o.RefcountBits > 64 || (o.RefcountBits & (o.RefcountBits - 1)) != 0)
            throw new BlockException("Refcount width must be a power of two and may not exceed 64 bits");
        if (o.Version == 2 && o.RefcountBits != 16)
            throw new BlockException("Different refcount widths than 16 bits require compatibility level 1.1 or above (use compat=1.1 or greater)");
        if (o.Version == 2 && o.LazyRefcounts)
            throw new BlockException("Lazy refcounts only supported with compatibility level 1.1 and above (use compat=1.1 or greater)");
        if (o.Version == 2 && o.CompressionType != Qcow2Header.CompressionZlib)
            throw new BlockException("Non-zlib compression type is only supported with compatibility level 1.1 and above (use version=v3 or greater)");
        if (o.ExtendedL2 && o.Version == 2)
            throw new BlockException("Extended L2 entries are only supported with compatibility level 1.1 and above (use version=v3 or greater)");
        if (o.ExtendedL2 && cs < 16384)
            throw new BlockException("Extended L2 entries are only supported with cluster sizes of at least 16384 bytes");
        if (o.Size < 0)
            throw new BlockException("Image size must be a non-negative number");
        if (o.BackingFormat != null && o.BackingFile == null)
            throw new BlockException("Backing format cannot be used without backing file");
        if (o.DataFileRaw && o.DataFile == null)
            throw new BlockException("data-file-raw requires data-file");
        if (o.DataFile != null && o.Version < 3)
            throw new BlockException("External data files are only supported with compatibility level 1.1 and above (use compat=1.1 or greater)");
        if (o.DataFile != null && (o.DataFile.Length == 0 || System.Text.Encoding.UTF8.GetByteCount(o.DataFile) > Qcow2Header.MaxDataFileNameLength))
            throw new BlockException("Invalid data file name");
        int clusterBits = System.Numerics.BitOperations.Log2((uint)cs);
        long l1Size = Qcow2Header.SizeToL1(o.Size, clusterBits, o.ExtendedL2);
        if (l1Size * 8 > Qcow2Header.MaxL1Bytes)
            throw new BlockException("Image size is too big for the cluster size (the L1 table would exceed 32 MiB)");
        int order = System.Numerics.BitOperations.Log2((uint)o.RefcountBits);
        if (o.AesKey != null && o.LuksKey != null)
            throw new BlockException("Only one encryption format can be used");
        // Like QEMU, the LUKS header area takes whole clusters right after the L1 table.
        byte[]? luksArea = o.LuksKey != null ? Crypto.LuksVolume.Format(o.Luks, o.LuksKey).Area : null;
        long luksClusters = luksArea != null ? (luksArea.Length + cs - 1) / cs : 0;

        long perBlock = (long)cs * 8 / o.RefcountBits;
        long l1Clusters = (l1Size * 8 + cs - 1) / cs;
        long tableClusters = 1, blocks = 1;
        while (true)
        {
            long total = 1 + tableClusters + blocks + l1Clusters + luksClusters;
            long needBlocks = (total + perBlock - 1) / perBlock;
            long needTable = (needBlocks * 8 + cs - 1) / cs;
            if (needBlocks == blocks && needTable == tableClusters)
                break;
            blocks = needBlocks;
            tableClusters = needTable;
        }
        long totalClusters = 1 + tableClusters + blocks + l1Clusters + luksClusters;
        long refTableOffset = cs;
        long blocksOffset = refTableOffset + tableClusters * cs;
        long l1Offset = blocksOffset + blocks * cs;
        long luksOffset = l1Offset + l1Clusters * cs;

        var header = new Qcow2Header
        {
            Version = o.Version,
            ClusterBits = clusterBits,
            Size = o.Size,
            CryptMethod = o.AesKey != null ? 1u : luksArea != null ? 2u : 0u,
            CryptoHeaderOffset = luksArea != null ? luksOffset : 0,
            CryptoHeaderLength = luksArea?.Length ?? 0,
            L1Size = (int)l1Size,
            L1TableOffset = l1Size > 0 ? l1Offset : 0,
            RefcountTableOffset = refTableOffset,
            RefcountTableClusters = (int)tableClusters,
            RefcountOrder = order,
            CompatibleFeatures = o.LazyRefcounts ? Qcow2Header.CompatLazyRefcounts : 0,
            CompressionType = o.CompressionType,
            BackingFile = o.BackingFile,
            BackingFormat = o.BackingFormat,
            DataFile = o.DataFile,
            IncompatibleFeatures = (o.CompressionType != Qcow2Header.CompressionZlib ? Qcow2Header.IncompatCompression : 0)
                | (o.DataFile != null ? Qcow2Header.IncompatDataFile : 0)
                | (o.ExtendedL2 ? Qcow2Header.IncompatExtendedL2 : 0),
            AutoclearFeatures = o.DataFileRaw ? Qcow2Header.AutoclearDataFileRaw : 0,
        };

        // Like qemu-img 7.2, the data file is created (sparse) at the disk's size, relative names relative to the current directory.
        if (o.DataFile != null)
            Raw.RawDriver.Create(o.DataFile, o.Size);
        var headerBytes = header.Serialize();
        using var file = HostFile.Create(path);
        file.Write(0, headerBytes);
        var table = new byte[tableClusters * cs];
        for (long b = 0; b < blocks; b++)
            BinaryPrimitives.WriteUInt64BigEndian(table.AsSpan((int)(b * 8)), (ulong)(blocksOffset + b * cs));
        file.Write(refTableOffset, table);
        var block = new byte[cs];
        for (long b = 0; b < blocks; b++)
        {
            Array.Clear(block);
            for (long c = b * perBlock; c < Math.Min(totalClusters, (b + 1) * perBlock); c++)
                Qcow2Driver.WriteRefEntry(block, (int)(c - b * perBlock), order, 1);
            file.Write(blocksOffset + b * cs, block);
        }
        if (l1Size > 0)
            file.Write(l1Offset, new byte[l1Size * 8]);
        if (luksArea != null)
        {
            file.Write(luksOffset, luksArea);
            // The rest of the last cluster reads as zeroes, as QEMU fills it.
            long end = luksOffset + luksClusters * cs;
            if (file.Length < end)
                file.SetLength(end);
        }
        file.Flush();
        // The image is opened again below: this process's own open would hold the lock it needs.
        file.Dispose();
        if (o.DataFileRaw)
        {
            using var d = (Qcow2Driver)ImageOpener.Open(path, new ImageOptions { Format = "qcow2", EncryptionKey = o.AesKey });
            d.MapWholeDataFile();
        }
    }
}
