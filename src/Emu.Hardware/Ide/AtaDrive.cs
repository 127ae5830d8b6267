using System.Text;

namespace Emu.Hardware.Ide;

/// <summary>An ATA hard disk's identity and settings: geometry, IDENTIFY data, multiple-sector and transfer modes.</summary>
public sealed class AtaDrive
{
    /// <summary>Largest READ/WRITE MULTIPLE block we offer (IDENTIFY word 47).</summary>
    public const int MaxMultipleSectors = 16;
    public const int SectorSize = 512;

    /// <summary>Creates a drive over <paramref name="disk"/>; <paramref name="serial"/> appears in IDENTIFY.</summary>
    public AtaDrive(IDiskBackend disk, string serial = "QM00001", string model = "QEMU HARDDISK")
    {
        Disk = disk;
        Serial = serial;
        Model = model;
        TotalSectors = disk.Size / SectorSize;
        // The usual translated geometry: 16 heads, 63 sectors, cylinders capped at 16383.
        Heads = 16;
        SectorsPerTrack = 63;
        Cylinders = (int)Math.Clamp(TotalSectors / (16 * 63), 1, 16383);
        Reset();
    }

    public IDiskBackend Disk { get; }
    public string Serial { get; }
    public string Model { get; }
    public long TotalSectors { get; }
    public int Cylinders { get; }
    public int Heads { get; }
    public int SectorsPerTrack { get; }

    /// <summary>Heads of the CHS translation set by INITIALIZE DEVICE PARAMETERS.</summary>
    public int LogicalHeads { get; internal set; }

    /// <summary>Sectors per track of the CHS translation.</summary>
    public int LogicalSectors { get; internal set; }

    /// <summary>Sectors per DRQ block for READ/WRITE MULTIPLE; 0 = multiple mode off.</summary>
    public int MultipleSectors { get; internal set; }

    /// <summary>Whether the write cache is enabled (SET FEATURES 0x02/0x82).</summary>
    public bool WriteCache { get; internal set; }

    /// <summary>Current transfer mode as set by SET FEATURES 0x03 (0x08|n PIO, 0x20|n MWDMA, 0x40|n UDMA).</summary>
    public byte TransferMode { get; internal set; }

    /// <summary>Back to power-on settings (hardware reset).</summary>
    public void Reset()
    {
        LogicalHeads = Heads;
        LogicalSectors = SectorsPerTrack;
        MultipleSectors = MaxMultipleSectors;
        WriteCache = true;
        TransferMode = 0x44; // UDMA mode 4 selected, as QEMU reports
    }

    /// <summary>Fills <paramref name="data"/> (512 bytes) with IDENTIFY DEVICE data.</summary>
    public void Identify(Span<byte> data)
    {
        var words = new ushort[SectorSize / 2];
        void Word(int index, int value) => words[index] = (ushort)value;
        void Text(int index, int words, string text)
        {
            // ATA strings are space-padded with the two characters of each word swapped.
            var padded = Encoding.ASCII.GetBytes(text.PadRight(2 * words)[..(2 * words)]);
            for (int i = 0; i < padded.Length; i += 2)
                Word(index + i / 2, padded[i] << 8 | padded[i + 1]);
        }

        long lba28 = Math.Min(TotalSectors, 0x0FFF_FFFF);
        int logicalCylinders = (int)Math.Clamp(TotalSectors / (LogicalHeads * LogicalSectors), 1, 65535);
        long chsCapacity = (long)logicalCylinders * LogicalHeads * LogicalSectors;
        Word(0, 0x0040);                        // fixed disk
        Word(1, Cylinders);
        Word(3, Heads);
        Word(6, SectorsPerTrack);
        Text(10, 10, Serial);
        Text(23, 4, "2.5+");
        Text(27, 20, Model);
        Word(47, 0x8000 | MaxMultipleSectors);
        Word(48, 1);                            // 32-bit PIO
        Word(49, 1 << 11 | 1 << 9 | 1 << 8);    // IORDY, LBA, DMA
        Word(50, 0x4000);
        Word(51, 0x200);
        Word(52, 0x200);
        Word(53, 0x0007);                       // words 54-58, 64-70 and 88 are valid
        Word(54, logicalCylinders);
        Word(55, LogicalHeads);
        Word(56, LogicalSectors);
        Word(57, (int)chsCapacity);
        Word(58, (int)(chsCapacity >> 16));
        Word(59, MultipleSectors != 0 ? 0x100 | MultipleSectors : 0);
        Word(60, (int)lba28);
        Word(61, (int)(lba28 >> 16));
        Word(62, 0x07);
        Word(63, 0x07 | ((TransferMode & 0xF8) == 0x20 ? 0x100 << (TransferMode & 7) : 0));
        Word(64, 0x03);                         // PIO modes 3 and 4
        Word(65, 120);
        Word(66, 120);
        Word(67, 120);
        Word(68, 120);
        Word(80, 0xF0);                         // ATA-4 to ATA-7
        Word(81, 0x16);
        Word(82, 1 << 14 | 1 << 5);             // NOP, write cache
        Word(83, 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10); // FLUSH CACHE (EXT), LBA48
        Word(84, 1 << 14);
        Word(85, 1 << 14 | (WriteCache ? 1 << 5 : 0));
        Word(86, 1 << 13 | 1 << 12 | 1 << 10);
        Word(87, 1 << 14);
        Word(88, 0x3F | ((TransferMode & 0xF8) == 0x40 ? 0x100 << (TransferMode & 7) : 0));
        Word(93, 1 | 1 << 14 | 0x2000);
        for (int i = 0; i < 4; i++)
            Word(100 + i, (int)(TotalSectors >> (16 * i)));
        for (int i = 0; i < words.Length; i++)
        {
            data[2 * i] = (byte)words[i];
            data[2 * i + 1] = (byte)(words[i] >> 8);
        }
    }
}
