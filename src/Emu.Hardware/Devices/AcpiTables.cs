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
        byte[] dsdtAml = BuildDsdtAml();
        // Layout of the table blob: FACS first (it must be 64-byte aligned), then DSDT, FADT, RSDT.
        int facs = 0;
        int dsdt = facs + FacsSize;
        int dsdtSize = HeaderSize + dsdtAml.Length;
        int fadt = dsdt + dsdtSize;
        int rsdt = fadt + FadtSize;
        int rsdtSize = HeaderSize + 4;
        var tables = new byte[rsdt + rsdtSize];

        Encoding.ASCII.GetBytes("FACS", tables.AsSpan(facs));
        BinaryPrimitives.WriteUInt32LittleEndian(tables.AsSpan(facs + 4), FacsSize);

        WriteHeader(tables.AsSpan(dsdt), "DSDT", dsdtSize, revision: 1);
        dsdtAml.CopyTo(tables, dsdt + HeaderSize);

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

    /// <summary>The DSDT body, in AML.</summary>
    /// <remarks>
    /// <code>
    /// Name (_S5, Package (4) { 0, 0, 0, 0 })          // soft-off is sleep type 0, as on QEMU's pc machine
    /// Scope (\_SB) {
    ///   Device (PCI0) {                                 // without a PCI root here Linux finds no PCI bus at all
    ///     Name (_HID, EisaId ("PNP0A03"))
    ///     Name (_ADR, 0)
    ///     Device (KBD) { Name (_HID, EisaId ("PNP0303")) Name (_CRS, { IO 0x60, IO 0x64, IRQ 1 }) }
    ///     Device (MOU) { Name (_HID, EisaId ("PNP0F13")) Name (_CRS, { IRQ 12 }) }
    ///   }
    /// }
    /// </code>
    /// SeaBIOS skips its PS/2 setup when the DSDT lacks PNP0303; Linux's i8042 driver looks for both devices.
    /// </remarks>
    private static byte[] BuildDsdtAml()
    {
        byte[] keyboard = Device("KBD_",
            Name("_HID", EisaId("PNP0303")),
            Name("_CRS", Buffer([.. IoPort(0x60), .. IoPort(0x64), .. Irq(1), .. EndTag])));
        byte[] mouse = Device("MOU_",
            Name("_HID", EisaId("PNP0F13")),
            Name("_CRS", Buffer([.. Irq(12), .. EndTag])));
        byte[] pci = Device("PCI0",
            Name("_HID", EisaId("PNP0A03")),
            Name("_ADR", [0x00]),
            keyboard,
            mouse);
        byte[] sleep = Name("_S5_", [0x12, .. Sized([0x04, 0x00, 0x00, 0x00, 0x00])]);
        byte[] scope = [0x10, .. Sized([(byte)'\\', .. Encoding.ASCII.GetBytes("_SB_"), .. pci])];
        return [.. sleep, .. scope];
    }

    private static byte[] Name(string name, byte[] value) => [0x08, .. Encoding.ASCII.GetBytes(name.PadRight(4, '_')), .. value];

    private static byte[] Device(string name, params byte[][] body) =>
        [0x5B, 0x82, .. Sized([.. Encoding.ASCII.GetBytes(name), .. body.SelectMany(b => b)])];

    private static byte[] Buffer(byte[] bytes) => [0x11, .. Sized([0x0A, (byte)bytes.Length, .. bytes])];

    // I/O port descriptor: 16-bit decode, one port at a fixed address.
    private static byte[] IoPort(ushort port) => [0x47, 0x01, (byte)port, (byte)(port >> 8), (byte)port, (byte)(port >> 8), 0x01, 0x01];

    private static byte[] Irq(int irq) => [0x22, (byte)(1 << irq), (byte)((1 << irq) >> 8)];

    private static byte[] EndTag => [0x79, 0x00];

    // A compressed EISA id as a DWordConst: three letters of 5 bits each, then four hex digits, big-endian.
    private static byte[] EisaId(string id)
    {
        int vendor = (id[0] - '@') << 10 | (id[1] - '@') << 5 | (id[2] - '@');
        int product = Convert.ToInt32(id[3..], 16);
        return [0x0C, (byte)(vendor >> 8), (byte)vendor, (byte)(product >> 8), (byte)product];
    }

    // Prefixes a body with its PkgLength (which counts its own bytes too).
    private static byte[] Sized(byte[] body)
    {
        for (int lengthBytes = 1; ; lengthBytes++)
        {
            byte[] encoded = PkgLength(body.Length + lengthBytes);
            if (encoded.Length == lengthBytes)
                return [.. encoded, .. body];
        }
    }

    // AML PkgLength: one byte below 64, else a lead byte (count of extra bytes, low nibble) and up to 3 more bytes.
    private static byte[] PkgLength(int length)
    {
        if (length < 0x40)
            return [(byte)length];
        int extra = length < 0x1000 ? 1 : length < 0x10_0000 ? 2 : 3;
        var encoded = new byte[extra + 1];
        encoded[0] = (byte)(extra << 6 | (length & 0x0F));
        for (int i = 1; i <= extra; i++)
            encoded[i] = (byte)(length >> (4 + 8 * (i - 1)));
        return encoded;
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
