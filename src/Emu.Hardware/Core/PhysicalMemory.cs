using System.Buffers.Binary;

namespace Emu.Hardware;

/// <summary>Handles guest accesses to a memory-mapped I/O region.</summary>
public interface IMmioHandler
{
    /// <summary>Reads <paramref name="size"/> bytes (1, 2, 4 or 8) at <paramref name="offset"/> into the region.</summary>
    ulong Read(uint offset, int size);

    /// <summary>Writes the low <paramref name="size"/> bytes of <paramref name="value"/> at <paramref name="offset"/>.</summary>
    void Write(uint offset, int size, ulong value);
}

/// <summary>The guest physical address space: RAM, ROM and MMIO regions, i440FX shadow RAM and the A20 gate.</summary>
/// <remarks>
/// RAM below 4 GiB is identity-mapped except the legacy hole 0xA0000-0xFFFFF; RAM beyond
/// <see cref="LowRamSize"/> appears at 4 GiB. Each 4 KiB page below 4 GiB has a read and a write target
/// (RAM, unassigned, or a region), so the common RAM access is one array lookup.
/// </remarks>
public sealed class PhysicalMemory
{
    /// <summary>Largest RAM mapped below 4 GiB; the rest goes above 4 GiB, as on QEMU's pc machine.</summary>
    public const uint MaxLowRam = 0xE000_0000;
    private const int PageShift = 12;
    private const uint PageSize = 1u << PageShift;
    private const ushort TargetRam = 0;
    private const ushort TargetNone = 1;
    private const ushort FirstRegion = 2;
    private const uint HoleStart = 0xA_0000;
    private const uint ShadowStart = 0xC_0000;
    private const uint HoleEnd = 0x10_0000;
    private const ulong FourGiB = 0x1_0000_0000;

    private readonly ushort[] readMap = new ushort[1 << 20];
    private readonly ushort[] writeMap = new ushort[1 << 20];
    private readonly List<Region?> regions = new();
    // Per 4 KiB page of 0xC0000-0xFFFFF: whether reads / writes reach shadow RAM (PAM).
    private readonly bool[] shadowRead = new bool[(HoleEnd - ShadowStart) / PageSize];
    private readonly bool[] shadowWrite = new bool[(HoleEnd - ShadowStart) / PageSize];
    private bool smramOpen;
    private bool a20Enabled = true;

    /// <summary>Creates guest memory with <paramref name="ramSize"/> bytes of RAM.</summary>
    public PhysicalMemory(long ramSize)
    {
        if (ramSize < HoleEnd || ramSize > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(ramSize), $"RAM size {ramSize >> 20} MiB is not supported: guest RAM is one array of 1 to {Array.MaxLength >> 20} MiB.");
        Ram = new byte[ramSize];
        LowRamSize = (uint)Math.Min(ramSize, MaxLowRam);
        HighRamSize = ramSize - LowRamSize;
        Rebuild(0, 1 << 20);
    }

    /// <summary>Guest RAM; offset = physical address below 4 GiB, or LowRamSize + (address - 4 GiB) above.</summary>
    public byte[] Ram { get; }

    /// <summary>Bytes of RAM mapped from physical address 0.</summary>
    public uint LowRamSize { get; }

    /// <summary>Bytes of RAM mapped from 4 GiB.</summary>
    public long HighRamSize { get; }

    /// <summary>Raised when the page map changes (PAM, SMRAM, regions, A20), so CPU TLBs and code caches can flush:
    /// with the first page and the number of pages whose targets changed (none for A20, which changes no target).</summary>
    public event Action<uint, uint>? MapChanged;

    /// <summary>Raised after a device wrote guest RAM by DMA (address, length), so decoded code can be invalidated.</summary>
    public event Action<ulong, int>? RamWrittenByDevice;

    /// <summary>State of the A20 gate; when disabled, CPU addresses have bit 20 cleared.</summary>
    public bool A20Enabled
    {
        get => a20Enabled;
        set
        {
            if (a20Enabled == value)
                return;
            a20Enabled = value;
            A20Mask = value ? ~0UL : ~0x10_0000UL;
            MapChanged?.Invoke(0, 0);
        }
    }

    /// <summary>Mask a CPU applies to physical addresses (bit 20 cleared while A20 is disabled).</summary>
    public ulong A20Mask { get; private set; } = ~0UL;

    /// <summary>When open, CPU accesses to 0xA0000-0xBFFFF reach RAM instead of VGA (i440FX SMRAM D_OPEN).</summary>
    public bool SmramOpen
    {
        get => smramOpen;
        set
        {
            if (smramOpen == value)
                return;
            smramOpen = value;
            Rebuild(HoleStart >> PageShift, (ShadowStart - HoleStart) >> PageShift);
        }
    }

    /// <summary>Maps read-only <paramref name="data"/> at <paramref name="address"/> (BIOS, option ROMs).</summary>
    public void AddRom(uint address, byte[] data) => AddRegion(new Region(address, (uint)data.Length, data, null));

    /// <summary>Maps <paramref name="handler"/> over <paramref name="size"/> bytes at <paramref name="address"/> (page granular).</summary>
    public void AddMmio(uint address, uint size, IMmioHandler handler) => AddRegion(new Region(address, size, null, handler));

    /// <summary>Unmaps every region served by <paramref name="handler"/>.</summary>
    public void RemoveMmio(IMmioHandler handler)
    {
        for (int i = 0; i < regions.Count; i++)
        {
            var region = regions[i];
            if (region?.Handler != handler)
                continue;
            regions[i] = null;
            Rebuild(region.Address >> PageShift, PageCount(region.Address, region.Size));
        }
    }

    /// <summary>Sets whether reads and writes in [<paramref name="address"/>, +<paramref name="length"/>) of 0xC0000-0xFFFFF reach shadow RAM.</summary>
    public void SetShadow(uint address, uint length, bool readRam, bool writeRam)
    {
        if (address < ShadowStart || address + length > HoleEnd)
            throw new ArgumentOutOfRangeException(nameof(address), "Shadow RAM covers 0xC0000-0xFFFFF only.");
        uint first = (address - ShadowStart) >> PageShift;
        uint count = length >> PageShift;
        for (uint i = first; i < first + count; i++)
        {
            shadowRead[i] = readRam;
            shadowWrite[i] = writeRam;
        }
        Rebuild(address >> PageShift, count);
    }

    /// <summary>RAM offset backing <paramref name="address"/> for a read or write, or -1 if it is not plain RAM (CPU TLB fast path).</summary>
    /// <remarks>The CPU applies <see cref="A20Mask"/> first. The answer holds for the whole 4 KiB page until <see cref="MapChanged"/>.</remarks>
    public long RamOffset(ulong address, bool write)
    {
        if (address >= FourGiB)
        {
            ulong high = address - FourGiB;
            return high < (ulong)HighRamSize ? LowRamSize + (long)high : -1;
        }
        var map = write ? writeMap : readMap;
        return map[address >> PageShift] == TargetRam ? (long)address : -1;
    }

    public byte Read8(ulong address) => (byte)Read(address & A20Mask, 1);
    public ushort Read16(ulong address) => (ushort)Read(address & A20Mask, 2);
    public uint Read32(ulong address) => (uint)Read(address & A20Mask, 4);
    public ulong Read64(ulong address) => Read(address & A20Mask, 8);
    public void Write8(ulong address, byte value) => Write(address & A20Mask, 1, value);
    public void Write16(ulong address, ushort value) => Write(address & A20Mask, 2, value);
    public void Write32(ulong address, uint value) => Write(address & A20Mask, 4, value);
    public void Write64(ulong address, ulong value) => Write(address & A20Mask, 8, value);

    /// <summary>Device read of guest RAM (no A20); false, with <paramref name="destination"/> filled with 0xFF, if any byte is not readable RAM.</summary>
    public bool DmaRead(ulong address, Span<byte> destination)
    {
        if (TryGetRam(address, destination.Length, write: false, out var source))
        {
            source.Span.CopyTo(destination);
            return true;
        }
        destination.Fill(0xFF);
        return false;
    }

    /// <summary>Device write to guest RAM (no A20); false, writing nothing, if any byte is not writable RAM.</summary>
    public bool DmaWrite(ulong address, ReadOnlySpan<byte> source)
    {
        if (!TryGetRam(address, source.Length, write: true, out var target))
            return false;
        source.CopyTo(target.Span);
        NotifyDeviceWrite(address, source.Length);
        return true;
    }

    /// <summary>Guest RAM at [<paramref name="address"/>, +<paramref name="length"/>) for zero-copy DMA; false unless every byte is RAM for that direction.</summary>
    /// <remarks>Devices see the same map as the CPU without A20 masking: shadow RAM counts when PAM routes the
    /// access to RAM, ROM and MMIO never do. A device writing through the returned memory must call <see cref="NotifyDeviceWrite"/>.</remarks>
    public bool TryGetRam(ulong address, int length, bool write, out Memory<byte> memory)
    {
        memory = default;
        if (length < 0)
            return false;
        ulong end = address + (ulong)length;
        if (end < address)
            return false;
        long offset;
        if (address >= FourGiB)
        {
            if (end - FourGiB > (ulong)HighRamSize)
                return false;
            offset = LowRamSize + (long)(address - FourGiB);
        }
        else
        {
            if (end > LowRamSize)
                return false;
            var map = write ? writeMap : readMap;
            for (ulong page = address >> PageShift; page < (end + PageSize - 1) >> PageShift; page++)
                if (map[page] != TargetRam)
                    return false;
            offset = (long)address;
        }
        memory = Ram.AsMemory((int)offset, length);
        return true;
    }

    /// <summary>Reports a device write to guest RAM made outside <see cref="DmaWrite"/>.</summary>
    public void NotifyDeviceWrite(ulong address, int length) => RamWrittenByDevice?.Invoke(address, length);

    private ulong Read(ulong address, int size)
    {
        if (address < FourGiB)
        {
            ushort target = readMap[address >> PageShift];
            bool inPage = (address & (PageSize - 1)) + (uint)size <= PageSize;
            if (target == TargetRam && inPage)
                return ReadRam((int)address, size);
            if (target >= FirstRegion && inPage)
                return ReadRegion(regions[target - FirstRegion]!, (uint)address, size);
            if (target == TargetNone && inPage)
                return size == 8 ? ~0UL : (1UL << (8 * size)) - 1;
        }
        else if (size == 1 || (address - FourGiB + (ulong)size) <= (ulong)HighRamSize)
        {
            long offset = RamOffset(address, false);
            return offset < 0 ? 0xFF : ReadRam(offset, size);
        }
        // Page-crossing (or past 4 GiB) access: compose from bytes, each routed on its own.
        ulong value = 0;
        for (int i = 0; i < size; i++)
            value |= Read(address + (ulong)i, 1) << (8 * i);
        return value;
    }

    private void Write(ulong address, int size, ulong value)
    {
        if (address < FourGiB)
        {
            ushort target = writeMap[address >> PageShift];
            bool inPage = (address & (PageSize - 1)) + (uint)size <= PageSize;
            if (target == TargetRam && inPage)
            {
                WriteRam((int)address, size, value);
                return;
            }
            if (target >= FirstRegion && inPage)
            {
                var region = regions[target - FirstRegion]!;
                region.Handler?.Write((uint)address - region.Address, size, value);
                return;
            }
            if (target == TargetNone && inPage)
                return;
        }
        else if (size == 1 || (address - FourGiB + (ulong)size) <= (ulong)HighRamSize)
        {
            long offset = RamOffset(address, true);
            if (offset >= 0)
                WriteRam(offset, size, value);
            return;
        }
        for (int i = 0; i < size; i++)
            Write(address + (ulong)i, 1, (value >> (8 * i)) & 0xFF);
    }

    private ulong ReadRam(long offset, int size)
    {
        var span = Ram.AsSpan((int)offset, size);
        return size switch
        {
            1 => span[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(span),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(span),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(span),
        };
    }

    private void WriteRam(long offset, int size, ulong value)
    {
        var span = Ram.AsSpan((int)offset, size);
        switch (size)
        {
            case 1: span[0] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)value); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(span, value); break;
        }
    }

    private static ulong ReadRegion(Region region, uint address, int size)
    {
        uint offset = address - region.Address;
        if (region.Handler != null)
            return region.Handler.Read(offset, size);
        ulong value = 0;
        for (int i = 0; i < size; i++)
        {
            uint at = offset + (uint)i;
            value |= (ulong)(at < region.Rom!.Length ? region.Rom[at] : 0xFF) << (8 * i);
        }
        return value;
    }

    private void AddRegion(Region region)
    {
        if (region.Size == 0 || (ulong)region.Address + region.Size > FourGiB)
            throw new ArgumentOutOfRangeException(nameof(region), "Region must be non-empty and below 4 GiB.");
        if (regions.Count + FirstRegion > ushort.MaxValue)
            throw new InvalidOperationException("Too many memory regions.");
        regions.Add(region);
        Rebuild(region.Address >> PageShift, PageCount(region.Address, region.Size));
    }

    private static uint PageCount(uint address, uint size) =>
        (uint)((((ulong)address + size + PageSize - 1) >> PageShift) - (address >> PageShift));

    // Recomputes the targets of a page range; listeners hear about it only if a target actually changed.
    private void Rebuild(uint firstPage, uint count)
    {
        uint firstChanged = uint.MaxValue, lastChanged = 0;
        for (uint page = firstPage; page < firstPage + count; page++)
        {
            ushort under = Underlying(page);
            uint address = page << PageShift;
            ushort read = under, write = under;
            if (address >= ShadowStart && address < HoleEnd)
            {
                uint shadow = (address - ShadowStart) >> PageShift;
                if (shadowRead[shadow]) read = TargetRam;
                if (shadowWrite[shadow]) write = TargetRam;
            }
            else if (address >= HoleStart && address < ShadowStart && smramOpen)
            {
                read = write = TargetRam;
            }
            if (readMap[page] != read || writeMap[page] != write)
            {
                firstChanged = Math.Min(firstChanged, page);
                lastChanged = page;
            }
            readMap[page] = read;
            writeMap[page] = write;
        }
        if (firstChanged != uint.MaxValue)
            MapChanged?.Invoke(firstChanged, lastChanged - firstChanged + 1);
    }

    // What a page shows with shadowing off: the newest region covering it, else RAM outside the hole, else nothing.
    private ushort Underlying(uint page)
    {
        ulong address = (ulong)page << PageShift;
        for (int i = regions.Count - 1; i >= 0; i--)
        {
            var region = regions[i];
            if (region != null && address + PageSize > region.Address && address < (ulong)region.Address + region.Size)
                return (ushort)(i + FirstRegion);
        }
        bool inHole = address >= HoleStart && address < HoleEnd;
        return address < LowRamSize && !inHole ? TargetRam : TargetNone;
    }

    private sealed record Region(uint Address, uint Size, byte[]? Rom, IMmioHandler? Handler);
}
