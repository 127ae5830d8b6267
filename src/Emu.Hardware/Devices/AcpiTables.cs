using System.Buffers.Binary;
using System.Text;

namespace Emu.Hardware;

/// <summary>Minimal ACPI tables (RSDP, RSDT, FADT, FACS, DSDT with \_S5) describing the PIIX4 PM device, handed to SeaBIOS through fw_cfg's table loader.</summary>
/// <remarks>SeaBIOS no longer builds ACPI tables itself: it loads "etc/acpi/tables" and "etc/acpi/rsdp" and patches
/// pointers and checksums as "etc/table-loader" says, exactly as with QEMU. When it finds the loader it also
/// moves PMBA to <see cref="PmBase"/>, which is what the FADT below names. With these tables a guest can
/// enable ACPI (SMI_CMD 0xB2) and power off through PM1a_CNT with sleep type 0.</remarks>
public static class AcpiTables
{
    /// <summary>PM I/O base SeaBIOS programs when it loads tables from fw_cfg.</summary>
    public const ushort PmBase = 0x600;
    public const string TablesFile = "etc/acpi/tables", RsdpFile = "etc/acpi/rsdp", LoaderFile = "etc/table-loader";
    private const int HeaderSize = 36, FacsSize = 64, FadtSize = 116, RsdpSize = 20;
    private const int LoaderEntrySize = 128, LoaderNameSize = 56;
    private const uint CommandAllocate = 1, CommandAddPointer = 2, CommandAddChecksum = 3;
    private const byte ZoneHigh = 1, ZoneFSeg = 2;

    // Name (_S5, Package (4) { 0, 0, 0, 0 }): soft-off is sleep type 0, as on QEMU's pc machine.
    private static readonly byte[] DsdtAml = [0x08, (byte)'_', (byte)'S', (byte)'5', (byte)'_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00];

    /// <summary>Adds the tables, the RSDP and the loader script to <paramref name="fwCfg"/>.</summary>
    public static void Install(FwCfg fwCfg)
    {
        var (tables, rsdp, loader) = Build();
        fwCfg.AddFile(TablesFile, tables);
        fwCfg.AddFile(RsdpFile, rsdp);
        fwCfg.AddFile(LoaderFile, loader);
    }

    /// <summary>Builds the three fw_cfg files: the table blob, the RSDP, and the loader commands.</summary>
    public static (byte[] Tables, byte[] Rsdp, byte[] Loader) Build()
    {
        // Layout of the table blob: FACS first (it must be 64-byte aligned), then DSDT, FADT, RSDT.
        int facs = 0;
        int dsdt = facs + FacsSize;
        int dsdtSize = HeaderSize + DsdtAml.Length;
        int fadt = dsdt + dsdtSize;
        int rsdt = fadt + FadtSize;
        int rsdtSize = HeaderSize + 4;
        var tables = new byte[rsdt + rsdtSize];

        Encoding.ASCII.GetBytes("FACS", tables.AsSpan(facs));
        BinaryPrimitives.WriteUInt32LittleEndian(tables.AsSpan(facs + 4), FacsSize);

        WriteHeader(tables.AsSpan(dsdt), "DSDT", dsdtSize, revision: 1);
        DsdtAml.CopyTo(tables, dsdt + HeaderSize);

        var f = tables.AsSpan(fadt, FadtSize);
        WriteHeader(f, "FACP", FadtSize, revision: 1);
        // Pointers hold offsets within the blob; the loader adds the blob's address.
        BinaryPrimitives.WriteUInt32LittleEndian(f[36..], (uint)facs);
        BinaryPrimitives.WriteUInt32LittleEndian(f[40..], (uint)dsdt);
        BinaryPrimitives.WriteUInt16LittleEndian(f[46..], 9);            // SCI on IRQ9
        BinaryPrimitives.WriteUInt32LittleEndian(f[48..], 0xB2);         // SMI_CMD (APM control port)
        f[52] = 0xF1;                                                    // ACPI_ENABLE
        f[53] = 0xF0;                                                    // ACPI_DISABLE
        BinaryPrimitives.WriteUInt32LittleEndian(f[56..], PmBase);       // PM1a_EVT_BLK
        BinaryPrimitives.WriteUInt32LittleEndian(f[64..], PmBase + 4u);  // PM1a_CNT_BLK
        BinaryPrimitives.WriteUInt32LittleEndian(f[76..], PmBase + 8u);  // PM_TMR_BLK
        BinaryPrimitives.WriteUInt32LittleEndian(f[80..], 0xAFE0);       // GPE0_BLK
        f[88] = 4;                                                       // PM1_EVT_LEN
        f[89] = 2;                                                       // PM1_CNT_LEN
        f[91] = 4;                                                       // PM_TMR_LEN
        f[92] = 4;                                                       // GPE0_BLK_LEN
        BinaryPrimitives.WriteUInt16LittleEndian(f[96..], 0xFFF);        // no C2
        BinaryPrimitives.WriteUInt16LittleEndian(f[98..], 0xFFF);        // no C3
        f[108] = 0x32;                                                   // CMOS century register
        // WBINVD works, C1 supported, no fixed sleep button, RTC can wake from S4.
        BinaryPrimitives.WriteUInt32LittleEndian(f[112..], 1u << 0 | 1u << 2 | 1u << 5 | 1u << 7);

        WriteHeader(tables.AsSpan(rsdt), "RSDT", rsdtSize, revision: 1);
        BinaryPrimitives.WriteUInt32LittleEndian(tables.AsSpan(rsdt + HeaderSize), (uint)fadt);

        var rsdp = new byte[RsdpSize];
        Encoding.ASCII.GetBytes("RSD PTR ", rsdp);
        Encoding.ASCII.GetBytes("EMU   ", rsdp.AsSpan(9));
        BinaryPrimitives.WriteUInt32LittleEndian(rsdp.AsSpan(16), (uint)rsdt);

        var loader = new List<byte[]>
        {
            Allocate(RsdpFile, 16, ZoneFSeg),   // the RSDP must be found by scanning the F segment
            Allocate(TablesFile, 64, ZoneHigh),
            AddPointer(TablesFile, fadt + 36, TablesFile),
            AddPointer(TablesFile, fadt + 40, TablesFile),
            AddChecksum(TablesFile, fadt + 9, fadt, FadtSize),
            AddChecksum(TablesFile, dsdt + 9, dsdt, dsdtSize),
            AddPointer(TablesFile, rsdt + HeaderSize, TablesFile),
            AddChecksum(TablesFile, rsdt + 9, rsdt, rsdtSize),
            AddPointer(RsdpFile, 16, TablesFile),
            AddChecksum(RsdpFile, 8, 0, RsdpSize),
        };
        return (tables, rsdp, loader.SelectMany(entry => entry).ToArray());
    }

    private static void WriteHeader(Span<byte> table, string signature, int length, byte revision)
    {
        Encoding.ASCII.GetBytes(signature, table);
        BinaryPrimitives.WriteUInt32LittleEndian(table[4..], (uint)length);
        table[8] = revision;
        Encoding.ASCII.GetBytes("EMU   ", table[10..]);
        Encoding.ASCII.GetBytes("EMUPC   ", table[16..]);
        BinaryPrimitives.WriteUInt32LittleEndian(table[24..], 1);
        Encoding.ASCII.GetBytes("EMU ", table[28..]);
        BinaryPrimitives.WriteUInt32LittleEndian(table[32..], 1);
    }

    private static byte[] Entry(uint command, out Span<byte> body)
    {
        var entry = new byte[LoaderEntrySize];
        BinaryPrimitives.WriteUInt32LittleEndian(entry, command);
        body = entry.AsSpan(4);
        return entry;
    }

    private static byte[] Allocate(string file, uint align, byte zone)
    {
        var entry = Entry(CommandAllocate, out var body);
        Encoding.ASCII.GetBytes(file, body);
        BinaryPrimitives.WriteUInt32LittleEndian(body[LoaderNameSize..], align);
        body[LoaderNameSize + 4] = zone;
        return entry;
    }

    private static byte[] AddPointer(string destination, int offset, string source)
    {
        var entry = Entry(CommandAddPointer, out var body);
        Encoding.ASCII.GetBytes(destination, body);
        Encoding.ASCII.GetBytes(source, body[LoaderNameSize..]);
        BinaryPrimitives.WriteUInt32LittleEndian(body[(2 * LoaderNameSize)..], (uint)offset);
        body[2 * LoaderNameSize + 4] = 4; // 32-bit pointer
        return entry;
    }

    private static byte[] AddChecksum(string file, int offset, int start, int length)
    {
        var entry = Entry(CommandAddChecksum, out var body);
        Encoding.ASCII.GetBytes(file, body);
        BinaryPrimitives.WriteUInt32LittleEndian(body[LoaderNameSize..], (uint)offset);
        BinaryPrimitives.WriteUInt32LittleEndian(body[(LoaderNameSize + 4)..], (uint)start);
        BinaryPrimitives.WriteUInt32LittleEndian(body[(LoaderNameSize + 8)..], (uint)length);
        return entry;
    }
}
