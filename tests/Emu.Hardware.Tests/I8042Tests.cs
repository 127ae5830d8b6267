using Emu.Hardware;

namespace Emu.Hardware.Tests;

public class I8042Tests
{
    private readonly Bus bus = new(4 << 20);
    private readonly Pic8259 pic;
    private readonly I8042 kbc;

    public I8042Tests()
    {
        pic = new Pic8259(bus);
        PicTests.Init(bus);
        kbc = new I8042(bus);
    }

    private void Command(byte command) => bus.Io.Out8(0x64, command);

    private byte ReadData()
    {
        Assert.Equal(1, bus.Io.In8(0x64) & 1);
        return bus.Io.In8(0x60);
    }

    [Fact]
    public void SelfTestRepliesWith55AndSetsSystemFlag()
    {
        Command(0xAA);
        Assert.Equal(0x55, ReadData());
        Assert.Equal(0x04, bus.Io.In8(0x64) & 0x04);
        Assert.Equal(0, bus.Io.In8(0x64) & 1);
    }

    [Fact]
    public void InterfaceTestsPass()
    {
        Command(0xAB);
        Assert.Equal(0x00, ReadData());
        Command(0xA9);
        Assert.Equal(0x00, ReadData());
    }

    [Fact]
    public void CommandByteReadWrite()
    {
        Command(0x60);
        bus.Io.Out8(0x60, 0x65);
        Command(0x20);
        Assert.Equal(0x65, ReadData());
    }

    [Fact]
    public void A20ThroughOutputPort()
    {
        Assert.True(bus.Memory.A20Enabled);
        bus.Memory.Write8(0x10_0000, 0x11);
        bus.Memory.Write8(0x00_0000, 0x22);
        Command(0xD1);
        bus.Io.Out8(0x60, 0xDD); // A20 off, reset line inactive
        Assert.False(bus.Memory.A20Enabled);
        Assert.Equal(0x22, bus.Memory.Read8(0x10_0000)); // wraps at 1 MiB
        Command(0xD0);
        Assert.Equal(0, ReadData() & 0x02);
        Command(0xD1);
        bus.Io.Out8(0x60, 0xDF);
        Assert.True(bus.Memory.A20Enabled);
        Assert.Equal(0x11, bus.Memory.Read8(0x10_0000));
        Assert.Equal(MachineRequest.None, bus.PendingRequest);
    }

    [Fact]
    public void PulseFeRequestsReset()
    {
        Command(0xFE);
        Assert.Equal(MachineRequest.Reset, bus.PendingRequest);
    }

    [Fact]
    public void KeyboardResetAcksAndPassesSelfTestWithIrq1()
    {
        bus.Io.Out8(0x60, 0xFF);
        Assert.True(pic.HasInterrupt);
        Assert.Equal(0x09, pic.Acknowledge());
        Assert.Equal(0xFA, ReadData());
        bus.Io.Out8(0x20, 0x20);
        Assert.True(pic.HasInterrupt); // the next byte raises a new edge
        Assert.Equal(0xAA, ReadData());
    }

    [Fact]
    public void DisabledKeyboardHoldsScancodes()
    {
        Command(0xAD);
        kbc.KeyboardInput(0x1E);
        Assert.Equal(0, bus.Io.In8(0x64) & 1);
        Command(0xAE);
        Assert.Equal(0x1E, ReadData());
    }

    [Fact]
    public void IdentifyAndEcho()
    {
        bus.Io.Out8(0x60, 0xF2);
        Assert.Equal(0xFA, ReadData());
        Assert.Equal(0xAB, ReadData());
        Assert.Equal(0x83, ReadData()); // translation off after reset
        Command(0x60);
        bus.Io.Out8(0x60, 0x45);        // translation on
        bus.Io.Out8(0x60, 0xF2);
        Assert.Equal(0xFA, ReadData());
        Assert.Equal(0xAB, ReadData());
        Assert.Equal(0x41, ReadData());
        bus.Io.Out8(0x60, 0xEE);
        Assert.Equal(0xEE, ReadData());
        bus.Io.Out8(0x60, 0x12);
        Assert.Equal(0xFE, ReadData());
    }

    [Fact]
    public void MouseResetThroughD4RaisesIrq12()
    {
        Command(0xD4);
        bus.Io.Out8(0x60, 0xFF);
        Assert.Equal(0x21, bus.Io.In8(0x64) & 0x21);
        Assert.True(pic.HasInterrupt);
        Assert.Equal(0x74, pic.Acknowledge());
        Assert.Equal(0xFA, ReadData());
        Assert.Equal(0xAA, ReadData());
        Assert.Equal(0x00, ReadData());
    }

    [Fact]
    public void Port92FastA20AndReset()
    {
        var port92 = new Port92(bus);
        bus.Io.Out8(0x92, 0x00);
        Assert.False(bus.Memory.A20Enabled);
        Assert.Equal(0x00, bus.Io.In8(0x92));
        bus.Io.Out8(0x92, 0x02);
        Assert.True(bus.Memory.A20Enabled);
        Assert.Equal(0x02, bus.Io.In8(0x92));
        Assert.Equal(MachineRequest.None, bus.PendingRequest);
        bus.Io.Out8(0x92, 0x03);
        Assert.Equal(MachineRequest.Reset, bus.PendingRequest);
        Assert.Equal("port92", port92.Name);
    }

    [Fact]
    public void StateRoundTripKeepsQueuedBytes()
    {
        bus.Io.Out8(0x60, 0xF2);
        var saved = new MemoryStream();
        kbc.Save(new BinaryWriter(saved));
        var other = new Bus(4 << 20);
        var otherKbc = new I8042(other);
        saved.Position = 0;
        otherKbc.Load(new BinaryReader(saved));
        Assert.Equal(0xFA, other.Io.In8(0x60));
        Assert.Equal(0xAB, other.Io.In8(0x60));
        Assert.Equal(0x83, other.Io.In8(0x60));
    }
}
