using System.Text;
using Emu.Hardware;
using Emu.Hardware.Ide;
using Emu.Hardware.Pci;

namespace Emu.Hardware.Tests;

/// <summary>An in-memory disk whose completions run only when the test drains the event loop.</summary>
internal sealed class DeferredDisk(Bus bus, int sectors) : IDiskBackend
{
    public byte[] Data { get; } = new byte[sectors * 512];
    public bool FailNext { get; set; }
    public int Flushes { get; private set; }
    public int Requests { get; private set; }

    public long Size => Data.Length;

    public void Read(long offset, Memory<byte> buffer, Action<int> completion)
    {
        Requests++;
        bus.Post(() =>
        {
            if (TakeFailure(completion)) return;
            Data.AsSpan((int)offset, buffer.Length).CopyTo(buffer.Span);
            completion(0);
        });
    }

    public void Write(long offset, ReadOnlyMemory<byte> data, Action<int> completion)
    {
        Requests++;
        bus.Post(() =>
        {
            if (TakeFailure(completion)) return;
            data.Span.CopyTo(Data.AsSpan((int)offset));
            completion(0);
        });
    }

    public void Flush(Action<int> completion) => bus.Post(() =>
    {
        if (TakeFailure(completion)) return;
        Flushes++;
        completion(0);
    });

    /// <summary>The discards received, in order: (offset, length) in bytes.</summary>
    public List<(long Offset, long Length)> Discards { get; } = new();

    public void Discard(long offset, long length, Action<int> completion)
    {
        Requests++;
        bus.Post(() =>
        {
            if (TakeFailure(completion)) return;
            Discards.Add((offset, length));
            Data.AsSpan((int)offset, (int)length).Clear();
            completion(0);
        });
    }

    private bool TakeFailure(Action<int> completion)
    {
        if (!FailNext) return false;
        FailNext = false;
        completion(-5);
        return true;
    }
}

public partial class IdeTests
{
    private const ushort Data = 0x1F0, Error = 0x1F1, Count = 0x1F2, LbaLow = 0x1F3, LbaMid = 0x1F4, LbaHigh = 0x1F5;
    private const ushort Device = 0x1F6, Command = 0x1F7, Control = 0x3F6;
    private const ushort BmBase = 0xC000;
    private readonly Bus bus = new(4 << 20);
    private readonly Pic8259 pic;
    private readonly IdeController ide;
    private readonly DeferredDisk disk;

    public IdeTests()
    {
        pic = new Pic8259(bus);
        PicTests.Init(bus);
        var pci = new PciBus(bus);
        ide = new IdeController(bus);
        _ = new Piix4Ide(pci, ide);
        disk = new DeferredDisk(bus, 2048);
        for (int i = 0; i < disk.Data.Length; i++)
            disk.Data[i] = (byte)(i / 512 * 7 + i);
        ide.AttachDisk(0, 0, disk);
        // BAR4 at 0xC000, I/O and bus mastering enabled.
        bus.Io.Out32(0xCF8, 0x8000_0920);
        bus.Io.Out32(0xCFC, BmBase);
        bus.Io.Out32(0xCF8, 0x8000_0904);
        bus.Io.Out16(0xCFC, 0x0005);
    }

    private byte Status => bus.Io.In8(Command);
    private byte AltStatus => bus.Io.In8(Control);

    private void Issue(byte command, long lba, int count, bool lba48 = false)
    {
        if (lba48)
        {
            bus.Io.Out8(Count, (byte)(count >> 8));
            bus.Io.Out8(LbaLow, (byte)(lba >> 24));
            bus.Io.Out8(LbaMid, (byte)(lba >> 32));
            bus.Io.Out8(LbaHigh, (byte)(lba >> 40));
        }
        bus.Io.Out8(Count, (byte)count);
        bus.Io.Out8(LbaLow, (byte)lba);
        bus.Io.Out8(LbaMid, (byte)(lba >> 8));
        bus.Io.Out8(LbaHigh, (byte)(lba >> 16));
        bus.Io.Out8(Device, (byte)(0xE0 | (lba48 ? 0 : (int)(lba >> 24) & 0x0F)));
        bus.Io.Out8(Command, command);
    }

    private void ExpectIrq()
    {
        Assert.True(pic.HasInterrupt);
        Assert.Equal(0x76, pic.Acknowledge());
        _ = Status; // as a driver's handler does: acknowledges the drive's interrupt
        bus.Io.Out8(0xA0, 0x20);
        bus.Io.Out8(0x20, 0x20);
    }

    private byte[] ReadBlock(int bytes)
    {
        var data = new byte[bytes];
        for (int i = 0; i < bytes; i += 2)
        {
            ushort word = bus.Io.In16(Data);
            data[i] = (byte)word;
            data[i + 1] = (byte)(word >> 8);
        }
        return data;
    }

    private byte[] Expected(long lba, int sectors) => disk.Data.AsSpan((int)lba * 512, sectors * 512).ToArray();

    [Fact]
    public void SignatureAfterResetAndEmptyChannelFloats()
    {
        Assert.Equal(1, bus.Io.In8(Count));
        Assert.Equal(1, bus.Io.In8(LbaLow));
        Assert.Equal(0, bus.Io.In8(LbaMid));
        Assert.Equal(0, bus.Io.In8(LbaHigh));
        Assert.Equal(0x50, Status);
        Assert.Equal(0xFF, bus.Io.In8(0x177)); // no drives on the secondary channel
        bus.Io.Out8(Device, 0xB0);            // absent slave
        Assert.Equal(0, Status);
    }

    [Fact]
    public void IdentifyReportsGeometryModelAndCapacity()
    {
        bus.Io.Out8(Device, 0xA0);
        bus.Io.Out8(Command, 0xEC);
        Assert.Equal(0x58, AltStatus);
        ExpectIrq();
        var id = ReadBlock(512);
        Assert.Equal(0x50, Status);
        ushort Word(int i) => (ushort)(id[2 * i] | id[2 * i + 1] << 8);
        Assert.Equal(0x0040, Word(0));
        Assert.Equal(2048, Word(60) | Word(61) << 16);
        Assert.Equal(2048, Word(100));
        Assert.Equal(1 << 10, Word(83) & 1 << 10);
        var model = new StringBuilder();
        for (int i = 27; i < 47; i++)
            model.Append((char)(Word(i) >> 8)).Append((char)(Word(i) & 0xFF));
        Assert.Equal("QEMU HARDDISK", model.ToString().TrimEnd());
    }

    [Fact]
    public void ReadSectorsPioIsAsyncAndInterruptsPerSector()
    {
        Issue(0x20, lba: 5, count: 2);
        Assert.Equal(0x80, AltStatus & 0x80); // busy until the backend completes
        Assert.False(pic.HasInterrupt);
        bus.Events.RunPending();
        ExpectIrq();
        Assert.Equal(Expected(5, 1), ReadBlock(512));
        ExpectIrq();
        Assert.Equal(Expected(6, 1), ReadBlock(512));
        Assert.Equal(0x50, Status);
        Assert.False(pic.HasInterrupt);
        Assert.Equal(1, disk.Requests); // both sectors came in one backend read
    }

    [Fact]
    public void ThirtyTwoBitDataPortAccess()
    {
        Issue(0x20, lba: 1, count: 1);
        bus.Events.RunPending();
        var data = new byte[512];
        for (int i = 0; i < 512; i += 4)
            BitConverter.GetBytes(bus.Io.In32(Data)).CopyTo(data, i);
        Assert.Equal(Expected(1, 1), data);
    }

    [Fact]
    public void StringReadCrossesBlocksLikeElementReads()
    {
        Issue(0x20, lba: 30, count: 3);
        bus.Events.RunPending();
        var data = new byte[3 * 512];
        bus.Io.ReadString(Data, 2, data); // one REP INSW over all three sectors
        Assert.Equal(Expected(30, 3), data);
        Assert.Equal(0x50, bus.Io.In8(Control));
    }

    [Fact]
    public void StringReadStopsWhileBackendIsBusy()
    {
        // A transfer larger than the staging chunk: the bulk read stops where the backend must be asked again.
        Issue(0x24, lba: 0, count: 300, lba48: true);
        bus.Events.RunPending();
        var data = new byte[300 * 512];
        bus.Io.ReadString(Data, 4, data.AsSpan(0, 256 * 512));
        Assert.Equal(0x80, bus.Io.In8(Control) & 0x80);
        bus.Events.RunPending();
        bus.Io.ReadString(Data, 4, data.AsSpan(256 * 512));
        Assert.Equal(Expected(0, 300), data);
        Assert.Equal(0x50, bus.Io.In8(Control));
    }

    [Fact]
    public void StringWriteFillsBlocks()
    {
        Issue(0x30, lba: 40, count: 2);
        var data = new byte[1024];
        new Random(7).NextBytes(data);
        bus.Io.WriteString(Data, 2, data);
        bus.Events.RunPending();
        Assert.Equal(data, disk.Data.AsSpan(40 * 512, 1024).ToArray());
        Assert.Equal(0x50, Status);
    }

    [Fact]
    public void StringIoFallsBackToElementsOnPlainPorts()
    {
        var output = new List<byte>();
        _ = new DebugConsole(bus, output.Add);
        var data = new byte[3];
        bus.Io.ReadString(0xE9, 1, data);
        Assert.Equal(new byte[] { 0xE9, 0xE9, 0xE9 }, data);
        bus.Io.WriteString(0xE9, 1, "abc"u8);
        Assert.Equal("abc"u8.ToArray(), output.ToArray());
    }

    [Fact]
    public void WriteSectorsPio()
    {
        Issue(0x30, lba: 10, count: 2);
        Assert.Equal(0x58, AltStatus); // first block requested without an interrupt
        Assert.False(pic.HasInterrupt);
        for (int i = 0; i < 256; i++)
            bus.Io.Out16(Data, 0xA1A1);
        ExpectIrq();                   // second block
        for (int i = 0; i < 256; i++)
            bus.Io.Out16(Data, 0xB2B2);
        Assert.Equal(0x80, AltStatus & 0x80);
        bus.Events.RunPending();
        ExpectIrq();
        Assert.Equal(0x50, Status);
        Assert.Equal(0xA1, disk.Data[10 * 512]);
        Assert.Equal(0xB2, disk.Data[11 * 512 + 511]);
    }

    [Fact]
    public void ReadMultipleUsesBlockSize()
    {
        bus.Io.Out8(Count, 4);
        bus.Io.Out8(Command, 0xC6);
        ExpectIrq();
        Issue(0xC4, lba: 0, count: 8);
        bus.Events.RunPending();
        ExpectIrq();
        Assert.Equal(Expected(0, 4), ReadBlock(4 * 512));
        ExpectIrq();
        Assert.Equal(Expected(4, 4), ReadBlock(4 * 512));
        Assert.Equal(0x50, Status);
    }

    [Fact]
    public void SetMultipleRejectsNonPowerOfTwo()
    {
        bus.Io.Out8(Count, 3);
        bus.Io.Out8(Command, 0xC6);
        Assert.Equal(0x41, Status);
        Assert.Equal(0x04, bus.Io.In8(Error));
    }

    [Fact]
    public void Lba48ReadAndHobReadback()
    {
        Issue(0x24, lba: 0x7FF, count: 1, lba48: true);
        bus.Events.RunPending();
        Assert.Equal(Expected(0x7FF, 1), ReadBlock(512));
        bus.Io.Out8(Control, 0x80);
        Assert.Equal(0, bus.Io.In8(LbaLow)); // previous (high-order) byte
        bus.Io.Out8(Control, 0x00);
        Assert.Equal(0xFF, bus.Io.In8(LbaLow));
    }

    [Fact]
    public void ReadNativeMaxExt()
    {
        bus.Io.Out8(Device, 0x40);
        bus.Io.Out8(Command, 0x27);
        Assert.Equal(0xFF, bus.Io.In8(LbaLow));
        Assert.Equal(0x07, bus.Io.In8(LbaMid));
    }

    [Fact]
    public void ChsAddressing()
    {
        // Cylinder 0, head 1, sector 2 with 16 heads x 63 sectors = LBA 64.
        bus.Io.Out8(Count, 1);
        bus.Io.Out8(LbaLow, 2);
        bus.Io.Out8(LbaMid, 0);
        bus.Io.Out8(LbaHigh, 0);
        bus.Io.Out8(Device, 0xA1);
        bus.Io.Out8(Command, 0x20);
        bus.Events.RunPending();
        Assert.Equal(Expected(64, 1), ReadBlock(512));
    }

    [Fact]
    public void OutOfRangeReportsIdnf()
    {
        Issue(0x20, lba: 2047, count: 2);
        ExpectIrq();
        Assert.Equal(0x41, Status);
        Assert.Equal(0x10, bus.Io.In8(Error));
        Assert.Equal(0, disk.Requests);
    }

    [Fact]
    public void UnknownCommandAborts()
    {
        bus.Io.Out8(Command, 0xA0); // PACKET: not for a hard disk
        ExpectIrq();
        Assert.Equal(0x41, Status);
        Assert.Equal(0x04, bus.Io.In8(Error));
    }

    [Fact]
    public void BackendErrorAborts()
    {
        disk.FailNext = true;
        Issue(0x20, lba: 0, count: 1);
        bus.Events.RunPending();
        ExpectIrq();
        Assert.Equal(0x41, Status);
        Assert.Equal(0x04, bus.Io.In8(Error));
    }

    [Fact]
    public void FlushCacheGoesToBackend()
    {
        bus.Io.Out8(Command, 0xE7);
        Assert.Equal(0x80, AltStatus & 0x80);
        bus.Events.RunPending();
        ExpectIrq();
        Assert.Equal(1, disk.Flushes);
        Assert.Equal(0x50, Status);
    }

    [Fact]
    public void SetFeaturesTransferModeAndInvalidFeature()
    {
        bus.Io.Out8(Error, 0x03);
        bus.Io.Out8(Count, 0x45);
        bus.Io.Out8(Command, 0xEF);
        Assert.Equal(0x50, Status);
        Assert.Equal(0x45, ide[0][0]!.TransferMode);
        bus.Io.Out8(Error, 0x77);
        bus.Io.Out8(Command, 0xEF);
        Assert.Equal(0x41, Status);
        Assert.Equal(0x04, bus.Io.In8(Error));
    }

    [Fact]
    public void SetFeaturesAcceptsAcousticManagementAndVendorNoOps()
    {
        foreach (byte feature in new byte[] { 0x42, 0xC2, 0x67, 0x69, 0x96, 0x9A })
        {
            bus.Io.Out8(Error, feature);
            bus.Io.Out8(Command, 0xEF);
            Assert.Equal(0x50, Status);
        }
    }

    [Fact]
    public void SoftResetRestoresSignatureAndDropsStaleCompletion()
    {
        Issue(0x20, lba: 3, count: 1);
        bus.Io.Out8(Control, 0x04);
        Assert.Equal(0x80, AltStatus & 0x80);
        bus.Io.Out8(Control, 0x00);
        Assert.True(ide.Busy);   // the superseded read is still in flight
        bus.Events.RunPending(); // and completes into nothing
        Assert.False(ide.Busy);
        Assert.Equal(0x50, Status);
        Assert.Equal(1, bus.Io.In8(Count));
        Assert.Equal(0x01, bus.Io.In8(Error));
        Assert.False(pic.HasInterrupt);
    }

    [Fact]
    public void InterruptDisableBitMasksIrq()
    {
        bus.Io.Out8(Control, 0x02);
        Issue(0x20, lba: 0, count: 1);
        bus.Events.RunPending();
        Assert.False(pic.HasInterrupt);
        Assert.Equal(0x58, AltStatus);
    }

    private void WritePrd(uint table, params (uint Address, int Bytes, bool Last)[] entries)
    {
        for (int i = 0; i < entries.Length; i++)
        {
            bus.Memory.Write32(table + (uint)(8 * i), entries[i].Address);
            bus.Memory.Write32(table + (uint)(8 * i) + 4, (uint)(entries[i].Bytes & 0xFFFF) | (entries[i].Last ? 0x8000_0000u : 0));
        }
    }

    [Fact]
    public void ReadDmaScattersIntoGuestRam()
    {
        WritePrd(0x8000, (0x1_0000, 512, false), (0x2_0000, 1024, true));
        bus.Io.Out32(BmBase + 4, 0x8000);
        bus.Io.Out8(BmBase, 0x08);          // direction: to memory
        Issue(0xC8, lba: 20, count: 3);
        bus.Io.Out8(BmBase, 0x09);          // start
        Assert.Equal(0x01, bus.Io.In8(BmBase + 2) & 0x01);
        bus.Events.RunPending();
        ExpectIrq();
        Assert.Equal(0x04, bus.Io.In8(BmBase + 2) & 0x07); // interrupt, not active, no error
        Assert.Equal(0x50, Status);
        Assert.Equal(Expected(20, 1), bus.Memory.Ram.AsSpan(0x1_0000, 512).ToArray());
        Assert.Equal(Expected(21, 2), bus.Memory.Ram.AsSpan(0x2_0000, 1024).ToArray());
        bus.Io.Out8(BmBase + 2, 0x04);     // write-one-to-clear
        Assert.Equal(0, bus.Io.In8(BmBase + 2) & 0x04);
    }

    [Fact]
    public void WriteDmaWithStartBeforeCommandAndMergedEntries()
    {
        bus.Memory.Ram.AsSpan(0x3_0000, 1024).Fill(0x5C);
        WritePrd(0x8000, (0x3_0000, 512, false), (0x3_0200, 512, true));
        bus.Io.Out32(BmBase + 4, 0x8000);
        bus.Io.Out8(BmBase, 0x01);          // start first, direction: from memory
        Issue(0x35, lba: 100, count: 2, lba48: true);
        bus.Events.RunPending();
        ExpectIrq();
        Assert.Equal(1, disk.Requests);     // contiguous entries became one request
        Assert.All(disk.Data.AsSpan(100 * 512, 1024).ToArray(), b => Assert.Equal(0x5C, b));
    }

    [Fact]
    public void DmaWithShortPrdTableStopsWithoutInterruptOrError()
    {
        // As QEMU: nothing moves, ACTIVE clears, no interrupt, no ERROR bit ("interrupt 0, active 0" on the PIIX).
        WritePrd(0x8000, (0x1_0000, 512, true));
        bus.Memory.Ram.AsSpan(0x1_0000, 512).Fill(0xEE);
        bus.Io.Out32(BmBase + 4, 0x8000);
        bus.Io.Out8(BmBase, 0x08);
        Issue(0xC8, lba: 0, count: 2);
        bus.Io.Out8(BmBase, 0x09);
        bus.Events.RunPending();
        Assert.False(pic.HasInterrupt);
        Assert.Equal(0x00, bus.Io.In8(BmBase + 2) & 0x07);
        Assert.Equal(0x50, Status);
        Assert.Equal(0, disk.Requests);
        Assert.All(bus.Memory.Ram.AsSpan(0x1_0000, 512).ToArray(), b => Assert.Equal(0xEE, b));
        // The drive takes the next command.
        bus.Io.Out8(BmBase, 0x00);
        WritePrd(0x8000, (0x1_0000, 1024, true));
        Issue(0xC8, lba: 0, count: 2);
        bus.Io.Out8(BmBase, 0x09);
        bus.Events.RunPending();
        ExpectIrq();
        Assert.Equal(0x04, bus.Io.In8(BmBase + 2) & 0x07);
        Assert.Equal(Expected(0, 2), bus.Memory.Ram.AsSpan(0x1_0000, 1024).ToArray());
    }

    [Theory]
    [InlineData(false)] // the last entry is longer than the rest of the transfer
    [InlineData(true)]  // the transfer ends on an entry boundary, but the table goes on
    public void DmaWithLongerPrdTableCompletesAndStaysActive(bool extraEntry)
    {
        bus.Memory.Ram.AsSpan(0x2_0000, 4096).Fill(0xEE);
        if (extraEntry)
            WritePrd(0x8000, (0x1_0000, 512, false), (0x2_0000, 512, false), (0x0F00_0000, 0, true)); // unused entry, even outside RAM
        else
            WritePrd(0x8000, (0x1_0000, 512, false), (0x2_0000, 4096, true));
        bus.Io.Out32(BmBase + 4, 0x8000);
        bus.Io.Out8(BmBase, 0x08);
        Issue(0xC8, lba: 30, count: 2);
        bus.Io.Out8(BmBase, 0x09);
        bus.Events.RunPending();
        ExpectIrq();
        Assert.Equal(0x05, bus.Io.In8(BmBase + 2) & 0x07); // interrupt and still active: a valid completion
        Assert.Equal(0x50, Status);
        Assert.Equal(Expected(30, 1), bus.Memory.Ram.AsSpan(0x1_0000, 512).ToArray());
        Assert.Equal(Expected(31, 1), bus.Memory.Ram.AsSpan(0x2_0000, 512).ToArray());
        Assert.Equal(0xEE, bus.Memory.Ram[0x2_0200]); // nothing written past the transfer
        bus.Io.Out8(BmBase, 0x08);                    // stopping the engine clears ACTIVE
        Assert.Equal(0x04, bus.Io.In8(BmBase + 2) & 0x07);
    }

    [Fact]
    public void DmaWaitsForStartBitAfterEngineStopped()
    {
        // The start bit left set after a completed transfer does not start the next one: the engine stopped.
        WritePrd(0x8000, (0x1_0000, 512, true));
        bus.Io.Out32(BmBase + 4, 0x8000);
        bus.Io.Out8(BmBase, 0x09);
        Issue(0xC8, lba: 1, count: 1);
        bus.Events.RunPending();
        ExpectIrq();
        Assert.Equal(1, disk.Requests);
        Issue(0xC8, lba: 2, count: 1);
        bus.Events.RunPending();
        Assert.Equal(1, disk.Requests);
        Assert.Equal(0x58, AltStatus);
        bus.Io.Out8(BmBase, 0x08);
        bus.Io.Out8(BmBase, 0x09);
        bus.Events.RunPending();
        ExpectIrq();
        Assert.Equal(Expected(2, 1), bus.Memory.Ram.AsSpan(0x1_0000, 512).ToArray());
    }

    [Fact]
    public void BusMasterInterruptBitOnlyWhenIrqReachesController()
    {
        WritePrd(0x8000, (0x1_0000, 512, true));
        bus.Io.Out32(BmBase + 4, 0x8000);
        bus.Io.Out8(Control, 0x02);                       // nIEN: the drive's interrupt is masked
        Issue(0xC8, lba: 0, count: 1);
        bus.Io.Out8(BmBase, 0x09);
        bus.Events.RunPending();
        Assert.False(pic.HasInterrupt);
        Assert.Equal(0x00, bus.Io.In8(BmBase + 2) & 0x07); // done (not active), but no interrupt latched
        Assert.Equal(0x50, AltStatus);
        bus.Io.Out8(Control, 0x00);                       // unmasking lets the pending interrupt through
        Assert.Equal(0x04, bus.Io.In8(BmBase + 2) & 0x07);
        ExpectIrq();
    }

    [Fact]
    public void DmaOutsideGuestRamFailsWithoutWriting()
    {
        WritePrd(0x8000, (0x3F_FF00, 512, true)); // runs past the end of 4 MiB of RAM
        bus.Io.Out32(BmBase + 4, 0x8000);
        bus.Io.Out8(BmBase, 0x08);
        Issue(0xC8, lba: 0, count: 1);
        bus.Io.Out8(BmBase, 0x09);
        Assert.Equal(0x02, bus.Io.In8(BmBase + 2) & 0x02);
        Assert.Equal(0, disk.Requests);
    }

    [Fact]
    public void StateRoundTripMidPioRead()
    {
        Issue(0x20, lba: 7, count: 2);
        bus.Events.RunPending();
        ReadBlock(512);
        var saved = new MemoryStream();
        ide.Save(new BinaryWriter(saved));

        var other = new Bus(4 << 20);
        var otherIde = new IdeController(other);
        otherIde.AttachDisk(0, 0, new DeferredDisk(other, 2048));
        saved.Position = 0;
        otherIde.Load(new BinaryReader(saved));
        var data = new byte[512];
        for (int i = 0; i < 512; i += 2)
        {
            ushort word = other.Io.In16(Data);
            data[i] = (byte)word;
            data[i + 1] = (byte)(word >> 8);
        }
        Assert.Equal(Expected(8, 1), data);
    }
}
