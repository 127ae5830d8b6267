using Emu.Hardware;

namespace Emu.Hardware.Tests;

public class DebugPortTests
{
    private readonly Bus bus = new(1 << 20);

    [Fact]
    public void DebugConsoleCollectsBytesFromBothPorts()
    {
        var output = new List<byte>();
        _ = new DebugConsole(bus, output.Add);
        bus.Io.Out8(0xE9, (byte)'h');
        bus.Io.Out8(0x402, (byte)'i');
        Assert.Equal("hi"u8.ToArray(), output.ToArray());
        Assert.Equal(0xE9, bus.Io.In8(0xE9));
    }

    [Fact]
    public void DebugExitRequestsExitWithEncodedStatus()
    {
        _ = new DebugExit(bus);
        MachineRequest raised = MachineRequest.None;
        bus.RequestRaised += r => raised = r;
        bus.Io.Out32(0xF4, 0x10);
        Assert.Equal(MachineRequest.Exit, raised);
        Assert.Equal(0x21, bus.ExitStatus);
        bus.Io.Out8(0xF4, 0);
        Assert.Equal(1, bus.ExitStatus);
    }

    [Fact]
    public void UnhandledPortsReadAllOnes()
    {
        Assert.Equal(0xFF, bus.Io.In8(0x1234));
        Assert.Equal(0xFFFF, bus.Io.In16(0x1234));
        Assert.Equal(0xFFFF_FFFFu, bus.Io.In32(0x1234));
        bus.Io.Out32(0x1234, 0); // ignored
    }

    [Fact]
    public void WideAccessToBytePortsIsSplit()
    {
        var output = new List<byte>();
        _ = new DebugConsole(bus, output.Add);
        Assert.Equal(0xFFE9u, bus.Io.In16(0xE9)); // 0xE9 then unhandled 0xEA
        bus.Io.Out16(0xE8, 0x4142);
        Assert.Equal([0x41], output);
    }

    [Fact]
    public void ConflictingRegistrationThrows()
    {
        _ = new DebugConsole(bus, _ => { });
        Assert.Throws<InvalidOperationException>(() => new DebugConsole(bus, _ => { }));
    }
}
