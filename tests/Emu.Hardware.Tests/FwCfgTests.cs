using System.Buffers.Binary;
using System.Text;
using Emu.Hardware;

namespace Emu.Hardware.Tests;

public class FwCfgTests
{
    private readonly Bus bus = new(64 << 20);
    private readonly FwCfg fwCfg;

    public FwCfgTests()
    {
        fwCfg = new FwCfg(bus, cpuCount: 2);
    }

    private byte[] ReadItem(ushort key, int length)
    {
        bus.Io.Out16(0x510, key);
        var data = new byte[length];
        for (int i = 0; i < length; i++)
            data[i] = bus.Io.In8(0x511);
        return data;
    }

    private (uint Size, ushort Key)? FindFile(string name)
    {
        var header = ReadItem(FwCfg.KeyFileDir, 4);
        int count = (int)BinaryPrimitives.ReadUInt32BigEndian(header);
        var directory = ReadItem(FwCfg.KeyFileDir, 4 + 64 * count);
        for (int i = 0; i < count; i++)
        {
            var entry = directory.AsSpan(4 + 64 * i, 64);
            string entryName = Encoding.ASCII.GetString(entry[8..]).TrimEnd('\0');
            if (entryName == name)
                return (BinaryPrimitives.ReadUInt32BigEndian(entry), BinaryPrimitives.ReadUInt16BigEndian(entry[4..]));
        }
        return null;
    }

    [Fact]
    public void SignatureAndId()
    {
        Assert.Equal("QEMU"u8.ToArray(), ReadItem(FwCfg.KeySignature, 4));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(ReadItem(FwCfg.KeyId, 4)));
    }

    [Fact]
    public void RamSizeAndCpuCounts()
    {
        Assert.Equal(64UL << 20, BinaryPrimitives.ReadUInt64LittleEndian(ReadItem(FwCfg.KeyRamSize, 8)));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(ReadItem(FwCfg.KeyCpuCount, 2)));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(ReadItem(FwCfg.KeyMaxCpus, 2)));
    }

    [Fact]
    public void ReadsPastEndAndUnknownKeysReturnZero()
    {
        var data = ReadItem(FwCfg.KeySignature, 6);
        Assert.Equal(0, data[4]);
        Assert.Equal(new byte[4], ReadItem(0x3FF0, 4));
    }

    [Fact]
    public void FileDirectoryListsE820()
    {
        var file = FindFile("etc/e820");
        Assert.NotNull(file);
        Assert.Equal(20u, file.Value.Size);
        var e820 = ReadItem(file.Value.Key, 20);
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(e820));
        Assert.Equal(64UL << 20, BinaryPrimitives.ReadUInt64LittleEndian(e820.AsSpan(8)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(e820.AsSpan(16)));
    }

    [Fact]
    public void BootOrderFileIsAddedToDirectory()
    {
        fwCfg.SetBootOrder(["/pci@i0cf8/ide@1,1/drive@0/disk@0"]);
        var file = FindFile("bootorder");
        Assert.NotNull(file);
        var text = Encoding.ASCII.GetString(ReadItem(file.Value.Key, (int)file.Value.Size));
        Assert.Equal("/pci@i0cf8/ide@1,1/drive@0/disk@0\n\0", text);
    }

    [Fact]
    public void E820IncludesRamAbove4G()
    {
        var table = FwCfg.BuildE820(0xE000_0000, 1L << 30);
        Assert.Equal(40, table.Length);
        Assert.Equal(0x1_0000_0000UL, BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(20)));
        Assert.Equal(1UL << 30, BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(28)));
    }

    [Fact]
    public void ByteWriteToSelectorIsIgnored()
    {
        bus.Io.Out16(0x510, FwCfg.KeyId);
        bus.Io.Out8(0x510, 0);
        Assert.Equal(3, bus.Io.In8(0x511));
    }

    [Fact]
    public void DmaReadWithSelect()
    {
        const uint descriptor = 0x1000, target = 0x2000;
        Span<byte> d = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(d, (uint)FwCfg.KeySignature << 16 | 0x08 | 0x02);
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], 6);
        BinaryPrimitives.WriteUInt64BigEndian(d[8..], target);
        bus.Memory.DmaWrite(descriptor, d);
        bus.Memory.Write16(target + 4, 0xFFFF);

        bus.Io.Out32(0x514, 0);
        bus.Io.Out32(0x518, BinaryPrimitives.ReverseEndianness(descriptor));

        Assert.Equal(0u, bus.Memory.Read32(descriptor));
        Assert.Equal("QEMU\0\0"u8.ToArray(), bus.Memory.Ram.AsSpan((int)target, 6).ToArray());
    }

    [Fact]
    public void DmaSkipThenReadPastEndZeroFills()
    {
        const uint descriptor = 0x1000, target = 0x3000;
        void Run(uint control, uint length)
        {
            Span<byte> d = stackalloc byte[16];
            BinaryPrimitives.WriteUInt32BigEndian(d, control);
            BinaryPrimitives.WriteUInt32BigEndian(d[4..], length);
            BinaryPrimitives.WriteUInt64BigEndian(d[8..], target);
            bus.Memory.DmaWrite(descriptor, d);
            bus.Io.Out32(0x518, BinaryPrimitives.ReverseEndianness(descriptor));
            Assert.Equal(0u, bus.Memory.Read32(descriptor));
        }
        bus.Memory.Ram.AsSpan((int)target, 8).Fill(0xEE);
        Run((uint)FwCfg.KeySignature << 16 | 0x08 | 0x04, 2); // select + skip "QE"
        Run(0x02, 4);                                          // read "MU" then zeros
        Assert.Equal("MU\0\0"u8.ToArray(), bus.Memory.Ram.AsSpan((int)target, 4).ToArray());
        Run(0x02, 4);                                          // fully past the end
        Assert.Equal(0u, bus.Memory.Read32(target));
    }

    [Fact]
    public void DmaOutsideRamReportsError()
    {
        const uint descriptor = 0x1000;
        Span<byte> d = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(d, 0x02);
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], 16);
        BinaryPrimitives.WriteUInt64BigEndian(d[8..], 0x8000_0000);
        bus.Memory.DmaWrite(descriptor, d);
        bus.Io.Out32(0x514, 0);
        bus.Io.Out32(0x518, BinaryPrimitives.ReverseEndianness(descriptor));
        Assert.Equal(1u, BinaryPrimitives.ReverseEndianness(bus.Memory.Read32(descriptor)));
    }

    [Fact]
    public void DmaSignatureReadsBack()
    {
        Assert.Equal("QEMU"u8.ToArray(), BitConverter.GetBytes(bus.Io.In32(0x514)));
        Assert.Equal(" CFG"u8.ToArray(), BitConverter.GetBytes(bus.Io.In32(0x518)));
    }
}
