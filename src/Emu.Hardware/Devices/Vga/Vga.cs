using Emu.Hardware.Pci;

namespace Emu.Hardware;

/// <summary>QEMU's <c>-vga std</c>: a PCI VGA adapter (1234:1111, class 0x0300) with the legacy VGA registers and
/// memory window, the Bochs VBE "dispi" interface at 0x1CE/0x1CF, a linear framebuffer at BAR0 and the VGA BIOS in
/// its expansion ROM BAR; BAR2 is QEMU's 4 KiB register window (VGA ports at 0x400, VBE registers at 0x500, QEMU
/// extended registers at 0x600) that Linux's bochs-drm uses.</summary>
/// <remarks>
/// VRAM is laid out as QEMU's: byte <c>4 * offset + plane</c> holds a plane's byte, so chain-4 and VBE modes see it
/// linearly and text cells sit at <c>4 * cell</c> (character) and <c>4 * cell + 1</c> (attribute).
/// The legacy ports and 0xA0000-0xBFFFF are always decoded; BAR0 and the ROM follow the PCI command register.
/// Split over Vga.cs (PCI, registers, state), Vga.Memory.cs (the legacy window) and Vga.Text.cs (the text screen).
/// </remarks>
public sealed partial class Vga : PciFunction, IIoHandler
{
    /// <summary>Bytes of video memory (QEMU's default vgamem_mb=16).</summary>
    public const int VramSize = 16 << 20;
    private const int Bar0 = 0, Bar2 = 2;
    private const uint MmioSize = 4096;
    private const int RomBar = 0x30;

    private readonly byte[] vram = new byte[VramSize];
    private readonly byte[]? rom;
    private readonly uint romSize;
    private readonly LinearFramebuffer lfb;
    private readonly OptionRom romHandler;
    private readonly LegacyWindow window;
    private readonly RegisterWindow mmio;
    private uint lfbMapped, romMapped, mmioMapped; // current addresses, 0 = unmapped
    private uint qemuByteOrder = ByteOrderLittle;

    // Legacy VGA registers.
    private readonly byte[] sequencer = new byte[8];
    private readonly byte[] graphics = new byte[16];
    private readonly byte[] attribute = new byte[32];
    private readonly byte[] crtc = new byte[256];
    private readonly byte[] dac = new byte[256 * 3];
    private byte sequencerIndex, graphicsIndex, attributeIndex, crtcIndex;
    private bool attributeFlipFlop;     // false: the next write to 0x3C0 is an index
    private byte misc, featureControl, status1;
    private byte dacReadIndex, dacWriteIndex, dacSub, dacState, dacMask = 0xFF;
    private uint latch;

    // Bochs VBE.
    private readonly ushort[] vbe = new ushort[VbeRegisterCount];
    private ushort vbeIndex;

    // QEMU's write masks of the sequencer and graphics controller registers.
    private static readonly byte[] SequencerMask = [0x03, 0x3D, 0x0F, 0x3F, 0x0E, 0x00, 0x00, 0xFF];
    private static readonly byte[] GraphicsMask = [0x0F, 0x0F, 0x0F, 0x1F, 0x03, 0x7B, 0x0F, 0x0F, 0xFF];

    /// <summary>Creates the adapter at PCI <paramref name="device"/>.0 (QEMU's pc machine puts it at 00:02.0).</summary>
    /// <param name="pci">The PCI bus.</param>
    /// <param name="optionRom">The VGA BIOS (SeaBIOS's vgabios-stdvga.bin) served through the expansion ROM BAR, or null for none.</param>
    /// <param name="device">PCI device number.</param>
    public Vga(PciBus pci, byte[]? optionRom, int device = 2)
        : base(pci, "vga", device, function: 0, vendorId: 0x1234, deviceId: 0x1111, revision: 0x02, classCode: 0x030000)
    {
        DefineBar(Bar0, VramSize, io: false);
        Write8(0x10, 0x08); // prefetchable 32-bit memory
        DefineBar(Bar2, MmioSize, io: false);
        if (optionRom is { Length: > 0 })
        {
            rom = optionRom;
            romSize = 2048;
            while (romSize < optionRom.Length)
                romSize <<= 1;
            uint mask = ~(romSize - 1) | 1; // address bits and the enable bit
            SetWritable(RomBar, (byte)mask, (byte)(mask >> 8), (byte)(mask >> 16), (byte)(mask >> 24));
        }
        lfb = new LinearFramebuffer(this);
        romHandler = new OptionRom(this);
        window = new LegacyWindow(this);
        mmio = new RegisterWindow(this);
        var io = Bus.Io;
        io.Register(0x3B0, 0x30, this);
        io.Register(0x1CE, 3, this, IoWidth.Byte | IoWidth.Word);
        Bus.Memory.AddMmio(0xA_0000, 0x2_0000, window);
        CapturePowerOnState();
        ResetRegisters();
    }

    /// <summary>Video memory (planes interleaved, see the class remarks); the framebuffer in VBE modes.</summary>
    public byte[] Vram => vram;

    /// <summary>Where BAR0 maps the framebuffer now, or 0.</summary>
    public uint FramebufferAddress => lfbMapped;

    /// <summary>True while a Bochs VBE mode is enabled.</summary>
    public bool VbeEnabled => (vbe[VbeEnable] & VbeEnabledBit) != 0;

    /// <summary>The VBE mode set (width, height, bits per pixel), meaningful while <see cref="VbeEnabled"/>.</summary>
    public (int Width, int Height, int Bpp) VbeMode => (vbe[VbeXres], vbe[VbeYres], vbe[VbeBpp]);

    // ---- PCI ----

    protected override void OnConfigWritten(int offset, int size)
    {
        if (Touches(offset, size, CommandRegister, 2) || Touches(offset, size, 0x10, 4) || Touches(offset, size, 0x18, 4)
            || Touches(offset, size, RomBar, 4))
            UpdateMappings();
    }

    protected override void OnConfigRestored() => UpdateMappings();

    private void UpdateMappings()
    {
        uint lfbTarget = MemoryEnabled ? BarAddress(Bar0) : 0;
        if (lfbTarget != lfbMapped)
        {
            if (lfbMapped != 0)
                Bus.Memory.RemoveMmio(lfb);
            lfbMapped = lfbTarget;
            if (lfbMapped != 0)
                Bus.Memory.AddMmio(lfbMapped, VramSize, lfb);
        }
        uint mmioTarget = MemoryEnabled ? BarAddress(Bar2) : 0;
        if (mmioTarget != mmioMapped)
        {
            if (mmioMapped != 0)
                Bus.Memory.RemoveMmio(mmio);
            mmioMapped = mmioTarget;
            if (mmioMapped != 0)
                Bus.Memory.AddMmio(mmioMapped, MmioSize, mmio);
        }
        uint romRegister = Read32(RomBar);
        uint romTarget = rom != null && MemoryEnabled && (romRegister & 1) != 0 ? romRegister & ~(romSize - 1) : 0;
        if (romTarget != romMapped)
        {
            if (romMapped != 0)
                Bus.Memory.RemoveMmio(romHandler);
            romMapped = romTarget;
            if (romMapped != 0)
                Bus.Memory.AddMmio(romMapped, romSize, romHandler);
        }
    }

    // ---- I/O ports ----

    private bool ColorPorts => (misc & 0x01) != 0;

    public uint Read(ushort port, int size)
    {
        if (port >= 0x1CE && port <= 0x1D0)
            return port == 0x1CE ? vbeIndex : ReadVbe();
        // The CRTC and status ports of the emulation (mono 0x3Bx or color 0x3Dx) not selected do not answer.
        if (port is >= 0x3B0 and < 0x3C0 && ColorPorts || port >= 0x3D0 && !ColorPorts)
            return 0xFF;
        switch (port)
        {
            case 0x3C0:
                return attributeFlipFlop ? 0u : attributeIndex;
            case 0x3C1:
                return attribute[attributeIndex & 0x1F];
            case 0x3C2:
                return 0x00; // input status 0
            case 0x3C4:
                return sequencerIndex;
            case 0x3C5:
                return sequencer[sequencerIndex & 7];
            case 0x3C6:
                return dacMask;
            case 0x3C7:
                return dacState;
            case 0x3C8:
                return dacWriteIndex;
            case 0x3C9:
                byte value = dac[dacReadIndex * 3 + dacSub];
                if (++dacSub == 3)
                {
                    dacSub = 0;
                    dacReadIndex++;
                }
                return value;
            case 0x3CA:
                return featureControl;
            case 0x3CC:
                return misc;
            case 0x3CE:
                return graphicsIndex;
            case 0x3CF:
                return graphics[graphicsIndex & 0x0F];
            case 0x3B4 or 0x3D4:
                return crtcIndex;
            case 0x3B5 or 0x3D5:
                return crtc[crtcIndex];
            case 0x3BA or 0x3DA:
                // Vertical retrace and display-disable toggle on every read, so polling loops in either direction end.
                status1 ^= 0x09;
                attributeFlipFlop = false;
                return status1;
            default:
                return 0xFF;
        }
    }

    public void Write(ushort port, int size, uint value)
    {
        if (port >= 0x1CE && port <= 0x1D0)
        {
            if (port == 0x1CE)
                vbeIndex = (ushort)value;
            else
                WriteVbe((ushort)value);
            return;
        }
        if (port is >= 0x3B0 and < 0x3C0 && ColorPorts || port >= 0x3D0 && !ColorPorts)
            return;
        byte data = (byte)value;
        switch (port)
        {
            case 0x3C0:
                if (!attributeFlipFlop)
                    attributeIndex = (byte)(data & 0x3F);
                else
                    WriteAttribute(attributeIndex & 0x1F, data);
                attributeFlipFlop = !attributeFlipFlop;
                break;
            case 0x3C2:
                if (misc != data)
                    ScreenVersion++;
                misc = data;
                break;
            case 0x3C4:
                sequencerIndex = (byte)(data & 7);
                break;
            case 0x3C5:
                sequencer[sequencerIndex] = (byte)(data & SequencerMask[sequencerIndex]);
                break;
            case 0x3C6:
                dacMask = data;
                break;
            case 0x3C7:
                dacReadIndex = data;
                dacSub = 0;
                dacState = 3;
                break;
            case 0x3C8:
                dacWriteIndex = data;
                dacSub = 0;
                dacState = 0;
                break;
            case 0x3C9:
                dac[dacWriteIndex * 3 + dacSub] = data;
                if (++dacSub == 3)
                {
                    dacSub = 0;
                    dacWriteIndex++;
                }
                break;
            case 0x3CE:
                graphicsIndex = (byte)(data & 0x0F);
                break;
            case 0x3CF:
                if (graphicsIndex < GraphicsMask.Length)
                {
                    byte masked = (byte)(data & GraphicsMask[graphicsIndex]);
                    if (graphicsIndex == 6 && graphics[6] != masked)
                        ScreenVersion++;
                    graphics[graphicsIndex] = masked;
                }
                break;
            case 0x3B4 or 0x3D4:
                crtcIndex = data;
                break;
            case 0x3B5 or 0x3D5:
                WriteCrtc(data);
                break;
            case 0x3BA or 0x3DA:
                featureControl = (byte)(data & 0x03);
                break;
        }
    }

    private void WriteAttribute(int index, byte data)
    {
        if (index < 0x10)
            data &= 0x3F;
        else if (index > 0x14)
            return;
        if (attribute[index] != data && index == 0x10)
            ScreenVersion++;
        attribute[index] = data;
    }

    private void WriteCrtc(byte data)
    {
        // With the protect bit (CR11 bit 7), registers 0-7 are read-only except CR07's line compare bit 8.
        if (crtcIndex <= 7 && (crtc[0x11] & 0x80) != 0)
        {
            if (crtcIndex == 7)
                crtc[7] = (byte)((crtc[7] & ~0x10) | (data & 0x10));
            return;
        }
        if (crtc[crtcIndex] == data)
            return;
        crtc[crtcIndex] = data;
        // Cursor registers move the cursor only; everything else may change what the text screen shows.
        if (crtcIndex is not (0x0A or 0x0B or 0x0E or 0x0F))
            ScreenVersion++;
    }

    // ---- Bochs VBE (dispi) ----

    private const int VbeId = 0, VbeXres = 1, VbeYres = 2, VbeBpp = 3, VbeEnable = 4, VbeBank = 5;
    private const int VbeVirtWidth = 6, VbeVirtHeight = 7, VbeXOffset = 8, VbeYOffset = 9, VbeMemory64K = 0x0A;
    private const int VbeRegisterCount = 10;
    private const ushort VbeEnabledBit = 0x01, VbeGetCaps = 0x02, Vbe8BitDac = 0x20, VbeLfbEnabled = 0x40, VbeNoClearMem = 0x80;
    private const ushort VbeMaxXres = 16000, VbeMaxYres = 12000, VbeMaxBpp = 32;
    /// <summary>The newest dispi interface id (what SeaVGABIOS checks for).</summary>
    public const ushort VbeIdLatest = 0xB0C5;

    private ushort ReadVbe()
    {
        if (vbeIndex == VbeMemory64K)
            return VramSize >> 16;
        if (vbeIndex >= VbeRegisterCount)
            return 0;
        if ((vbe[VbeEnable] & VbeGetCaps) != 0)
        {
            switch (vbeIndex)
            {
                case VbeXres: return VbeMaxXres;
                case VbeYres: return VbeMaxYres;
                case VbeBpp: return VbeMaxBpp;
            }
        }
        return vbe[vbeIndex];
    }

    private void WriteVbe(ushort value)
    {
        switch (vbeIndex)
        {
            case VbeId:
                if (value is >= 0xB0C0 and <= VbeIdLatest)
                    vbe[VbeId] = value;
                break;
            case VbeXres or VbeYres or VbeBpp or VbeVirtWidth or VbeXOffset or VbeYOffset:
                vbe[vbeIndex] = value;
                if (VbeEnabled)
                    FixupVbe();
                ScreenVersion++;
                break;
            case VbeBank:
                vbe[VbeBank] = (ushort)(value & ((VramSize >> 16) - 1));
                break;
            case VbeEnable:
                bool enabling = (value & VbeEnabledBit) != 0 && !VbeEnabled;
                vbe[VbeEnable] = value;
                if (enabling)
                {
                    vbe[VbeVirtWidth] = vbe[VbeXOffset] = vbe[VbeYOffset] = 0;
                    FixupVbe();
                    // The BIOS's job on real cards; QEMU does it here: graphics mode, 64 KiB window at 0xA0000.
                    graphics[6] = (byte)((graphics[6] & ~0x0C) | 0x04 | 0x01);
                    if ((value & VbeNoClearMem) == 0)
                        Array.Clear(vram, 0, (int)Math.Min(VramSize, (long)vbe[VbeYres] * VbeLineBytes));
                }
                if ((value & VbeEnabledBit) == 0)
                    vbe[VbeBank] = 0;
                ScreenVersion++;
                break;
        }
    }

    // Bytes per framebuffer line.
    private int VbeLineBytes => vbe[VbeBpp] == 4 ? vbe[VbeVirtWidth] / 2 : vbe[VbeVirtWidth] * ((vbe[VbeBpp] + 7) / 8);

    // Brings the mode registers into range, as QEMU's vbe_fixup_regs does.
    private void FixupVbe()
    {
        ushort bpp = vbe[VbeBpp];
        if (bpp is not (4 or 8 or 15 or 16 or 24 or 32))
            vbe[VbeBpp] = bpp = 8;
        vbe[VbeXres] = (ushort)Math.Clamp(vbe[VbeXres] & ~7, 8, VbeMaxXres);
        vbe[VbeYres] = (ushort)Math.Clamp((int)vbe[VbeYres], 1, VbeMaxYres);
        if (vbe[VbeVirtWidth] < vbe[VbeXres])
            vbe[VbeVirtWidth] = vbe[VbeXres];
        int line = VbeLineBytes;
        int maxHeight = VramSize / Math.Max(line, 1);
        if (maxHeight < vbe[VbeYres])
        {
            // The mode does not fit: fall back to a virtual width of the resolution.
            vbe[VbeVirtWidth] = vbe[VbeXres];
            line = VbeLineBytes;
            maxHeight = VramSize / Math.Max(line, 1);
            if (maxHeight < vbe[VbeYres])
                vbe[VbeYres] = (ushort)maxHeight;
        }
        vbe[VbeVirtHeight] = (ushort)Math.Min(maxHeight, ushort.MaxValue);
        if (vbe[VbeXOffset] > vbe[VbeVirtWidth] - vbe[VbeXres])
            vbe[VbeXOffset] = (ushort)(vbe[VbeVirtWidth] - vbe[VbeXres]);
        if (vbe[VbeYOffset] > vbe[VbeVirtHeight] - vbe[VbeYres])
            vbe[VbeYOffset] = (ushort)(vbe[VbeVirtHeight] - vbe[VbeYres]);
    }

    // ---- reset and state ----

    private void ResetRegisters()
    {
        Array.Clear(sequencer);
        Array.Clear(graphics);
        Array.Clear(attribute);
        Array.Clear(crtc);
        Array.Clear(dac);
        Array.Clear(vbe);
        sequencerIndex = graphicsIndex = attributeIndex = crtcIndex = 0;
        attributeFlipFlop = false;
        misc = featureControl = status1 = 0;
        dacReadIndex = dacWriteIndex = dacSub = dacState = 0;
        dacMask = 0xFF;
        latch = 0;
        vbe[VbeId] = 0xB0C0;
        vbeIndex = 0;
        qemuByteOrder = ByteOrderLittle;
        ScreenVersion++;
    }

    protected override void ResetExtra() => ResetRegisters(); // video memory keeps its contents, as on a real card

    protected override void SaveExtra(BinaryWriter w)
    {
        w.Write(sequencer); w.Write(graphics); w.Write(attribute); w.Write(crtc); w.Write(dac);
        w.Write(sequencerIndex); w.Write(graphicsIndex); w.Write(attributeIndex); w.Write(crtcIndex);
        w.Write(attributeFlipFlop); w.Write(misc); w.Write(featureControl); w.Write(status1);
        w.Write(dacReadIndex); w.Write(dacWriteIndex); w.Write(dacSub); w.Write(dacState); w.Write(dacMask);
        w.Write(latch);
        foreach (ushort register in vbe)
            w.Write(register);
        w.Write(vbeIndex);
        w.Write(qemuByteOrder);
        SaveVram(w);
    }

    protected override void LoadExtra(BinaryReader r)
    {
        r.ReadBytes(sequencer.Length).CopyTo(sequencer, 0);
        r.ReadBytes(graphics.Length).CopyTo(graphics, 0);
        r.ReadBytes(attribute.Length).CopyTo(attribute, 0);
        r.ReadBytes(crtc.Length).CopyTo(crtc, 0);
        r.ReadBytes(dac.Length).CopyTo(dac, 0);
        sequencerIndex = r.ReadByte(); graphicsIndex = r.ReadByte(); attributeIndex = r.ReadByte(); crtcIndex = r.ReadByte();
        attributeFlipFlop = r.ReadBoolean(); misc = r.ReadByte(); featureControl = r.ReadByte(); status1 = r.ReadByte();
        dacReadIndex = r.ReadByte(); dacWriteIndex = r.ReadByte(); dacSub = r.ReadByte(); dacState = r.ReadByte(); dacMask = r.ReadByte();
        latch = r.ReadUInt32();
        for (int i = 0; i < vbe.Length; i++)
            vbe[i] = r.ReadUInt16();
        vbeIndex = r.ReadUInt16();
        qemuByteOrder = r.ReadUInt32();
        LoadVram(r);
        ScreenVersion++;
    }

    // VRAM is mostly zero: save it as 4 KiB pages, skipping all-zero ones (page index, then data; -1 ends).
    private const int VramPage = 4096;

    private void SaveVram(BinaryWriter w)
    {
        for (int page = 0; page < VramSize / VramPage; page++)
        {
            var data = vram.AsSpan(page * VramPage, VramPage);
            if (!data.ContainsAnyExcept((byte)0))
                continue;
            w.Write(page);
            w.Write(data);
        }
        w.Write(-1);
    }

    private void LoadVram(BinaryReader r)
    {
        Array.Clear(vram);
        for (int page = r.ReadInt32(); page != -1; page = r.ReadInt32())
        {
            if (page < 0 || page >= VramSize / VramPage)
                throw new InvalidDataException("Bad VGA memory page in saved state.");
            byte[] data = r.ReadBytes(VramPage);
            if (data.Length != VramPage)
                throw new EndOfStreamException();
            data.CopyTo(vram, page * VramPage);
        }
    }

    private sealed class LinearFramebuffer(Vga vga) : IMmioHandler
    {
        public ulong Read(uint offset, int size)
        {
            ulong value = 0;
            for (int i = 0; i < size; i++)
                value |= (ulong)vga.vram[(offset + i) & (VramSize - 1)] << (8 * i);
            return value;
        }

        public void Write(uint offset, int size, ulong value)
        {
            for (int i = 0; i < size; i++)
                vga.vram[(offset + i) & (VramSize - 1)] = (byte)(value >> (8 * i));
            if (!vga.VbeEnabled)
                vga.ScreenVersion++;
        }
    }

    // QEMU's extended registers: region size, and framebuffer byte order (only little-endian is shown here).
    private const uint ByteOrderLittle = 0x1E1E_1E1E, ByteOrderBig = 0xBEBE_BEBE;

    // BAR2: the VGA ports 0x3C0-0x3DF at 0x400 (byte registers), the VBE registers at 0x500 (16-bit, index = offset / 2),
    // QEMU's extended registers at 0x600; anything else reads 0.
    private sealed class RegisterWindow(Vga vga) : IMmioHandler
    {
        public ulong Read(uint offset, int size)
        {
            if (offset is >= 0x400 and < 0x420)
            {
                ulong value = 0;
                for (int i = 0; i < size && offset + i < 0x420; i++)
                    value |= (ulong)vga.Read((ushort)(0x3C0 + offset - 0x400 + i), 1) << (8 * i);
                return value;
            }
            if (offset is >= 0x500 and < 0x516)
            {
                vga.vbeIndex = (ushort)((offset - 0x500) >> 1);
                return (ulong)vga.ReadVbe() >> (8 * (int)(offset & 1));
            }
            return offset switch
            {
                0x600 => 8,
                0x604 => vga.qemuByteOrder,
                _ => 0,
            };
        }

        public void Write(uint offset, int size, ulong value)
        {
            if (offset is >= 0x400 and < 0x420)
            {
                for (int i = 0; i < size && offset + i < 0x420; i++)
                    vga.Write((ushort)(0x3C0 + offset - 0x400 + i), 1, (byte)(value >> (8 * i)));
                return;
            }
            if (offset is >= 0x500 and < 0x516 && (offset & 1) == 0)
            {
                vga.vbeIndex = (ushort)((offset - 0x500) >> 1);
                vga.WriteVbe((ushort)value);
                return;
            }
            if (offset == 0x604 && (uint)value is ByteOrderLittle or ByteOrderBig)
                vga.qemuByteOrder = (uint)value;
        }
    }

    private sealed class OptionRom(Vga vga) : IMmioHandler
    {
        public ulong Read(uint offset, int size)
        {
            var rom = vga.rom!;
            ulong value = 0;
            for (int i = 0; i < size; i++)
            {
                long at = offset + i;
                value |= (ulong)(at < rom.Length ? rom[at] : 0) << (8 * i);
            }
            return value;
        }

        public void Write(uint offset, int size, ulong value) { }
    }
}
