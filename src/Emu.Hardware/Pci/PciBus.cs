namespace Emu.Hardware.Pci;

/// <summary>PCI bus 0 reached through configuration mechanism 1 (0xCF8 address, 0xCFC-0xCFF data), plus the PIIX reset control register at 0xCF9.</summary>
public sealed class PciBus : IDevice, IIoHandler
{
    private readonly Bus bus;
    private readonly PciFunction?[] functions = new PciFunction?[256];
    private uint address;
    private byte resetControl;

    /// <summary>Creates the bus and claims 0xCF8-0xCFF.</summary>
    public PciBus(Bus bus)
    {
        this.bus = bus;
        bus.Io.Register(0xCF8, 8, this, IoWidth.All);
        bus.AddDevice(this);
    }

    public string Name => "pci";

    /// <summary>The machine bus the PCI functions live on.</summary>
    public Bus Machine => bus;

    /// <summary>The function at <paramref name="device"/>.<paramref name="function"/>, if present.</summary>
    public PciFunction? this[int device, int function] => functions[device << 3 | function];

    internal void Add(PciFunction function)
    {
        int devfn = function.Device << 3 | function.Function;
        if (functions[devfn] != null)
            throw new InvalidOperationException($"PCI slot {function.Device}.{function.Function} is already taken.");
        functions[devfn] = function;
    }

    public uint Read(ushort port, int size)
    {
        if (port == 0xCF8 && size == 4)
            return address;
        if (port == 0xCF9 && size == 1)
            return resetControl;
        if (port < 0xCFC)
            return 0xFFFF_FFFF;
        var target = Target();
        int offset = (int)(address & 0xFC) + (port & 3);
        return target?.ReadConfig(offset, size) ?? 0xFFFF_FFFF;
    }

    public void Write(ushort port, int size, uint value)
    {
        if (port == 0xCF8 && size == 4)
        {
            address = value & 0x80FF_FFFC;
            return;
        }
        if (port == 0xCF9 && size == 1)
        {
            // Bit 2 (reset CPU) triggers the reset; bit 1 (system reset) only selects its kind.
            resetControl = (byte)(value & 0x02);
            if ((value & 0x04) != 0)
                bus.Request(MachineRequest.Reset);
            return;
        }
        if (port < 0xCFC)
            return;
        Target()?.WriteConfig((int)(address & 0xFC) + (port & 3), size, value);
    }

    // Only bus 0 exists; type 1 cycles to other buses see no device.
    private PciFunction? Target()
    {
        if ((address & 0x8000_0000) == 0 || (address >> 16 & 0xFF) != 0)
            return null;
        return functions[address >> 8 & 0xFF];
    }

    public void Reset()
    {
        address = 0;
        resetControl = 0;
    }

    public void Save(BinaryWriter writer)
    {
        writer.Write(address);
        writer.Write(resetControl);
    }

    public void Load(BinaryReader reader)
    {
        address = reader.ReadUInt32();
        resetControl = reader.ReadByte();
    }
}
