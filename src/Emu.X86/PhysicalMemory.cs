using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Emu.X86;

/// <summary>Guest physical memory: a RAM array the CPU accesses directly plus a bus for everything else.</summary>
/// <remarks>Each 4 KiB RAM page can be marked as routed to the bus for reads and/or writes
/// (VGA window, ROM shadows), so the machine decides which RAM pages the CPU may touch directly.</remarks>
public sealed class PhysicalMemory
{
    const byte DirectRead = 1, DirectWrite = 2;

    /// <summary>Guest RAM starting at physical address 0.</summary>
    public byte[] Ram { get; }

    /// <summary>Receives every access that does not go straight to <see cref="Ram"/>.</summary>
    public IPhysicalMemory Bus { get; set; }

    readonly byte[] _pageAccess;
    readonly uint _ramSize;

    /// <summary>Wraps <paramref name="ram"/> (whole pages) with all pages directly readable and writable.</summary>
    public PhysicalMemory(byte[] ram, IPhysicalMemory bus)
    {
        if ((ram.Length & 0xFFF) != 0) throw new ArgumentException("RAM size must be a multiple of 4 KiB", nameof(ram));
        Ram = ram;
        Bus = bus;
        _ramSize = (uint)ram.Length;
        _pageAccess = new byte[ram.Length >> 12];
        _pageAccess.AsSpan().Fill(DirectRead | DirectWrite);
    }

    /// <summary>Routes reads and/or writes of the RAM pages covering [start, start+length) to the bus (true) or to RAM (false).</summary>
    public void SetBusRouting(uint start, uint length, bool readsToBus, bool writesToBus)
    {
        byte access = (byte)((readsToBus ? 0 : DirectRead) | (writesToBus ? 0 : DirectWrite));
        for (uint page = start >> 12; page < (start + length + 0xFFF) >> 12 && page < _pageAccess.Length; page++)
            _pageAccess[page] = access;
        RoutingChanged?.Invoke();
    }

    /// <summary>Raised after <see cref="SetBusRouting"/>: translations that skip the bus check are stale.</summary>
    public event Action? RoutingChanged;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool CanReadDirect(uint address) => address < _ramSize && (_pageAccess[address >> 12] & DirectRead) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool CanWriteDirect(uint address) => address < _ramSize && (_pageAccess[address >> 12] & DirectWrite) != 0;

    // Callers have checked the address against the RAM size, so the element access needs no bounds check.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    ref byte RamAt(uint a) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Ram), (nint)a);

    /// <summary>Reads a byte at a physical address.</summary>
    public byte Read8(uint a) => CanReadDirect(a) ? RamAt(a) : Bus.Read8(a);

    /// <summary>Reads a word at a physical address (must not cross a 4 KiB page).</summary>
    public ushort Read16(uint a) => CanReadDirect(a)
        ? Unsafe.ReadUnaligned<ushort>(ref RamAt(a)) : Bus.Read16(a);

    /// <summary>Reads a dword at a physical address (must not cross a 4 KiB page).</summary>
    public uint Read32(uint a) => CanReadDirect(a)
        ? Unsafe.ReadUnaligned<uint>(ref RamAt(a)) : Bus.Read32(a);

    /// <summary>Writes a byte at a physical address.</summary>
    public void Write8(uint a, byte v)
    {
        if (CanWriteDirect(a)) RamAt(a) = v; else Bus.Write8(a, v);
    }

    /// <summary>Writes a word at a physical address (must not cross a 4 KiB page).</summary>
    public void Write16(uint a, ushort v)
    {
        if (CanWriteDirect(a)) Unsafe.WriteUnaligned(ref RamAt(a), v); else Bus.Write16(a, v);
    }

    /// <summary>Writes a dword at a physical address (must not cross a 4 KiB page).</summary>
    public void Write32(uint a, uint v)
    {
        if (CanWriteDirect(a)) Unsafe.WriteUnaligned(ref RamAt(a), v); else Bus.Write32(a, v);
    }
}
