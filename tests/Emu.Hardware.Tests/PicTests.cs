using Emu.Hardware;

namespace Emu.Hardware.Tests;

public class PicTests
{
    private readonly Bus bus = new(1 << 20);
    private readonly Pic8259 pic;

    public PicTests()
    {
        pic = new Pic8259(bus);
        Init(bus);
    }

    /// <summary>Programs both chips the way a BIOS does: vectors 0x08 and 0x70, cascade on IRQ2, 8086 mode.</summary>
    internal static void Init(Bus bus, byte icw4 = 0x01)
    {
        bus.Io.Out8(0x20, 0x11); bus.Io.Out8(0x21, 0x08); bus.Io.Out8(0x21, 0x04); bus.Io.Out8(0x21, icw4);
        bus.Io.Out8(0xA0, 0x11); bus.Io.Out8(0xA1, 0x70); bus.Io.Out8(0xA1, 0x02); bus.Io.Out8(0xA1, icw4);
    }

    private void Pulse(int irq)
    {
        bus.SetIrq(irq, true);
        bus.SetIrq(irq, false);
    }

    [Fact]
    public void EdgeIrqDeliversVectorAndSetsIsr()
    {
        Assert.False(pic.HasInterrupt);
        Pulse(1);
        Assert.True(pic.HasInterrupt);
        Assert.Equal(0x09, pic.Acknowledge());
        Assert.False(pic.HasInterrupt);
        Assert.Equal(0x02, pic.Isr);
        bus.Io.Out8(0x20, 0x20);
        Assert.Equal(0, pic.Isr);
    }

    [Fact]
    public void LowerIrqHasPriorityAndNestsUntilEoi()
    {
        Pulse(4);
        Assert.Equal(0x0C, pic.Acknowledge());
        Pulse(3);
        Assert.True(pic.HasInterrupt); // IRQ3 outranks IRQ4 in service
        Assert.Equal(0x0B, pic.Acknowledge());
        Pulse(5);
        Assert.False(pic.HasInterrupt); // IRQ5 waits behind IRQ3/IRQ4
        bus.Io.Out8(0x20, 0x20);         // non-specific EOI clears IRQ3
        Assert.Equal(0x10, pic.Isr);
        Assert.False(pic.HasInterrupt);
        bus.Io.Out8(0x20, 0x20);         // clears IRQ4
        Assert.True(pic.HasInterrupt);
        Assert.Equal(0x0D, pic.Acknowledge());
    }

    [Fact]
    public void SlaveIrqCascadesThroughIrq2()
    {
        Pulse(14);
        Assert.True(pic.HasInterrupt);
        Assert.Equal(0x76, pic.Acknowledge());
        Assert.Equal((1 << 14) | (1 << 2), pic.Isr);
        bus.Io.Out8(0xA0, 0x20);
        bus.Io.Out8(0x20, 0x20);
        Assert.Equal(0, pic.Isr);
    }

    [Fact]
    public void MaskedIrqStaysPendingUntilUnmasked()
    {
        bus.Io.Out8(0x21, 0x01);
        Pulse(0);
        Assert.False(pic.HasInterrupt);
        Assert.Equal(0x01, bus.Io.In8(0x21));
        bus.Io.Out8(0x20, 0x0A); // OCW3: read IRR
        Assert.Equal(0x01, bus.Io.In8(0x20));
        bus.Io.Out8(0x21, 0x00);
        Assert.True(pic.HasInterrupt);
        Assert.Equal(0x08, pic.Acknowledge());
        bus.Io.Out8(0x20, 0x0B); // OCW3: read ISR
        Assert.Equal(0x01, bus.Io.In8(0x20));
    }

    [Fact]
    public void SpuriousWhenRequestVanishesBeforeAcknowledge()
    {
        bus.Io.Out8(0x4D0, 0x08); // IRQ3 level-triggered
        bus.SetIrq(3, true);
        Assert.True(pic.HasInterrupt);
        bus.SetIrq(3, false);
        Assert.Equal(0x0F, pic.Acknowledge());
        Assert.Equal(0, pic.Isr);
    }

    [Fact]
    public void LevelTriggeredIrqReassertsAfterEoiWhileLineHigh()
    {
        bus.Io.Out8(0x4D1, 0x08); // IRQ11 level
        Assert.Equal(0x08, bus.Io.In8(0x4D1));
        bus.SetIrq(11, true);
        Assert.Equal(0x73, pic.Acknowledge());
        bus.Io.Out8(0xA0, 0x20);
        bus.Io.Out8(0x20, 0x20);
        Assert.True(pic.HasInterrupt);
        bus.SetIrq(11, false);
        // The master latched the cascade edge; with the slave request gone, INTA yields the slave's spurious IRQ15.
        Assert.Equal(0x77, pic.Acknowledge());
        Assert.Equal(1 << 2, pic.Isr);
    }

    [Fact]
    public void ElcrIgnoresBitsThatMustStayEdge()
    {
        bus.Io.Out8(0x4D0, 0xFF);
        bus.Io.Out8(0x4D1, 0xFF);
        Assert.Equal(0xF8, bus.Io.In8(0x4D0));
        Assert.Equal(0xDE, bus.Io.In8(0x4D1));
    }

    [Fact]
    public void EdgeNeedsNewRisingEdge()
    {
        bus.SetIrq(1, true);
        Assert.Equal(0x09, pic.Acknowledge());
        bus.Io.Out8(0x20, 0x20);
        bus.SetIrq(1, true); // still high: no new edge
        Assert.False(pic.HasInterrupt);
    }

    [Fact]
    public void AutoEoiLeavesIsrClear()
    {
        Init(bus, icw4: 0x03);
        Pulse(1);
        Assert.Equal(0x09, pic.Acknowledge());
        Assert.Equal(0, pic.Isr);
    }

    [Fact]
    public void PollCommandAcknowledgesHighestRequest()
    {
        Pulse(6);
        Pulse(5);
        bus.Io.Out8(0x20, 0x0C);
        Assert.Equal(0x85, bus.Io.In8(0x20));
        Assert.Equal(1 << 5, pic.Isr);
        bus.Io.Out8(0x20, 0x0C);
        Assert.Equal(0x00, bus.Io.In8(0x20)); // IRQ6 is blocked by IRQ5 in service
    }

    [Fact]
    public void SpecificEoiAndRotation()
    {
        Pulse(3);
        pic.Acknowledge();
        bus.Io.Out8(0x20, 0x63); // specific EOI IRQ3
        Assert.Equal(0, pic.Isr);
        bus.Io.Out8(0x20, 0xC4); // set lowest priority to IRQ4: IRQ5 is now highest
        Pulse(3);
        Pulse(5);
        Assert.Equal(0x0D, pic.Acknowledge());
    }

    [Fact]
    public void SpecialMaskModeAllowsLowerPriorityIrq()
    {
        Pulse(3);
        pic.Acknowledge();
        bus.Io.Out8(0x21, 0x08);  // mask IRQ3 (in service)
        bus.Io.Out8(0x20, 0x68);  // OCW3: set special mask
        Pulse(5);
        Assert.True(pic.HasInterrupt);
        Assert.Equal(0x0D, pic.Acknowledge());
    }

    [Fact]
    public void StateRoundTrips()
    {
        Pulse(4);
        pic.Acknowledge();
        Pulse(6);
        var bus2 = new Bus(1 << 20);
        var pic2 = new Pic8259(bus2);
        var saved = new MemoryStream();
        pic.Save(new BinaryWriter(saved));
        saved.Position = 0;
        pic2.Load(new BinaryReader(saved));
        Assert.Equal(pic.Isr, pic2.Isr);
        Assert.Equal(pic.Irr, pic2.Irr);
        bus2.Io.Out8(0x20, 0x20);
        Assert.Equal(0x0E, pic2.Acknowledge());
    }
}
