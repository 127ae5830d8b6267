using Emu.Hardware;

namespace Emu.Machine;

/// <summary>The CPU's view of everything that is not directly mapped RAM: the machine's memory map.</summary>
internal sealed class CpuMemoryBridge(Emu.Hardware.PhysicalMemory memory) : Emu.X86.IPhysicalMemory
{
    public byte Read8(uint address) => memory.Read8(address);
    public ushort Read16(uint address) => memory.Read16(address);
    public uint Read32(uint address) => memory.Read32(address);
    public void Write8(uint address, byte value) => memory.Write8(address, value);
    public void Write16(uint address, ushort value) => memory.Write16(address, value);
    public void Write32(uint address, uint value) => memory.Write32(address, value);
}

/// <summary>The CPU's I/O ports: the bus's port dispatch, after bringing the machine's clock up to date.</summary>
internal sealed class CpuIoBridge(IoBus io, Action syncClock) : Emu.X86.IIoPorts
{
    public byte In8(ushort port) { syncClock(); return io.In8(port); }
    public ushort In16(ushort port) { syncClock(); return io.In16(port); }
    public uint In32(ushort port) { syncClock(); return io.In32(port); }
    public void Out8(ushort port, byte value) { syncClock(); io.Out8(port, value); }
    public void Out16(ushort port, ushort value) { syncClock(); io.Out16(port, value); }
    public void Out32(ushort port, uint value) { syncClock(); io.Out32(port, value); }
}

/// <summary>The CPU's INTR input: the bus's interrupt controller (the PIC pair).</summary>
internal sealed class CpuInterruptBridge(Bus bus) : Emu.X86.IInterruptController
{
    public bool HasInterrupt => bus.InterruptController?.HasInterrupt ?? false;
    public int Acknowledge() => bus.InterruptController?.Acknowledge() ?? 0xFF;
}
