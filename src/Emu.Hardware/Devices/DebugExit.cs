namespace Emu.Hardware;

/// <summary>QEMU's isa-debug-exit at 0xF4 (iosize 4): writing v asks the machine to exit with status (v &lt;&lt; 1) | 1.</summary>
public sealed class DebugExit : IIoHandler
{
    /// <summary>Default port, as in <c>-device isa-debug-exit,iobase=0xf4,iosize=0x04</c>.</summary>
    public const ushort DefaultPort = 0xF4;
    private readonly Bus bus;

    /// <summary>Claims four ports from <paramref name="port"/>, accepting any access width.</summary>
    public DebugExit(Bus bus, ushort port = DefaultPort)
    {
        this.bus = bus;
        bus.Io.Register(port, 4, this, IoWidth.All);
    }

    public uint Read(ushort port, int size) => 0xFFFF_FFFF;

    public void Write(ushort port, int size, uint value) => bus.Request(MachineRequest.Exit, (int)((value << 1) | 1));
}
