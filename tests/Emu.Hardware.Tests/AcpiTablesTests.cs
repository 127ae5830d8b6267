using System.Buffers.Binary;
using System.Text;
using Emu.Hardware;

namespace Emu.Hardware.Tests;

public class AcpiTablesTests
{
    private const uint RsdpAddress = 0xF_5000, TablesAddress = 0x7F_0000;

    /// <summary>Runs the loader script the way SeaBIOS does, with the files placed at fixed addresses.</summary>
    private static Dictionary<string, (uint Address, byte[] Data)> RunLoader()
    {
        var (tables, rsdp, loader) = AcpiTables.Build();
        var files = new Dictionary<string, byte[]> { [AcpiTables.TablesFile] = tables, [AcpiTables.RsdpFile] = rsdp };
        var placed = new Dictionary<string, (uint Address, byte[] Data)>();
        string Name(ReadOnlySpan<byte> bytes) => Encoding.ASCII.GetString(bytes[..56]).TrimEnd('\0');
        Assert.Equal(0, loader.Length % 128);
        for (int at = 0; at < loader.Length; at += 128)
        {
            var entry = loader.AsSpan(at, 128);
            var body = entry[4..];
            switch (BinaryPrimitives.ReadUInt32LittleEndian(entry))
            {
                case 1:
                    string file = Name(body);
                    byte zone = body[60];
                    placed[file] = (zone == 2 ? RsdpAddress : TablesAddress, files[file]);
                    break;
                case 2:
                    var destination = placed[Name(body)];
                    var source = placed[Name(body[56..])];
                    int offset = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[112..]);
                    Assert.Equal(4, body[116]);
                    uint value = BinaryPrimitives.ReadUInt32LittleEndian(destination.Data.AsSpan(offset));
                    BinaryPrimitives.WriteUInt32LittleEndian(destination.Data.AsSpan(offset), value + source.Address);
                    break;
                case 3:
                    var target = placed[Name(body)].Data;
                    int checksumAt = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[56..]);
                    int start = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[60..]);
                    int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[64..]);
                    byte sum = 0;
                    foreach (byte b in target.AsSpan(start, length))
                        sum += b;
                    target[checksumAt] -= sum;
                    break;
                default:
                    Assert.Fail("unknown loader command");
                    break;
            }
        }
        return placed;
    }

    private static byte[] TableAt(Dictionary<string, (uint Address, byte[] Data)> placed, uint address, string signature)
    {
        var (baseAddress, data) = placed[AcpiTables.TablesFile];
        int offset = (int)(address - baseAddress);
        Assert.Equal(signature, Encoding.ASCII.GetString(data, offset, 4));
        int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(offset + 4));
        var table = data.AsSpan(offset, length).ToArray();
        byte sum = 0;
        foreach (byte b in table)
            sum += b;
        Assert.Equal(0, sum);
        return table;
    }

    [Fact]
    public void LoaderProducesLinkedTablesWithValidChecksums()
    {
        var placed = RunLoader();
        var rsdp = placed[AcpiTables.RsdpFile].Data;
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(rsdp, 0, 8));
        byte sum = 0;
        foreach (byte b in rsdp)
            sum += b;
        Assert.Equal(0, sum);

        var rsdt = TableAt(placed, BinaryPrimitives.ReadUInt32LittleEndian(rsdp.AsSpan(16)), "RSDT");
        var fadt = TableAt(placed, BinaryPrimitives.ReadUInt32LittleEndian(rsdt.AsSpan(36)), "FACP");
        var dsdt = TableAt(placed, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(40)), "DSDT");
        uint facs = BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(36));
        Assert.Equal(0u, facs % 64);
        Assert.Equal(0x604u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(64)));
        Assert.Equal(0x608u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(76)));
        Assert.Equal(9, BinaryPrimitives.ReadUInt16LittleEndian(fadt.AsSpan(46)));
        Assert.Contains("_S5_", Encoding.ASCII.GetString(dsdt));
    }

    [Fact]
    public void DsdtAmlIsWellFormed()
    {
        var placed = RunLoader();
        var rsdp = placed[AcpiTables.RsdpFile].Data;
        var rsdt = TableAt(placed, BinaryPrimitives.ReadUInt32LittleEndian(rsdp.AsSpan(16)), "RSDT");
        var fadt = TableAt(placed, BinaryPrimitives.ReadUInt32LittleEndian(rsdt.AsSpan(36)), "FACP");
        var aml = TableAt(placed, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(40)), "DSDT").AsSpan(36);

        // Name (_S5, Package (4) { 0, 0, 0, 0 })
        Assert.Equal(new byte[] { 0x08, (byte)'_', (byte)'S', (byte)'5', (byte)'_', 0x12, 0x06, 0x04, 0, 0, 0, 0 }, aml[..12].ToArray());
        // Scope (\_SB) whose PkgLength covers exactly the rest of the table.
        var scope = aml[12..];
        Assert.Equal(0x10, scope[0]);
        int lead = scope[1], extra = lead >> 6;
        int length = extra == 0 ? lead & 0x3F : lead & 0x0F;
        for (int i = 0; i < extra; i++)
            length |= scope[2 + i] << (4 + 8 * i);
        Assert.Equal(scope.Length - 1, length);
        Assert.Equal("\\_SB_", Encoding.ASCII.GetString(scope.Slice(2 + extra, 5)));

        string text = Convert.ToHexString(aml);
        Assert.Contains("0C41D00A03", text); // PNP0A03 PCI root
        Assert.Contains("0C41D00303", text); // PNP0303 keyboard
        Assert.Contains("0C41D00F13", text); // PNP0F13 mouse
    }

    [Fact]
    public void InstallAddsTheFilesToFwCfg()
    {
        var bus = new Bus(16 << 20);
        var fwCfg = new FwCfg(bus);
        AcpiTables.Install(fwCfg);
        var directory = fwCfg.GetItem(FwCfg.KeyFileDir)!;
        string text = Encoding.ASCII.GetString(directory);
        Assert.Contains(AcpiTables.LoaderFile, text);
        Assert.Contains(AcpiTables.TablesFile, text);
        Assert.Contains(AcpiTables.RsdpFile, text);
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32BigEndian(directory));
    }
}
