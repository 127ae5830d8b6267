using Emu.Hardware;

namespace Emu.Hardware.Tests;

public class PitTests
{
    private readonly Bus bus = new(1 << 20);
    private readonly Pic8259 pic;
    private readonly Pit8254 pit;

    public PitTests()
    {
        pic = new Pic8259(bus);
        PicTests.Init(bus);
        pit = new Pit8254(bus);
    }

    private static long TicksToNs(long ticks) => ticks * 1_000_000_000 / Pit8254.Frequency;

    private void Program(int channel, int mode, int count, bool bcd = false)
    {
        bus.Io.Out8(0x43, (byte)(channel << 6 | 0x30 | mode << 1 | (bcd ? 1 : 0)));
        bus.Io.Out8((ushort)(0x40 + channel), (byte)count);
        bus.Io.Out8((ushort)(0x40 + channel), (byte)(count >> 8));
    }

    private int LatchAndRead(int channel)
    {
        bus.Io.Out8(0x43, (byte)(channel << 6));
        int lo = bus.Io.In8((ushort)(0x40 + channel));
        return lo | bus.Io.In8((ushort)(0x40 + channel)) << 8;
    }

    [Fact]
    public void Mode2RaisesIrq0EveryPeriod()
    {
        Program(0, 2, 11932); // ~100 Hz
        int interrupts = 0;
        for (long t = 0; t < 1_000_000_000; t += 1_000_000)
        {
            bus.Clock.AdvanceTo(t);
            while (pic.HasInterrupt)
            {
                Assert.Equal(0x08, pic.Acknowledge());
                bus.Io.Out8(0x20, 0x20);
                interrupts++;
            }
        }
        Assert.InRange(interrupts, 99, 100);
    }

    /// <summary>Takes and ends (EOI) up to <paramref name="max"/> IRQ0s that <paramref name="pic"/> has for the CPU
    /// now; returns how many there were.</summary>
    private static int TakeIrq0s(Bus bus, Pic8259 pic, int max = 10_000)
    {
        int taken = 0;
        while (pic.HasInterrupt && taken < max)
        {
            Assert.Equal(0x08, pic.Acknowledge());
            bus.Io.Out8(0x20, 0x20);
            taken++;
        }
        return taken;
    }

    private int TakeIrq0s(int max = 10_000) => TakeIrq0s(bus, pic, max);

    [Fact]
    public void TicksThatFallWhileIrq0WaitsAreDeliveredOneByOneAsTheCpuTakesThem()
    {
        Program(0, 2, 1193); // ~1000 Hz
        // The CPU takes nothing for 20 periods (interrupts off, or the emulator's thread held up): the PIC can hold
        // only one request (the edge of programming mode 2), the 20 ticks come as the CPU takes IRQ0, each after
        // the last one's EOI.
        bus.Clock.AdvanceTo(TicksToNs(1193 * 20) + 1000);
        Assert.Equal(21, TakeIrq0s());
        // Caught up: the next tick comes with the next period, not before.
        bus.Clock.Advance(TicksToNs(1193) / 2);
        Assert.Equal(0, TakeIrq0s());
        bus.Clock.Advance(TicksToNs(1193));
        Assert.Equal(1, TakeIrq0s());
    }

    [Fact]
    public void ReprogrammingChannel0DropsTicksItsOldRateLost()
    {
        Program(0, 2, 1193);
        bus.Clock.AdvanceTo(TicksToNs(1193 * 20) + 1000);
        Assert.Equal(1, TakeIrq0s(max: 1));
        // Latching the count (a clock read) keeps them; a new mode or count drops them.
        LatchAndRead(0);
        Assert.True(pic.HasInterrupt);
        Program(0, 2, 11932);
        Assert.Equal(1, TakeIrq0s());   // the request already in the PIC stays
        Assert.Equal(0, TakeIrq0s());
    }

    [Fact]
    public void AtMostASecondOfLostTicksIsKept()
    {
        Program(0, 2, 11932); // ~100 Hz
        bus.Clock.AdvanceTo(5_000_000_000);   // five seconds without the CPU taking IRQ0
        Assert.InRange(TakeIrq0s(), 100, 101);   // the request in the PIC and a second's worth of ticks
    }

    [Fact]
    public void LostTicksSurviveSaveAndLoad()
    {
        Program(0, 2, 1193);
        bus.Clock.AdvanceTo(TicksToNs(1193 * 5) + 1000);
        Assert.Equal(1, TakeIrq0s(max: 1));
        var saved = new MemoryStream();
        bus.SaveState(new BinaryWriter(saved));

        var other = new Bus(1 << 20);
        var otherPic = new Pic8259(other);
        _ = new Pit8254(other);
        saved.Position = 0;
        other.LoadState(new BinaryReader(saved));
        Assert.Equal(5, TakeIrq0s(other, otherPic));   // the request in the PIC and the 4 lost ticks
    }

    [Fact]
    public void CounterDecrementsWithVirtualTime()
    {
        Program(0, 2, 10000);
        bus.Clock.Advance(TicksToNs(1000) + 1);
        Assert.Equal(9000, LatchAndRead(0));
        bus.Clock.Advance(TicksToNs(9500));
        Assert.InRange(LatchAndRead(0), 9499, 9501); // wrapped to the reloaded count
    }

    [Fact]
    public void LatchHoldsValueUntilRead()
    {
        Program(0, 2, 50000);
        bus.Clock.Advance(TicksToNs(100) + 1);
        bus.Io.Out8(0x43, 0x00);
        bus.Clock.Advance(TicksToNs(1000));
        int value = bus.Io.In8(0x40) | bus.Io.In8(0x40) << 8;
        Assert.Equal(49900, value);
    }

    [Fact]
    public void Mode0OutputRisesAtTerminalCountOnce()
    {
        Program(0, 0, 1000);
        Assert.False(pit.Output(0));
        bus.Clock.Advance(TicksToNs(999));
        Assert.False(pic.HasInterrupt);
        bus.Clock.Advance(TicksToNs(2) + 1);
        Assert.True(pit.Output(0));
        Assert.True(pic.HasInterrupt);
        pic.Acknowledge();
        bus.Io.Out8(0x20, 0x20);
        bus.Clock.Advance(TicksToNs(70000));
        Assert.False(pic.HasInterrupt);
    }

    [Fact]
    public void Mode3IsSquareWave()
    {
        Program(0, 3, 1000);
        Assert.True(pit.Output(0));
        bus.Clock.AdvanceTo(TicksToNs(499));
        Assert.True(pit.Output(0));
        bus.Clock.AdvanceTo(TicksToNs(501) + 1);
        Assert.False(pit.Output(0));
        bus.Clock.AdvanceTo(TicksToNs(1001) + 1);
        Assert.True(pit.Output(0));
        // Mode 3 counts down by two each clock.
        Assert.InRange(pit.Count(0), 996, 998);
    }

    [Fact]
    public void Mode4StrobesLowOnceAtTerminalCount()
    {
        Program(0, 4, 100);
        Assert.True(pit.Output(0));
        bus.Clock.AdvanceTo(TicksToNs(100) + 1);
        Assert.False(pit.Output(0));
        bus.Clock.AdvanceTo(TicksToNs(102));
        Assert.True(pit.Output(0));
    }

    [Fact]
    public void Mode1And5WaitForGateEdge()
    {
        bus.Io.Out8(0x61, 0x00);
        Program(2, 1, 100);
        Assert.True(pit.Output(2));
        bus.Clock.Advance(TicksToNs(500));
        Assert.True(pit.Output(2));
        bus.Io.Out8(0x61, 0x01); // rising gate edge triggers the one-shot
        Assert.False(pit.Output(2));
        bus.Clock.Advance(TicksToNs(101));
        Assert.True(pit.Output(2));
        Assert.Equal(0x21, bus.Io.In8(0x61) & 0x21);

        Program(2, 5, 100);
        bus.Io.Out8(0x61, 0x00);
        bus.Io.Out8(0x61, 0x01);
        bus.Clock.Advance(TicksToNs(100) + 1);
        Assert.False(pit.Output(2));
    }

    [Fact]
    public void Channel2OutputVisibleOnPort61()
    {
        bus.Io.Out8(0x61, 0x01);
        Program(2, 0, 0x100);
        Assert.Equal(0, bus.Io.In8(0x61) & 0x20);
        bus.Clock.Advance(TicksToNs(0x101));
        Assert.Equal(0x20, bus.Io.In8(0x61) & 0x20);
    }

    [Fact]
    public void RefreshBitToggles()
    {
        int first = bus.Io.In8(0x61) & 0x10;
        bus.Clock.Advance(15_085);
        Assert.NotEqual(first, bus.Io.In8(0x61) & 0x10);
    }

    [Fact]
    public void LowAndHighByteOnlyAccessModes()
    {
        bus.Io.Out8(0x43, 0x54); // channel 1, LSB only, mode 2
        bus.Io.Out8(0x41, 0x40);
        Assert.Equal(0x40, bus.Io.In8(0x41));
        bus.Io.Out8(0x43, 0x64); // channel 1, MSB only, mode 2
        bus.Io.Out8(0x41, 0x12);
        Assert.Equal(0x12, bus.Io.In8(0x41));
        bus.Clock.Advance(TicksToNs(0x100) + 1);
        Assert.Equal(0x11, bus.Io.In8(0x41));
    }

    [Fact]
    public void BcdCountsInDecimal()
    {
        Program(1, 2, 0x1000, bcd: true); // 1000 decimal
        bus.Clock.Advance(TicksToNs(1) + 1);
        Assert.Equal(0x0999, LatchAndRead(1));
    }

    [Fact]
    public void ReadBackReturnsStatusThenCount()
    {
        Program(2, 3, 0x1234);
        bus.Io.Out8(0x43, 0xC8); // read-back: count and status, channel 2
        Assert.Equal(0x80 | 0x30 | 3 << 1, bus.Io.In8(0x42) & 0xFF); // gate low, output high
        int count = bus.Io.In8(0x42) | bus.Io.In8(0x42) << 8;
        Assert.Equal(0x1234, count);
    }

    [Fact]
    public void NullCountSetUntilCountLoaded()
    {
        bus.Io.Out8(0x43, 0xB4);
        bus.Io.Out8(0x43, 0xE8); // status only, channel 2
        Assert.Equal(0x40, bus.Io.In8(0x42) & 0x40);
        bus.Io.Out8(0x42, 1);
        bus.Io.Out8(0x42, 0);
        bus.Io.Out8(0x43, 0xE8);
        Assert.Equal(0, bus.Io.In8(0x42) & 0x40);
    }

    [Fact]
    public void StateRoundTripKeepsTimer()
    {
        Program(0, 2, 1000);
        bus.Clock.Advance(TicksToNs(10));
        var saved = new MemoryStream();
        bus.SaveState(new BinaryWriter(saved));

        var other = new Bus(1 << 20);
        var otherPic = new Pic8259(other);
        var otherPit = new Pit8254(other);
        saved.Position = 0;
        other.LoadState(new BinaryReader(saved));
        Assert.Equal(pit.Count(0), otherPit.Count(0));
        Assert.Equal(bus.Clock.NextDeadline, other.Clock.NextDeadline);
        other.Clock.Advance(TicksToNs(1000));
        Assert.True(otherPic.HasInterrupt);
    }
}
