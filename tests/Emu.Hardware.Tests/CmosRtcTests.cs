using Emu.Hardware;

namespace Emu.Hardware.Tests;

public class CmosRtcTests
{
    private readonly Bus bus = new(1 << 20);
    private readonly Pic8259 pic;
    private readonly CmosRtc rtc;

    public CmosRtcTests()
    {
        pic = new Pic8259(bus);
        PicTests.Init(bus);
        rtc = new CmosRtc(bus, new DateTime(2024, 2, 29, 23, 59, 58));
    }

    private byte ReadCmos(int register)
    {
        bus.Io.Out8(0x70, (byte)register);
        return bus.Io.In8(0x71);
    }

    private void WriteCmos(int register, byte value)
    {
        bus.Io.Out8(0x70, (byte)register);
        bus.Io.Out8(0x71, value);
    }

    [Fact]
    public void TimeReadsAsBcdByDefault()
    {
        Assert.Equal(0x58, ReadCmos(0x00));
        Assert.Equal(0x59, ReadCmos(0x02));
        Assert.Equal(0x23, ReadCmos(0x04));
        Assert.Equal(0x29, ReadCmos(0x07));
        Assert.Equal(0x02, ReadCmos(0x08));
        Assert.Equal(0x24, ReadCmos(0x09));
        Assert.Equal(0x20, ReadCmos(0x32));
        Assert.Equal(0x05, ReadCmos(0x06)); // Thursday
    }

    [Fact]
    public void TimeAdvancesWithVirtualClock()
    {
        bus.Clock.Advance(3_000_000_000);
        Assert.Equal(0x01, ReadCmos(0x00));
        Assert.Equal(0x00, ReadCmos(0x04));
        Assert.Equal(0x01, ReadCmos(0x07));
        Assert.Equal(0x03, ReadCmos(0x08));
    }

    [Fact]
    public void BinaryAnd12HourModes()
    {
        WriteCmos(0x0B, 0x04); // binary, 12-hour
        Assert.Equal(58, ReadCmos(0x00));
        Assert.Equal(0x80 | 11, ReadCmos(0x04)); // 11 PM
        WriteCmos(0x0B, 0x00); // BCD, 12-hour
        Assert.Equal(0x91, ReadCmos(0x04));
    }

    [Fact]
    public void GuestSetsClockWithSetBit()
    {
        WriteCmos(0x0B, 0x82);
        WriteCmos(0x09, 0x99);
        WriteCmos(0x32, 0x19);
        WriteCmos(0x08, 0x12);
        WriteCmos(0x07, 0x31);
        WriteCmos(0x04, 0x10);
        WriteCmos(0x02, 0x20);
        WriteCmos(0x00, 0x30);
        bus.Clock.Advance(5_000_000_000); // stopped while SET
        Assert.Equal(0x30, ReadCmos(0x00));
        WriteCmos(0x0B, 0x02);
        Assert.Equal(new DateTime(1999, 12, 31, 10, 20, 30), rtc.Time);
        bus.Clock.Advance(1_000_000_000);
        Assert.Equal(0x31, ReadCmos(0x00));
    }

    [Fact]
    public void PeriodicInterruptAtProgrammedRate()
    {
        WriteCmos(0x0A, 0x26); // 1024 Hz
        WriteCmos(0x0B, 0x42); // PIE
        int count = 0;
        for (long t = 0; t < 100_000_000; t += 100_000)
        {
            bus.Clock.AdvanceTo(bus.Clock.Now + 100_000);
            if (!pic.HasInterrupt)
                continue;
            Assert.Equal(0x70, pic.Acknowledge());
            Assert.Equal(0xC0, ReadCmos(0x0C) & 0xC0);
            bus.Io.Out8(0xA0, 0x20);
            bus.Io.Out8(0x20, 0x20);
            count++;
        }
        Assert.InRange(count, 101, 103); // 100 ms at 1024 Hz
    }

    [Fact]
    public void RegisterCClearsOnRead()
    {
        WriteCmos(0x0B, 0x12); // UIE
        bus.Clock.Advance(2_000_000_000);
        Assert.True(pic.HasInterrupt);
        Assert.Equal(0x90, ReadCmos(0x0C) & 0x90);
        Assert.Equal(0x00, ReadCmos(0x0C));
        Assert.False(bus.IrqLevel(8));
    }

    [Fact]
    public void AlarmInterruptWithDontCareFields()
    {
        WriteCmos(0x01, 0x05);
        WriteCmos(0x03, 0xC0);
        WriteCmos(0x05, 0xC0);
        WriteCmos(0x0B, 0x22); // AIE
        bus.Clock.Advance(6_500_000_000); // now 00:00:04.5; the alarm wants second 05
        Assert.False(pic.HasInterrupt);
        bus.Clock.Advance(1_000_000_000);
        Assert.True(pic.HasInterrupt);
        Assert.Equal(0xA0, ReadCmos(0x0C) & 0xA0);
    }

    [Fact]
    public void UpdateInProgressJustBeforeSecondBoundary()
    {
        Assert.Equal(0, ReadCmos(0x0A) & 0x80);
        bus.Clock.Advance(999_900_000);
        Assert.Equal(0x80, ReadCmos(0x0A) & 0x80);
        Assert.Equal(0x26, ReadCmos(0x0A) & 0x7F);
    }

    [Fact]
    public void NmiMaskBitAndRegisterD()
    {
        bus.Io.Out8(0x70, 0x8D);
        Assert.True(rtc.NmiMasked);
        Assert.Equal(0x80, bus.Io.In8(0x71));
    }

    [Fact]
    public void MemoryFieldsMatchQemuLayout()
    {
        rtc.SetMemory(lowRam: 32u << 20, highRam: 1L << 30);
        rtc.SetCpuCount(2);
        Assert.Equal(640, ReadCmos(0x15) | ReadCmos(0x16) << 8);
        Assert.Equal(31 * 1024, ReadCmos(0x17) | ReadCmos(0x18) << 8);
        Assert.Equal(31 * 1024, ReadCmos(0x30) | ReadCmos(0x31) << 8);
        Assert.Equal((32 - 16) * 16, ReadCmos(0x34) | ReadCmos(0x35) << 8);
        Assert.Equal(0x4000, ReadCmos(0x5B) | ReadCmos(0x5C) << 8 | ReadCmos(0x5D) << 16);
        Assert.Equal(1, ReadCmos(0x5F));
        int sum = 0;
        for (int i = 0x10; i <= 0x2D; i++)
            sum += ReadCmos(i);
        Assert.Equal(sum, ReadCmos(0x2E) << 8 | ReadCmos(0x2F));
    }

    [Fact]
    public void ExtendedMemoryCapsAt64MiB()
    {
        rtc.SetMemory(lowRam: 0xE000_0000, highRam: 0);
        Assert.Equal(0xFFFF, ReadCmos(0x17) | ReadCmos(0x18) << 8);
        Assert.Equal(0xDF00, ReadCmos(0x34) | ReadCmos(0x35) << 8);
    }

    [Fact]
    public void HardDiskAndBootOrderFields()
    {
        rtc.SetHardDisk(0, 1024, 16, 63);
        rtc.SetBootOrder("dc");
        Assert.Equal(0xF0, ReadCmos(0x12));
        Assert.Equal(47, ReadCmos(0x19));
        Assert.Equal(1024, ReadCmos(0x1B) | ReadCmos(0x1C) << 8);
        Assert.Equal(16, ReadCmos(0x1D));
        Assert.Equal(63, ReadCmos(0x23));
        Assert.Equal(0x23, ReadCmos(0x3D));
    }

    [Fact]
    public void StateRoundTrip()
    {
        WriteCmos(0x40, 0xAB);
        bus.Clock.Advance(1_500_000_000);
        var saved = new MemoryStream();
        rtc.Save(new BinaryWriter(saved));
        var other = new Bus(1 << 20);
        var otherRtc = new CmosRtc(other, new DateTime(2000, 1, 1));
        other.Clock.Advance(1_500_000_000);
        saved.Position = 0;
        otherRtc.Load(new BinaryReader(saved));
        Assert.Equal(rtc.Time, otherRtc.Time);
        Assert.Equal(0xAB, otherRtc[0x40]);
    }
}
