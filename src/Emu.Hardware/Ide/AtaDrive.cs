namespace Emu.Hardware.Ide;

/// <summary>An ATA hard disk's identity and settings: geometry, IDENTIFY data, multiple-sector and transfer modes.</summary>
public sealed class AtaDrive : IdeDevice
{
    /// <summary>Largest READ/WRITE MULTIPLE block we offer (IDENTIFY word 47).</summary>
    public const int MaxMultipleSectors = 16;

    /// <summary>Largest DATA SET MANAGEMENT payload hosts should send, in 512-byte blocks of 64 ranges (IDENTIFY word 105).</summary>
    public const int MaxTrimBlocks = 1;

    /// <summary>Creates a drive over <paramref name="disk"/>; <paramref name="serial"/> appears in IDENTIFY.</summary>
    public AtaDrive(IDiskBackend disk, string serial = "QM00001", string model = "QEMU HARDDISK")
        : base(serial, model)
    {
        Disk = disk;
        TotalSectors = disk.Size / SectorSize;
        // The usual translated geometry: 16 heads, 63 sectors, cylinders capped at 16383.
        Heads = 16;
        SectorsPerTrack = 63;
        Cylinders = (int)Math.Clamp(TotalSectors / (16 * 63), 1, 16383);
        Reset();
    }

    public IDiskBackend Disk { get; }
    public long TotalSectors { get; }
    public int Cylinders { get; }
    public int Heads { get; }
    public int SectorsPerTrack { get; }

    public override bool IsAtapi => false;

    /// <summary>Heads of the CHS translation set by INITIALIZE DEVICE PARAMETERS.</summary>
    public int LogicalHeads { get; internal set; }

    /// <summary>Sectors per track of the CHS translation.</summary>
    public int LogicalSectors { get; internal set; }

    /// <summary>Sectors per DRQ block for READ/WRITE MULTIPLE; 0 = multiple mode off.</summary>
    public int MultipleSectors { get; internal set; }

    /// <summary>Whether the write cache is enabled (SET FEATURES 0x02/0x82).</summary>
    public bool WriteCache { get; internal set; }

    public override void Reset()
    {
        LogicalHeads = Heads;
        LogicalSectors = SectorsPerTrack;
        MultipleSectors = MaxMultipleSectors;
        WriteCache = true;
        TransferMode = 0x44; // UDMA mode 4 selected, as QEMU reports
    }

    public override void Identify(Span<byte> data)
    {
        var id = new IdentifyWords();
        long lba28 = Math.Min(TotalSectors, 0x0FFF_FFFF);
        int logicalCylinders = (int)Math.Clamp(TotalSectors / (LogicalHeads * LogicalSectors), 1, 65535);
        long chsCapacity = (long)logicalCylinders * LogicalHeads * LogicalSectors;
        id.Word(0, 0x0040);                        // fixed disk
        id.Word(1, Cylinders);
        id.Word(3, Heads);
        id.Word(6, SectorsPerTrack);
        id.Text(10, 10, Serial);
        id.Text(23, 4, "2.5+");
        id.Text(27, 20, Model);
        id.Word(47, 0x8000 | MaxMultipleSectors);
        id.Word(48, 1);                            // 32-bit PIO
        id.Word(49, 1 << 11 | 1 << 9 | 1 << 8);    // IORDY, LBA, DMA
        id.Word(50, 0x4000);
        id.Word(51, 0x200);
        id.Word(52, 0x200);
        id.Word(53, 0x0007);                       // words 54-58, 64-70 and 88 are valid
        id.Word(54, logicalCylinders);
        id.Word(55, LogicalHeads);
        id.Word(56, LogicalSectors);
        id.Word(57, (int)chsCapacity);
        id.Word(58, (int)(chsCapacity >> 16));
        id.Word(59, MultipleSectors != 0 ? 0x100 | MultipleSectors : 0);
        id.Word(60, (int)lba28);
        id.Word(61, (int)(lba28 >> 16));
        id.Word(62, 0x07);
        id.Word(63, 0x07 | ((TransferMode & 0xF8) == 0x20 ? 0x100 << (TransferMode & 7) : 0));
        id.Word(64, 0x03);                         // PIO modes 3 and 4
        id.Word(65, 120);
        id.Word(66, 120);
        id.Word(67, 120);
        id.Word(68, 120);
        id.Word(80, 0xF0);                         // ATA-4 to ATA-7
        id.Word(81, 0x16);
        id.Word(82, 1 << 14 | 1 << 5);             // NOP, write cache
        id.Word(83, 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10); // FLUSH CACHE (EXT), LBA48
        id.Word(84, 1 << 14);
        id.Word(85, 1 << 14 | (WriteCache ? 1 << 5 : 0));
        id.Word(86, 1 << 13 | 1 << 12 | 1 << 10);
        id.Word(87, 1 << 14);
        id.Word(88, 0x3F | ((TransferMode & 0xF8) == 0x40 ? 0x100 << (TransferMode & 7) : 0));
        id.Word(93, 1 | 1 << 14 | 0x2000);
        for (int i = 0; i < 4; i++)
            id.Word(100 + i, (int)(TotalSectors >> (16 * i)));
        id.Word(105, MaxTrimBlocks);
        id.Word(169, 1);                           // DATA SET MANAGEMENT with TRIM
        id.CopyTo(data);
    }

    internal override void SaveSettings(BinaryWriter writer)
    {
        writer.Write(LogicalHeads);
        writer.Write(LogicalSectors);
        writer.Write(MultipleSectors);
        writer.Write(WriteCache);
        writer.Write(TransferMode);
    }

    internal override void LoadSettings(BinaryReader reader)
    {
        LogicalHeads = reader.ReadInt32();
        LogicalSectors = reader.ReadInt32();
        MultipleSectors = reader.ReadInt32();
        WriteCache = reader.ReadBoolean();
        TransferMode = reader.ReadByte();
    }
}
