namespace Emu.Hardware;

/// <summary>Bochs/QEMU debug console on ports 0xE9 and 0x402: bytes written go to the output sink; reads return 0xE9.</summary>
public sealed class DebugConsole : IIoHandler
{
    private readonly Action<byte> output;

    /// <summary>Claims 0xE9 and 0x402 and sends every byte written there to <paramref name="output"/>.</summary>
    public DebugConsole(Bus bus, Action<byte> output)
    {
        this.output = output;
        bus.Io.Register(0xE9, 1, this);
        bus.Io.Register(0x402, 1, this);
    }

    // Guests probe for the console by reading back 0xE9.
    public uint Read(ushort port, int size) => 0xE9;

    public void Write(ushort port, int size, uint value) => output((byte)value);
}
