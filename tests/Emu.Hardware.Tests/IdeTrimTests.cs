namespace Emu.Hardware.Tests;

// DATA SET MANAGEMENT / TRIM over bus-master DMA, checked against what QEMU's IDE disk does.
public partial class IdeTests
{
    private const uint TrimPayload = 0x4_0000, TrimPrd = 0x8000;

    private static ulong Range(long lba, int sectors) => (ulong)lba | (ulong)sectors << 48;

    // Puts the entries in guest RAM at TrimPayload (the rest of the blocks zero, i.e. unused entries).
    private void WriteTrimPayload(int blocks, params ulong[] entries)
    {
        bus.Memory.Ram.AsSpan((int)TrimPayload, blocks * 512).Clear();
        for (int i = 0; i < entries.Length; i++)
            BitConverter.TryWriteBytes(bus.Memory.Ram.AsSpan((int)TrimPayload + 8 * i, 8), entries[i]);
    }

    private void IssueTrim(int blocks, byte featureBits = 0x01)
    {
        bus.Io.Out32(BmBase + 4, TrimPrd);
        bus.Io.Out8(Error, 0);              // HOB feature
        bus.Io.Out8(Error, featureBits);
        Issue(0x06, lba: 0, count: blocks, lba48: true);
        bus.Io.Out8(BmBase, 0x01);          // start, from memory
        bus.Events.RunPending();
    }

    [Fact]
    public void IdentifyOffersTrimWithRangeBlockLimit()
    {
        bus.Io.Out8(Device, 0xA0);
        bus.Io.Out8(Command, 0xEC);
        ExpectIrq();
        var id = ReadBlock(512);
        ushort Word(int i) => (ushort)(id[2 * i] | id[2 * i + 1] << 8);
        Assert.Equal(1, Word(169) & 1);
        Assert.InRange(Word(105), 1, 0xFFFF);
        Assert.NotEqual(0, Word(80) & 0x80); // ATA-7: Linux looks for TRIM only from major version 7 on
    }

    [Fact]
    public void TrimDiscardsEachRangeInOrderAndSkipsEmptyEntries()
    {
        WriteTrimPayload(1, Range(10, 4), Range(500, 0), Range(2000, 48), Range(0, 1));
        WritePrd(TrimPrd, (TrimPayload, 512, true));
        IssueTrim(1);
        ExpectIrq();
        Assert.Equal(0x50, Status);
        Assert.Equal(0x04, bus.Io.In8(BmBase + 2) & 0x07); // interrupt, not active, no error
        Assert.Equal([(10 * 512L, 4 * 512L), (2000 * 512L, 48 * 512L), (0L, 512L)], disk.Discards);
        Assert.All(disk.Data.AsSpan(10 * 512, 4 * 512).ToArray(), b => Assert.Equal(0, b));
        Assert.NotEqual(0, disk.Data[14 * 512 + 1]); // the sector after the first range is untouched
    }

    [Fact]
    public void TrimEntriesMayStraddleScatteredPrdEntries()
    {
        // The 8-byte entries are laid out across two distant pieces of RAM split 4 bytes into the second entry.
        var entries = new byte[1024];
        BitConverter.TryWriteBytes(entries.AsSpan(0), Range(1, 2));
        BitConverter.TryWriteBytes(entries.AsSpan(8), Range(0x1_00, 3));
        BitConverter.TryWriteBytes(entries.AsSpan(512), Range(40, 1)); // in the second payload block
        entries.AsSpan(0, 12).CopyTo(bus.Memory.Ram.AsSpan(0x5_0000));
        entries.AsSpan(12).CopyTo(bus.Memory.Ram.AsSpan(0x6_0000));
        WritePrd(TrimPrd, (0x5_0000, 12, false), (0x6_0000, 1024 - 12, true));
        IssueTrim(2);
        ExpectIrq();
        Assert.Equal(0x50, Status);
        Assert.Equal([(512L, 1024L), (0x100 * 512L, 3 * 512L), (40 * 512L, 512L)], disk.Discards);
    }

    [Fact]
    public void TrimRangeBeyondCapacityAbortsAfterEarlierRanges()
    {
        // 2048 sectors: the range 2040+9 ends one sector past the disk; the entry after it is never reached.
        WriteTrimPayload(1, Range(3, 1), Range(2040, 9), Range(5, 1));
        WritePrd(TrimPrd, (TrimPayload, 512, true));
        IssueTrim(1);
        ExpectIrq();
        Assert.Equal(0x41, Status);
        Assert.Equal(0x04, bus.Io.In8(Error));
        Assert.Equal(0, bus.Io.In8(BmBase + 2) & 0x01); // DMA stopped
        Assert.Equal([(3 * 512L, 512L)], disk.Discards);

        // A range ending exactly at the end is fine, and so is the largest LBA the 48 bits can hold when its count is 0.
        disk.Discards.Clear();
        bus.Io.Out8(BmBase, 0x00);
        WriteTrimPayload(1, Range(2040, 8), Range(0xFFFF_FFFF_FFFF, 0));
        IssueTrim(1);
        ExpectIrq();
        Assert.Equal(0x50, Status);
        Assert.Equal([(2040 * 512L, 8 * 512L)], disk.Discards);
    }

    [Fact]
    public void TrimPayloadSizeIsTheLowCountByteAsInQemu()
    {
        // A stale high byte (here 0x12 from an earlier write) does not make the payload 0x1201 blocks long.
        WriteTrimPayload(1, Range(8, 2));
        WritePrd(TrimPrd, (TrimPayload, 512, true));
        bus.Io.Out32(BmBase + 4, TrimPrd);
        bus.Io.Out8(Error, 0x01);
        bus.Io.Out8(Count, 0x12);
        bus.Io.Out8(Count, 1);
        bus.Io.Out8(Device, 0xE0);
        bus.Io.Out8(Command, 0x06);
        bus.Io.Out8(BmBase, 0x01);
        bus.Events.RunPending();
        ExpectIrq();
        Assert.Equal(0x50, Status);
        Assert.Equal([(8 * 512L, 2 * 512L)], disk.Discards);
    }

    [Fact]
    public void TrimWithHugeLbaAborts()
    {
        WriteTrimPayload(1, Range(0xFFFF_FFFF_FFFF, 0xFFFF));
        WritePrd(TrimPrd, (TrimPayload, 512, true));
        IssueTrim(1);
        ExpectIrq();
        Assert.Equal(0x41, Status);
        Assert.Empty(disk.Discards);
    }

    [Fact]
    public void DataSetManagementWithoutTrimBitAborts()
    {
        WriteTrimPayload(1, Range(3, 1));
        WritePrd(TrimPrd, (TrimPayload, 512, true));
        IssueTrim(1, featureBits: 0x00);
        ExpectIrq();
        Assert.Equal(0x41, Status);
        Assert.Equal(0x04, bus.Io.In8(Error));
        Assert.Equal(0, disk.Requests);
    }

    [Fact]
    public void TrimBackendErrorAborts()
    {
        WriteTrimPayload(1, Range(3, 1), Range(7, 1));
        WritePrd(TrimPrd, (TrimPayload, 512, true));
        disk.FailNext = true;
        IssueTrim(1);
        ExpectIrq();
        Assert.Equal(0x41, Status);
        Assert.Equal(0x04, bus.Io.In8(Error));
        Assert.Equal(1, disk.Requests); // stopped at the failing range
        Assert.Equal(0x02, bus.Io.In8(BmBase + 2) & 0x03); // error, not active
    }

    [Fact]
    public void TrimWithShortPrdTableMovesNothing()
    {
        WriteTrimPayload(2, Range(3, 1));
        WritePrd(TrimPrd, (TrimPayload, 512, true));
        IssueTrim(2);
        Assert.False(pic.HasInterrupt);
        Assert.Equal(0x50, Status);
        Assert.Empty(disk.Discards);
    }
}
