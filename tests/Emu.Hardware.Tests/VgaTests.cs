using Emu.Hardware;
using Emu.Hardware.Pci;

namespace Emu.Hardware.Tests;

public class VgaTests
{
    private readonly Bus bus = new(4 << 20);
    private readonly Vga vga;
    private readonly byte[] rom;

    public VgaTests()
    {
        var pci = new PciBus(bus);
        _ = new I440fx(pci);
        rom = new byte[38 * 1024 + 100];
        for (int i = 0; i < rom.Length; i++)
            rom[i] = (byte)(i * 13 + 7);
        rom[0] = 0x55;
        rom[1] = 0xAA;
        vga = new Vga(pci, rom);
    }

    private uint Config(int offset)
    {
        bus.Io.Out32(0xCF8, 0x8000_1000u | (uint)offset);
        return bus.Io.In32(0xCFC);
    }

    private void SetConfig(int offset, uint value)
    {
        bus.Io.Out32(0xCF8, 0x8000_1000u | (uint)offset);
        bus.Io.Out32(0xCFC, value);
    }

    private void Seq(int index, byte value) { bus.Io.Out8(0x3C4, (byte)index); bus.Io.Out8(0x3C5, value); }
    private void Gr(int index, byte value) { bus.Io.Out8(0x3CE, (byte)index); bus.Io.Out8(0x3CF, value); }
    private void Crtc(int index, byte value) { bus.Io.Out8(0x3D4, (byte)index); bus.Io.Out8(0x3D5, value); }

    private void Attr(int index, byte value)
    {
        _ = bus.Io.In8(0x3DA); // resets the flip-flop to "index"
        bus.Io.Out8(0x3C0, (byte)index);
        bus.Io.Out8(0x3C0, value);
    }

    private ushort Vbe(int index)
    {
        bus.Io.Out16(0x1CE, (ushort)index);
        return bus.Io.In16(0x1CF);
    }

    private void SetVbe(int index, ushort value)
    {
        bus.Io.Out16(0x1CE, (ushort)index);
        bus.Io.Out16(0x1CF, value);
    }

    // Mode 3 (80x25 colour text) the way a VGA BIOS programs it.
    private void SetMode3()
    {
        bus.Io.Out8(0x3C2, 0x67);
        byte[] seq = [0x03, 0x00, 0x03, 0x00, 0x02];
        for (int i = 0; i < seq.Length; i++)
            Seq(i, seq[i]);
        Crtc(0x11, 0x0E); // unprotect
        byte[] crtc = [0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00,
            0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF];
        for (int i = 0; i < crtc.Length; i++)
            Crtc(i, crtc[i]);
        byte[] gr = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF];
        for (int i = 0; i < gr.Length; i++)
            Gr(i, gr[i]);
        for (int i = 0; i < 16; i++)
            Attr(i, (byte)i);
        Attr(0x10, 0x0C);
        Attr(0x12, 0x0F);
        _ = bus.Io.In8(0x3DA);
        bus.Io.Out8(0x3C0, 0x20); // palette address source: display on
    }

    private void PutString(int row, int column, string text, byte attribute = 0x07)
    {
        for (int i = 0; i < text.Length; i++)
            bus.Memory.Write16(0xB_8000 + (ulong)(2 * (row * 80 + column + i)), (ushort)(text[i] | attribute << 8));
    }

    [Fact]
    public void PciIdentityAndBarSizing()
    {
        Assert.Same(vga, vga); // the constructor put it at 00:02.0
        Assert.Equal(0x1111_1234u, Config(0x00));
        Assert.Equal(0x0300_0002u, Config(0x08));      // class VGA, revision 2
        Assert.Equal(0x1100_1AF4u, Config(0x2C));
        Assert.Equal(0x08u, Config(0x10));              // prefetchable memory BAR
        SetConfig(0x10, 0xFFFF_FFFF);
        Assert.Equal(0xFF00_0008u, Config(0x10));       // 16 MiB
        SetConfig(0x14, 0xFFFF_FFFF);
        Assert.Equal(0u, Config(0x14));                 // BAR1: none
        SetConfig(0x18, 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_F000u, Config(0x18));       // BAR2: QEMU's 4 KiB register window
        SetConfig(0x30, 0xFFFF_FFFE);
        Assert.Equal(0xFFFF_0000u, Config(0x30));       // 38 KiB of ROM rounds up to 64 KiB
    }

    [Fact]
    public void RomBarServesTheOptionRomWhileEnabled()
    {
        SetConfig(0x30, 0xFEB0_0001);
        Assert.Equal(0xFF, bus.Memory.Read8(0xFEB0_0000)); // memory decoding still off
        SetConfig(0x04, 0x0003);
        Assert.Equal(0xAA55, bus.Memory.Read16(0xFEB0_0000));
        for (int i = 0; i < rom.Length; i += 97)
            Assert.Equal(rom[i], bus.Memory.Read8(0xFEB0_0000 + (ulong)i));
        bus.Memory.Write8(0xFEB0_0010, 0x00);               // read-only
        Assert.Equal(rom[0x10], bus.Memory.Read8(0xFEB0_0010));
        SetConfig(0x30, 0xFEB0_0000);                       // enable bit clear: gone
        Assert.Equal(0xFF, bus.Memory.Read8(0xFEB0_0000));
    }

    [Fact]
    public void SeaBiosVgaRomMatchesTheDeviceThroughTheRomBar()
    {
        // What SeaBIOS's map_pcirom checks before copying the ROM: 0xAA55, then a PCIR structure naming this device.
        const string path = "/usr/share/seabios/vgabios-stdvga.bin";
        if (!File.Exists(path))
            return; // the seabios package is not installed here
        var other = new Bus(4 << 20);
        var pci = new PciBus(other);
        var stdvga = new Vga(pci, File.ReadAllBytes(path));
        other.Io.Out32(0xCF8, 0x8000_1030);
        other.Io.Out32(0xCFC, 0xFFFF_FFFE);
        uint size = ~(other.Io.In32(0xCFC) & ~1u) + 1;
        Assert.True(size >= (uint)new FileInfo(path).Length);
        other.Io.Out32(0xCFC, 0xFEB0_0001);
        other.Io.Out32(0xCF8, 0x8000_1004);
        other.Io.Out16(0xCFC, 0x0003);
        const uint at = 0xFEB0_0000;
        Assert.Equal(0xAA55, other.Memory.Read16(at));
        uint pcir = at + other.Memory.Read16(at + 0x18);
        Assert.Equal(0x5249_4350u, other.Memory.Read32(pcir)); // "PCIR"
        Assert.Equal(0x1234, other.Memory.Read16(pcir + 4));
        Assert.Equal(0x1111, other.Memory.Read16(pcir + 6));
        Assert.Equal(0x00, other.Memory.Read8(pcir + 0x14));  // code type: x86
        Assert.NotNull(stdvga);
    }

    [Fact]
    public void LinearFramebufferFollowsBar0()
    {
        SetConfig(0x10, 0xE000_0000);
        SetConfig(0x04, 0x0003);
        Assert.Equal(0xE000_0000u, vga.FramebufferAddress);
        bus.Memory.Write32(0xE000_1000, 0x1122_3344);
        bus.Memory.Write8(0xE0FF_FFFF, 0x99);
        Assert.Equal(0x44, vga.Vram[0x1000]);
        Assert.Equal(0x11, vga.Vram[0x1003]);
        Assert.Equal(0x99, vga.Vram[Vga.VramSize - 1]);
        Assert.Equal(0x1122_3344u, bus.Memory.Read32(0xE000_1000));
        SetConfig(0x10, 0xE100_0000);
        Assert.Equal(0x1122_3344u, bus.Memory.Read32(0xE100_1000));
        Assert.Equal(0xFFFF_FFFFu, bus.Memory.Read32(0xE000_1000));
    }

    [Fact]
    public void Bar2RegisterWindowReachesVgaAndVbeRegisters()
    {
        SetConfig(0x18, 0xFEBF_0000);
        SetConfig(0x04, 0x0003);
        const uint at = 0xFEBF_0000;
        Assert.Equal(0xB0C0, bus.Memory.Read16(at + 0x500));     // VBE index 0: id
        bus.Memory.Write16(at + 0x500 + 2 * 1, 800);            // XRES
        Assert.Equal(800, Vbe(1));
        Assert.Equal(256, bus.Memory.Read16(at + 0x500 + 2 * 0x0A));
        bus.Memory.Write8(at + 0x402, 0x67);                    // misc output (0x3C2)
        Assert.Equal(0x67, bus.Io.In8(0x3CC));
        Assert.Equal(0x67, bus.Memory.Read8(at + 0x40C));
        bus.Memory.Write16(at + 0x414, 0x200F);                 // CRTC index 0x0F, data 0x20 (0x3D4/0x3D5)
        bus.Io.Out8(0x3D4, 0x0F);
        Assert.Equal(0x20, bus.Io.In8(0x3D5));
        Assert.Equal(8u, bus.Memory.Read32(at + 0x600));        // QEMU extended registers: size
        Assert.Equal(0x1E1E_1E1Eu, bus.Memory.Read32(at + 0x604)); // little-endian framebuffer
        Assert.Equal(0u, bus.Memory.Read32(at + 0x800));
    }

    [Fact]
    public void VbeDispiInterface()
    {
        Assert.Equal(0xB0C0, Vbe(0));
        SetVbe(0, 0xB0C5);
        Assert.Equal(Vga.VbeIdLatest, Vbe(0));
        SetVbe(0, 0x1234);                  // not an id: ignored
        Assert.Equal(0xB0C5, Vbe(0));
        Assert.Equal(256, Vbe(0x0A));       // 16 MiB in 64 KiB units
        SetVbe(4, 0x02);                    // GETCAPS
        Assert.Equal(16000, Vbe(1));
        Assert.Equal(12000, Vbe(2));
        Assert.Equal(32, Vbe(3));
        SetVbe(4, 0x00);
        SetVbe(1, 1024);
        SetVbe(2, 768);
        SetVbe(3, 32);
        vga.Vram[0] = 0x5A;
        SetVbe(4, 0x41);                    // enabled, LFB
        Assert.True(vga.VbeEnabled);
        Assert.Equal((1024, 768, 32), vga.VbeMode);
        Assert.Equal(0, vga.Vram[0]);       // cleared (no NOCLEARMEM)
        Assert.Equal(1024, Vbe(6));         // virtual width follows the mode
        Assert.Equal(Vga.VramSize / 4096, Vbe(7));
        Assert.False(vga.IsTextMode);
        Assert.Empty(vga.GetTextLines());
        // The banked window at 0xA0000 shows VRAM linearly from bank * 64 KiB.
        SetVbe(5, 3);
        bus.Memory.Write8(0xA_0010, 0x77);
        Assert.Equal(0x77, vga.Vram[3 * 0x1_0000 + 0x10]);
        SetVbe(4, 0x00);
        Assert.False(vga.VbeEnabled);
        Assert.Equal(0, Vbe(5));
    }

    [Fact]
    public void TextWrittenAtB8000ReadsBackAsScreenText()
    {
        SetMode3();
        Assert.True(vga.IsTextMode);
        Assert.Equal(80, vga.TextColumns);
        Assert.Equal(25, vga.TextRows);
        for (int i = 0; i < 80 * 25; i++)
            bus.Memory.Write16(0xB_8000 + (ulong)(2 * i), 0x0720);
        long version = vga.ScreenVersion;
        PutString(0, 0, "SeaBIOS (version 1.16)");
        PutString(24, 70, "last line!", 0x1F);
        Assert.NotEqual(version, vga.ScreenVersion);
        var lines = vga.GetTextLines();
        Assert.Equal(25, lines.Length);
        Assert.Equal("SeaBIOS (version 1.16)", lines[0]);
        Assert.Equal("", lines[1]);
        Assert.Equal(new string(' ', 70) + "last line!", lines[24]);
        Assert.Equal(((byte)'l', (byte)0x1F), vga.GetCell(24, 70));
        // Reads in odd/even mode give back what was written.
        Assert.Equal(0x0753, bus.Memory.Read16(0xB_8000));
        // Rewriting the same bytes is not a change.
        version = vga.ScreenVersion;
        PutString(0, 0, "SeaBIOS");
        Assert.Equal(version, vga.ScreenVersion);
        // Code page 437 box drawing comes back as Unicode.
        PutString(2, 0, "\u00C9\u00CD\u00BB");
        Assert.Equal("╔═╗", vga.GetTextLines()[2]);
        // Scrolling by start address.
        Crtc(0x0C, 0x00);
        Crtc(0x0D, 80);
        Assert.Equal("", vga.GetTextLines()[0]);
        Assert.Equal("╔═╗", vga.GetTextLines()[1]);
    }

    [Fact]
    public void CursorPositionFromCrtc()
    {
        SetMode3();
        int position = 5 * 80 + 17;
        Crtc(0x0E, (byte)(position >> 8));
        Crtc(0x0F, (byte)position);
        Assert.Equal((5, 17), vga.Cursor);
        bus.Io.Out8(0x3D4, 0x0F);
        Assert.Equal((byte)position, bus.Io.In8(0x3D5));
        long version = vga.ScreenVersion;
        Crtc(0x0F, (byte)(position + 1));
        Assert.Equal(version, vga.ScreenVersion); // the cursor alone is not a screen change
        Crtc(0x0A, 0x20);                         // cursor off
        Assert.Null(vga.Cursor);
    }

    [Fact]
    public void WordWritesToIndexPortsSetIndexThenData()
    {
        SetMode3();
        bus.Io.Out16(0x3D4, 0x030E);   // OUT DX, AX as BIOSes and Linux do: index 0x0E, data 0x03
        bus.Io.Out16(0x3D4, 0x2A0F);
        Assert.Equal((0x32A / 80, 0x32A % 80), vga.Cursor);
        bus.Io.Out16(0x3C4, 0x0F02);   // sequencer map mask
        bus.Io.Out8(0x3C4, 0x02);
        Assert.Equal(0x0F, bus.Io.In8(0x3C5));
        // In mono mode (misc bit 0 clear) the CRTC answers at 0x3B4/0x3B5 and the colour ports float.
        bus.Io.Out8(0x3C2, 0x66);
        Assert.Equal(0xFF, bus.Io.In8(0x3D5));
        bus.Io.Out8(0x3B4, 0x0F);
        Assert.Equal(0x2A, bus.Io.In8(0x3B5));
    }

    [Fact]
    public void FontPlaneLoadedInPlanarModeLeavesTextAlone()
    {
        SetMode3();
        PutString(0, 0, "Text");
        // What a VGA BIOS does to load the font: plane 2, sequential addressing at 0xA0000.
        Seq(0x02, 0x04);
        Seq(0x04, 0x07);
        Gr(0x04, 0x02);
        Gr(0x05, 0x00);
        Gr(0x06, 0x04);
        for (int i = 0; i < 32; i++)
            bus.Memory.Write8(0xA_0000 + (ulong)(('T' * 32) + i), (byte)(0x80 | i));
        Assert.Equal(0x85, bus.Memory.Read8(0xA_0000 + 'T' * 32 + 5));
        Assert.Equal(0x85, vga.Vram[('T' * 32 + 5) * 4 + 2]);
        Seq(0x02, 0x03);
        Seq(0x04, 0x02);
        Gr(0x04, 0x00);
        Gr(0x05, 0x10);
        Gr(0x06, 0x0E);
        Assert.Equal("Text", vga.GetTextLines()[0]);
    }

    [Fact]
    public void PlanarWriteModesAndColorCompare()
    {
        Seq(0x04, 0x06);     // planar, no chain-4
        Seq(0x02, 0x0F);
        Gr(0x06, 0x05);      // graphics, 0xA0000 64 KiB
        Gr(0x08, 0xFF);
        Gr(0x05, 0x02);      // write mode 2: colour 0b0101 on every pixel
        bus.Memory.Write8(0xA_0000, 0x05);
        Assert.Equal(new byte[] { 0xFF, 0x00, 0xFF, 0x00 }, vga.Vram.AsSpan(0, 4).ToArray());
        Gr(0x05, 0x00);      // write mode 0, set/reset on plane 1 only
        Gr(0x00, 0x02);
        Gr(0x01, 0x02);
        Gr(0x08, 0x0F);      // only the low four pixels
        _ = bus.Memory.Read8(0xA_0000); // load the latches
        bus.Memory.Write8(0xA_0000, 0x00);
        Assert.Equal(new byte[] { 0xF0, 0x0F, 0xF0, 0x00 }, vga.Vram.AsSpan(0, 4).ToArray());
        Gr(0x05, 0x08);      // read mode 1: which pixels have colour 0b0010 (planes 0-3)?
        Gr(0x02, 0x02);
        Gr(0x07, 0x0F);
        Assert.Equal(0x0F, bus.Memory.Read8(0xA_0000));
        Gr(0x07, 0x00);      // no plane cares: every pixel matches
        Assert.Equal(0xFF, bus.Memory.Read8(0xA_0000));
        Gr(0x07, 0x0F);
        Gr(0x02, 0x05);
        Assert.Equal(0xF0, bus.Memory.Read8(0xA_0000));
        Gr(0x04, 0x01);
        Gr(0x05, 0x00);      // read mode 0, plane 1
        Assert.Equal(0x0F, bus.Memory.Read8(0xA_0000));
    }

    [Fact]
    public void RetraceBitsToggleAndPortsFollowMiscOutput()
    {
        bus.Io.Out8(0x3C2, 0x67);
        byte first = bus.Io.In8(0x3DA);
        byte second = bus.Io.In8(0x3DA);
        Assert.Equal(0x09, (first ^ second) & 0x09);
        Assert.Equal(0xFF, bus.Io.In8(0x3BA)); // mono status port is off in colour mode
        Assert.Equal(0x67, bus.Io.In8(0x3CC));
        bus.Io.Out8(0x3C8, 5);                 // DAC: write entry 5, read it back
        bus.Io.Out8(0x3C9, 0x11);
        bus.Io.Out8(0x3C9, 0x22);
        bus.Io.Out8(0x3C9, 0x33);
        bus.Io.Out8(0x3C7, 5);
        Assert.Equal(0x03, bus.Io.In8(0x3C7));
        Assert.Equal(0x11, bus.Io.In8(0x3C9));
        Assert.Equal(0x22, bus.Io.In8(0x3C9));
        Assert.Equal(0x33, bus.Io.In8(0x3C9));
        Assert.Equal(0xFF, bus.Io.In8(0xA_0000 >> 12)); // sanity: an unrelated port floats
    }

    [Fact]
    public void StateRoundTripIncludesVram()
    {
        SetMode3();
        PutString(3, 4, "saved screen");
        Crtc(0x0E, 0x01);
        Crtc(0x0F, 0x00);
        SetConfig(0x10, 0xE000_0000);
        SetConfig(0x04, 0x0003);
        bus.Memory.Write32(0xE0F0_0000, 0xCAFE_F00D);
        var saved = new MemoryStream();
        vga.Save(new BinaryWriter(saved));
        Assert.True(saved.Length < 64 * 1024); // empty VRAM pages are not stored

        var other = new Bus(4 << 20);
        var otherVga = new Vga(new PciBus(other), rom);
        saved.Position = 0;
        otherVga.Load(new BinaryReader(saved));
        Assert.Equal(vga.GetTextLines(), otherVga.GetTextLines());
        Assert.Equal("    saved screen", otherVga.GetTextLines()[3]);
        Assert.Equal(vga.Cursor, otherVga.Cursor);
        Assert.Equal(0xE000_0000u, otherVga.FramebufferAddress);
        Assert.Equal(0xCAFE_F00Du, other.Memory.Read32(0xE0F0_0000));
        var again = new MemoryStream();
        otherVga.Save(new BinaryWriter(again));
        Assert.Equal(saved.ToArray(), again.ToArray());
    }

    [Fact]
    public void ResetKeepsVramButReturnsRegistersToPowerOn()
    {
        SetMode3();
        PutString(0, 0, "x");
        SetConfig(0x10, 0xE000_0000);
        SetConfig(0x04, 0x0003);
        vga.Reset();
        Assert.Equal(0u, vga.FramebufferAddress);
        Assert.Equal(0x00, bus.Io.In8(0x3CC));
        Assert.Equal((byte)'x', vga.Vram[0]);
    }
}
