using System.Buffers.Binary;

namespace Emu.Hardware.Pci;

/// <summary>One PCI function: a 256-byte type-0 configuration space with per-bit write masks and sizable BARs.</summary>
/// <remarks>Derived devices mark their own registers writable and react to writes in <see cref="OnConfigWritten"/>
/// and to state changes (reset, load) in <see cref="OnConfigRestored"/>.</remarks>
public abstract class PciFunction : IDevice
{
    /// <summary>Subsystem IDs QEMU gives its emulated devices (Red Hat, QEMU); SeaBIOS and guests see the same.</summary>
    public const ushort SubsystemVendor = 0x1AF4, SubsystemId = 0x1100;
    protected const int CommandRegister = 0x04;
    protected const int InterruptLine = 0x3C;
    private const ushort CommandIo = 0x01, CommandMemory = 0x02;

    private readonly byte[] config = new byte[256];
    private readonly byte[] writeMask = new byte[256];
    private readonly byte[] initial = new byte[256];
    private readonly bool[] barIsIo = new bool[6];

    /// <summary>Creates the function at <paramref name="device"/>.<paramref name="function"/> and plugs it into <paramref name="pci"/>.</summary>
    protected PciFunction(PciBus pci, string name, int device, int function, ushort vendorId, ushort deviceId,
        byte revision, uint classCode, bool multiFunction = false, byte interruptPin = 0)
    {
        Bus = pci.Machine;
        Name = name;
        Device = device;
        Function = function;
        Write16(0x00, vendorId);
        Write16(0x02, deviceId);
        config[0x08] = revision;
        config[0x09] = (byte)classCode;          // programming interface
        config[0x0A] = (byte)(classCode >> 8);    // subclass
        config[0x0B] = (byte)(classCode >> 16);   // class
        config[0x0E] = (byte)(multiFunction ? 0x80 : 0x00);
        Write16(0x2C, SubsystemVendor);
        Write16(0x2E, SubsystemId);
        config[0x3D] = interruptPin;
        Write16(0x06, 0x0280); // status: medium DEVSEL timing, fast back-to-back capable
        SetWritable(CommandRegister, 0x47, 0x05); // I/O, memory, bus master, parity, SERR, INTx disable
        SetWritable(0x0C, 0xFF, 0xFF);            // cache line size, latency timer
        SetWritable(InterruptLine, 0xFF);
        pci.Add(this);
        Bus.AddDevice(this);
    }

    public string Name { get; }

    /// <summary>PCI device number on bus 0.</summary>
    public int Device { get; }

    /// <summary>Function number within the device.</summary>
    public int Function { get; }

    /// <summary>The machine bus, for the device's ports, memory and IRQs.</summary>
    protected Bus Bus { get; }

    /// <summary>True when the command register enables I/O space decoding.</summary>
    public bool IoEnabled => (Read16(CommandRegister) & CommandIo) != 0;

    /// <summary>True when the command register enables memory space decoding.</summary>
    public bool MemoryEnabled => (Read16(CommandRegister) & CommandMemory) != 0;

    /// <summary>Reads <paramref name="size"/> bytes of configuration space at <paramref name="offset"/>.</summary>
    public uint ReadConfig(int offset, int size)
    {
        uint value = 0;
        for (int i = 0; i < size && offset + i < 256; i++)
            value |= (uint)config[offset + i] << (8 * i);
        return value;
    }

    /// <summary>Writes <paramref name="size"/> bytes of configuration space at <paramref name="offset"/>, honouring the write masks.</summary>
    public void WriteConfig(int offset, int size, uint value)
    {
        for (int i = 0; i < size && offset + i < 256; i++)
        {
            int at = offset + i;
            byte mask = writeMask[at];
            config[at] = (byte)((config[at] & ~mask) | ((byte)(value >> (8 * i)) & mask));
        }
        OnConfigWritten(offset, size);
    }

    /// <summary>Current address of BAR <paramref name="index"/> (type bits stripped).</summary>
    public uint BarAddress(int index)
    {
        uint raw = BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(0x10 + 4 * index));
        return raw & (barIsIo[index] ? 0xFFFF_FFFCu : 0xFFFF_FFF0u);
    }

    /// <summary>Declares BAR <paramref name="index"/> of <paramref name="size"/> bytes (a power of two); writing all-ones reads back the size mask.</summary>
    protected void DefineBar(int index, uint size, bool io)
    {
        barIsIo[index] = io;
        uint mask = ~(size - 1) & (io ? 0xFFFF_FFFCu : 0xFFFF_FFF0u);
        int at = 0x10 + 4 * index;
        BinaryPrimitives.WriteUInt32LittleEndian(writeMask.AsSpan(at), mask);
        config[at] = (byte)(io ? 0x01 : 0x00);
    }

    /// <summary>Moves an I/O range of <paramref name="count"/> ports from <paramref name="current"/> to <paramref name="newBase"/> (-1 = unmapped).</summary>
    /// <remarks>Guest-chosen ranges never take ports a fixed device owns.</remarks>
    protected void MapIo(ref int current, int newBase, int count, IIoHandler handler, IoWidth widths)
    {
        if (newBase == current)
            return;
        if (current >= 0)
            Bus.Io.Unregister(current, count, handler);
        current = newBase is > 0 && newBase + count <= 0x10000 ? newBase : -1;
        if (current >= 0)
            Bus.Io.RegisterFree(current, count, handler, widths);
    }

    /// <summary>True when a write at [<paramref name="offset"/>, +<paramref name="size"/>) touched [<paramref name="register"/>, +<paramref name="length"/>).</summary>
    protected static bool Touches(int offset, int size, int register, int length) =>
        offset < register + length && register < offset + size;

    /// <summary>Marks bytes from <paramref name="offset"/> writable with the given per-byte masks.</summary>
    protected void SetWritable(int offset, params ReadOnlySpan<byte> masks)
    {
        for (int i = 0; i < masks.Length; i++)
            writeMask[offset + i] = masks[i];
    }

    protected byte Read8(int offset) => config[offset];
    protected ushort Read16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(config.AsSpan(offset));
    protected uint Read32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(offset));
    protected void Write8(int offset, byte value) => config[offset] = value;
    protected void Write16(int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(config.AsSpan(offset), value);
    protected void Write32(int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(config.AsSpan(offset), value);

    /// <summary>Records the current configuration space as the power-on state; derived constructors call it last.</summary>
    protected void CapturePowerOnState() => config.CopyTo(initial, 0);

    /// <summary>Reacts to a guest configuration write (map BARs, PAM, routing).</summary>
    protected virtual void OnConfigWritten(int offset, int size) { }

    /// <summary>Re-applies every side effect of the configuration space after reset or load.</summary>
    protected virtual void OnConfigRestored() { }

    /// <summary>Saves device state beyond configuration space.</summary>
    protected virtual void SaveExtra(BinaryWriter writer) { }

    /// <summary>Loads device state beyond configuration space.</summary>
    protected virtual void LoadExtra(BinaryReader reader) { }

    /// <summary>Resets device state beyond configuration space.</summary>
    protected virtual void ResetExtra() { }

    public void Reset()
    {
        initial.CopyTo(config, 0);
        ResetExtra();
        OnConfigRestored();
    }

    public void Save(BinaryWriter writer)
    {
        writer.Write(config);
        SaveExtra(writer);
    }

    public void Load(BinaryReader reader)
    {
        reader.ReadBytes(config.Length).CopyTo(config, 0);
        LoadExtra(reader);
        OnConfigRestored();
    }
}
