using System.Buffers.Binary;
using Emu.Hardware;
using Emu.Hardware.Ide;
using Emu.Hardware.Pci;

namespace Emu.Hardware.Tests;

public class AtapiTests
{
    private const ushort Data = 0x170, Features = 0x171, Count = 0x172, LbaLow = 0x173, LbaMid = 0x174, LbaHigh = 0x175;
    private const ushort Device = 0x176, Command = 0x177, Control = 0x376;
    private const ushort BmBase = 0xC000 + 8; // secondary channel's bus-master registers
    private const int Blocks = 100;
    private readonly Bus bus = new(4 << 20);
    private readonly Pic8259 pic;
    private readonly IdeController ide;
    private readonly AtapiCdrom cdrom;
    private readonly DeferredDisk disc;

    public AtapiTests()
    {
        pic = new Pic8259(bus);
        PicTests.Init(bus);
        var pci = new PciBus(bus);
        ide = new IdeController(bus);
        _ = new Piix4Ide(pci, ide);
        disc = new DeferredDisk(bus, Blocks * 4);
        for (int i = 0; i < disc.Data.Length; i++)
            disc.Data[i] = (byte)(i / 2048 + i * 3);
        cdrom = ide.AttachCdrom(1, 0, disc);
        bus.Io.Out32(0xCF8, 0x8000_0920);
        bus.Io.Out32(0xCFC, 0xC000);
        bus.Io.Out32(0xCF8, 0x8000_0904);
        bus.Io.Out16(0xCFC, 0x0005);
    }

    private byte Status => bus.Io.In8(Command);

    private void ExpectIrq()
    {
        Assert.True(pic.HasInterrupt);
        Assert.Equal(0x77, pic.Acknowledge());
        _ = Status;
        bus.Io.Out8(0xA0, 0x20);
        bus.Io.Out8(0x20, 0x20);
    }

    private void SendPacket(byte[] cdb, int byteLimit = 0xFFFE, bool dma = false)
    {
        bus.Io.Out8(Device, 0xA0);
        bus.Io.Out8(Features, (byte)(dma ? 1 : 0));
        bus.Io.Out8(LbaMid, (byte)byteLimit);
        bus.Io.Out8(LbaHigh, (byte)(byteLimit >> 8));
        bus.Io.Out8(Command, 0xA0);
        Assert.Equal(0x58, bus.Io.In8(Control));
        Assert.Equal(0x01, bus.Io.In8(Count)); // waiting for the command packet
        var packet = new byte[12];
        cdb.CopyTo(packet, 0);
        for (int i = 0; i < 12; i += 2)
            bus.Io.Out16(Data, (ushort)(packet[i] | packet[i + 1] << 8));
    }

    // Reads one DRQ block, checking the interrupt reason and byte count the drive reports.
    private byte[] ReadDrqBlock()
    {
        ExpectIrq();
        Assert.Equal(0x58, bus.Io.In8(Control));
        Assert.Equal(0x02, bus.Io.In8(Count));
        int length = bus.Io.In8(LbaMid) | bus.Io.In8(LbaHigh) << 8;
        var data = new byte[length];
        for (int i = 0; i < length; i += 2)
        {
            ushort word = bus.Io.In16(Data);
            data[i] = (byte)word;
            if (i + 1 < length)
                data[i + 1] = (byte)(word >> 8);
        }
        return data;
    }

    private void ExpectStatusPhase(byte status = 0x50)
    {
        ExpectIrq();
        Assert.Equal(0x03, bus.Io.In8(Count));
        Assert.Equal(status, Status);
    }

    [Fact]
    public void SignatureIdentifiesPacketDevice()
    {
        Assert.Equal(0x14, bus.Io.In8(LbaMid));
        Assert.Equal(0xEB, bus.Io.In8(LbaHigh));
        bus.Io.Out8(Command, 0xEC);
        ExpectIrq();
        Assert.Equal(0x41, Status);
        Assert.Equal(0x04, bus.Io.In8(Features));
        Assert.Equal(0x14, bus.Io.In8(LbaMid));
        Assert.Equal(0xEB, bus.Io.In8(LbaHigh));
    }

    [Fact]
    public void IdentifyPacketDevice()
    {
        bus.Io.Out8(Command, 0xA1);
        ExpectIrq();
        Assert.Equal(0x85C0, bus.Io.In16(Data));
    }

    [Fact]
    public void InquiryOverPio()
    {
        SendPacket([0x12, 0, 0, 0, 36, 0]);
        var data = ReadDrqBlock();
        Assert.Equal(36, data.Length);
        Assert.Equal(0x05, data[0]);
        Assert.Equal(0x80, data[1]);
        Assert.Equal("QEMU    ", System.Text.Encoding.ASCII.GetString(data, 8, 8));
        ExpectStatusPhase();
    }

    [Fact]
    public void ReadCapacityAndToc()
    {
        SendPacket([0x25]);
        var capacity = ReadDrqBlock();
        Assert.Equal((uint)Blocks - 1, BinaryPrimitives.ReadUInt32BigEndian(capacity));
        Assert.Equal(2048u, BinaryPrimitives.ReadUInt32BigEndian(capacity.AsSpan(4)));
        ExpectStatusPhase();

        SendPacket([0x43, 0, 0, 0, 0, 0, 0, 0, 20]);
        var toc = ReadDrqBlock();
        Assert.Equal(18, BinaryPrimitives.ReadUInt16BigEndian(toc));
        Assert.Equal(0xAA, toc[14]);
        Assert.Equal((uint)Blocks, BinaryPrimitives.ReadUInt32BigEndian(toc.AsSpan(16)));
        ExpectStatusPhase();
    }

    [Fact]
    public void ReadTenInDrqBlocksLimitedByByteCount()
    {
        SendPacket([0x28, 0, 0, 0, 0, 7, 0, 0, 2, 0], byteLimit: 2048);
        Assert.Equal(0x80, bus.Io.In8(Control) & 0x80); // reading the disc
        bus.Events.RunPending();
        Assert.Equal(disc.Data.AsSpan(7 * 2048, 2048).ToArray(), ReadDrqBlock());
        Assert.Equal(disc.Data.AsSpan(8 * 2048, 2048).ToArray(), ReadDrqBlock());
        ExpectStatusPhase();
    }

    [Fact]
    public void ReadTenWithStringIo()
    {
        SendPacket([0x28, 0, 0, 0, 0, 9, 0, 0, 2, 0], byteLimit: 2048);
        bus.Events.RunPending();
        var data = new byte[4096];
        bus.Io.ReadString(Data, 2, data); // both DRQ blocks in one REP INSW
        Assert.Equal(disc.Data.AsSpan(9 * 2048, 4096).ToArray(), data);
        ExpectStatusPhase();
    }

    [Fact]
    public void ReadTenByDma()
    {
        bus.Memory.Write32(0x8000, 0x1_0000);
        bus.Memory.Write32(0x8004, 0x8000_1000); // 4096 bytes, last entry
        bus.Io.Out32(BmBase + 4, 0x8000);
        bus.Io.Out8(BmBase, 0x08);
        SendPacket([0x28, 0, 0, 0, 0, 3, 0, 0, 2, 0], dma: true);
        bus.Io.Out8(BmBase, 0x09);
        bus.Events.RunPending();
        ExpectStatusPhase();
        Assert.Equal(0x04, bus.Io.In8(BmBase + 2) & 0x07);
        Assert.Equal(disc.Data.AsSpan(3 * 2048, 4096).ToArray(), bus.Memory.Ram.AsSpan(0x1_0000, 4096).ToArray());
    }

    [Fact]
    public void ReadTenByDmaWithLongerPrdTableStaysActive()
    {
        bus.Memory.Write32(0x8000, 0x1_0000);
        bus.Memory.Write32(0x8004, 0x8000_0000); // 64 KiB, last entry
        bus.Io.Out32(BmBase + 4, 0x8000);
        SendPacket([0x28, 0, 0, 0, 0, 3, 0, 0, 1, 0], dma: true);
        bus.Io.Out8(BmBase, 0x09);
        bus.Events.RunPending();
        ExpectStatusPhase();
        Assert.Equal(0x05, bus.Io.In8(BmBase + 2) & 0x07);
        Assert.Equal(disc.Data.AsSpan(3 * 2048, 2048).ToArray(), bus.Memory.Ram.AsSpan(0x1_0000, 2048).ToArray());
    }

    [Fact]
    public void ReadTenByDmaWithShortPrdTableStallsUntilDeviceReset()
    {
        bus.Memory.Write32(0x8000, 0x1_0000);
        bus.Memory.Write32(0x8004, 0x8000_0800); // 2048 bytes for a 4096-byte read
        bus.Io.Out32(BmBase + 4, 0x8000);
        SendPacket([0x28, 0, 0, 0, 0, 3, 0, 0, 2, 0], dma: true);
        bus.Io.Out8(BmBase, 0x09);
        bus.Events.RunPending();
        Assert.False(pic.HasInterrupt);
        Assert.Equal(0x00, bus.Io.In8(BmBase + 2) & 0x07);
        Assert.Equal(0x80, bus.Io.In8(Control) & 0x80);  // the drive still holds its data
        bus.Io.Out8(Command, 0x08);                      // DEVICE RESET gets through to a busy ATAPI drive
        Assert.Equal(0x00, bus.Io.In8(Control) & 0x88);
        Assert.Equal(0x14, bus.Io.In8(LbaMid));
        Assert.Equal(0xEB, bus.Io.In8(LbaHigh));
    }

    [Fact]
    public void NoMediaReportsNotReadyWithSense()
    {
        cdrom.ChangeMedia(null);
        SendPacket([0x00]);
        ExpectStatusPhase(0x41);
        Assert.Equal(0x24, bus.Io.In8(Features)); // sense key NOT READY, ABRT
        SendPacket([0x03, 0, 0, 0, 18, 0]);
        var sense = ReadDrqBlock();
        Assert.Equal(0x70, sense[0]);
        Assert.Equal(0x02, sense[2]);
        Assert.Equal(0x3A, sense[12]);
        ExpectStatusPhase();
    }

    [Fact]
    public void IllegalRequests()
    {
        SendPacket([0xFF]);
        ExpectStatusPhase(0x41);
        Assert.Equal(0x54, bus.Io.In8(Features));
        SendPacket([0x28, 0, 0, 0, 0, 99, 0, 0, 2, 0]); // runs past the last block
        ExpectStatusPhase(0x41);
        SendPacket([0x03, 0, 0, 0, 18, 0]);
        Assert.Equal(0x21, ReadDrqBlock()[12]);
        ExpectStatusPhase();
    }

    [Fact]
    public void TestUnitReadyWithMediaSucceeds()
    {
        SendPacket([0x00]);
        ExpectStatusPhase();
    }

    // The Linux guest's robustness checks (tests/guests/linux/robust.sh) compare these answers with QEMU's.
    [Fact]
    public void ZeroByteCountLimitAbortsPioDataCommandAndKeepsSense()
    {
        SendPacket([0xFF]);
        ExpectStatusPhase(0x41);                          // sense: ILLEGAL REQUEST, invalid opcode
        SendPacket([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], byteLimit: 0);
        ExpectIrq();
        Assert.Equal(0x41, Status);
        Assert.Equal(0x04, bus.Io.In8(Features));         // ABRT, no sense key: aborted at the ATA level
        Assert.Equal(0, disc.Requests);
        SendPacket([0x00], byteLimit: 0);                 // a command without data needs no limit
        ExpectStatusPhase();
        SendPacket([0x03, 0, 0, 0, 18, 0]);
        Assert.Equal(0x00, ReadDrqBlock()[2]);
        ExpectStatusPhase();
    }

    [Fact]
    public void ZeroByteCountLimitIsFineForDma()
    {
        bus.Memory.Write32(0x8000, 0x1_0000);
        bus.Memory.Write32(0x8004, 0x8000_0800); // 2048 bytes, last entry
        bus.Io.Out32(BmBase + 4, 0x8000);
        bus.Io.Out8(BmBase, 0x08);
        SendPacket([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], byteLimit: 0, dma: true);
        bus.Io.Out8(BmBase, 0x09);
        bus.Events.RunPending();
        ExpectStatusPhase();
        Assert.Equal(disc.Data.AsSpan(0, 2048).ToArray(), bus.Memory.Ram.AsSpan(0x1_0000, 2048).ToArray());
    }

    [Fact]
    public void ModeSensePageControl()
    {
        SendPacket([0x5A, 0, 0xEA, 0, 0, 0, 0, 0, 0xFF]); // saved values of the capabilities page
        ExpectStatusPhase(0x41);
        SendPacket([0x03, 0, 0, 0, 18, 0]);
        var sense = ReadDrqBlock();
        Assert.Equal((0x05, 0x39), (sense[2], sense[12])); // ILLEGAL REQUEST, saving parameters not supported
        ExpectStatusPhase();
        SendPacket([0x5A, 0, 0x6A, 0, 0, 0, 0, 0, 0xFF]); // changeable values
        ExpectStatusPhase(0x41);
        SendPacket([0x03, 0, 0, 0, 18, 0]);
        Assert.Equal(0x24, ReadDrqBlock()[12]);
        ExpectStatusPhase();
        SendPacket([0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 0xFF]); // current values
        Assert.Equal(0x2A, ReadDrqBlock()[8]);
        ExpectStatusPhase();
    }

    [Fact]
    public void ReadTocTakesTheLegacyFormatFieldWhenByteTwoIsZero()
    {
        SendPacket([0x43, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0x40]); // format 1 (session information) in byte 9
        Assert.Equal(12, ReadDrqBlock().Length);
        ExpectStatusPhase();
        SendPacket([0x43, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xC0]); // format 3 (ATIP): not supported
        ExpectStatusPhase(0x41);
    }
}
