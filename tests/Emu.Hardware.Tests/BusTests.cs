using Emu.Hardware;

namespace Emu.Hardware.Tests;

public class BusTests
{
    [Fact]
    public void IrqLevelsFanOutToEverySink()
    {
        var bus = new Bus(1 << 20);
        var first = new RecordingSink();
        var second = new RecordingSink();
        bus.AddIrqSink(first);
        bus.AddIrqSink(second);
        bus.SetIrq(5, true);
        Assert.True(bus.IrqLevel(5));
        Assert.Equal([(5, true)], first.Events);
        Assert.Equal([(5, true)], second.Events);
    }

    [Fact]
    public void DuplicateDeviceNamesAreRejected()
    {
        var bus = new Bus(1 << 20);
        _ = new Pic8259(bus);
        Assert.Throws<InvalidOperationException>(() => bus.AddDevice(new Pic8259(new Bus(1 << 20))));
    }

    [Fact]
    public void LoadingStateOfAMissingDeviceFails()
    {
        var source = new Bus(1 << 20);
        _ = new Pic8259(source);
        _ = new Pit8254(source);
        var saved = new MemoryStream();
        source.SaveState(new BinaryWriter(saved));

        var target = new Bus(1 << 20);
        _ = new Pic8259(target);
        saved.Position = 0;
        var error = Assert.Throws<InvalidDataException>(() => target.LoadState(new BinaryReader(saved)));
        Assert.Contains("pit", error.Message);
    }

    [Fact]
    public void StateRestoresClockAndA20()
    {
        var source = new Bus(1 << 20);
        source.Clock.AdvanceTo(12345);
        source.Memory.A20Enabled = false;
        var saved = new MemoryStream();
        source.SaveState(new BinaryWriter(saved));
        var target = new Bus(1 << 20);
        saved.Position = 0;
        target.LoadState(new BinaryReader(saved));
        Assert.Equal(12345, target.Clock.Now);
        Assert.False(target.Memory.A20Enabled);
        target.ResetDevices();
        Assert.True(target.Memory.A20Enabled);
    }

    [Fact]
    public void RequestsAreRaisedAndCleared()
    {
        var bus = new Bus(1 << 20);
        var seen = new List<MachineRequest>();
        bus.RequestRaised += seen.Add;
        bus.Request(MachineRequest.PowerOff);
        Assert.Equal(MachineRequest.PowerOff, bus.PendingRequest);
        bus.ClearRequest();
        Assert.Equal(MachineRequest.None, bus.PendingRequest);
        Assert.Equal([MachineRequest.PowerOff], seen);
    }

    private sealed class RecordingSink : IIrqSink
    {
        public List<(int, bool)> Events { get; } = new();

        public void SetIrq(int irq, bool level) => Events.Add((irq, level));
    }
}
