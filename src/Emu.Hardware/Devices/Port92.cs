namespace Emu.Hardware;

/// <summary>System control port A (0x92): fast A20 gate (bit 1) and fast reset (bit 0).</summary>
public sealed class Port92 : IDevice, IIoHandler
{
    private readonly Bus bus;
    private bool resetBit;

    /// <summary>Creates the port, claims 0x92 and attaches to the bus.</summary>
    public Port92(Bus bus)
    {
        this.bus = bus;
        bus.Io.Register(0x92, 1, this);
        bus.AddDevice(this);
    }

    public string Name => "port92";

    public uint Read(ushort port, int size) => (bus.Memory.A20Enabled ? 0x02u : 0) | (resetBit ? 0x01u : 0);

    public void Write(ushort port, int size, uint value)
    {
        bus.Memory.A20Enabled = (value & 0x02) != 0;
        bool reset = (value & 0x01) != 0;
        // Only a 0 -> 1 transition resets the CPU.
        if (reset && !resetBit)
            bus.Request(MachineRequest.Reset);
        resetBit = reset;
    }

    public void Reset() => resetBit = false;

    public void Save(BinaryWriter writer) => writer.Write(resetBit);

    public void Load(BinaryReader reader) => resetBit = reader.ReadBoolean();
}
