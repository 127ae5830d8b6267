using System.Buffers.Binary;

namespace Emu.Hardware;

/// <summary>The legacy memory window 0xA0000-0xBFFFF: chain-4, odd/even (text) and planar access with the latches,
/// the four write modes and both read modes, as the sequencer and graphics controller select.</summary>
public sealed partial class Vga
{
    private const int VramMask = VramSize - 1;

    // Where an offset into 0xA0000-0xBFFFF lands in the memory map the graphics controller selects (GR06 bits 2-3),
    // or -1 outside it.
    private int WindowAddress(uint offset)
    {
        switch ((graphics[6] >> 2) & 3)
        {
            case 0:
                return (int)offset;
            case 1:
                return offset < 0x1_0000 ? (int)offset + (VbeEnabled ? vbe[VbeBank] << 16 : 0) : -1;
            case 2:
                return offset is >= 0x1_0000 and < 0x1_8000 ? (int)offset - 0x1_0000 : -1;
            default:
                return offset >= 0x1_8000 ? (int)offset - 0x1_8000 : -1;
        }
    }

    // Chain-4 is the sequencer's choice, or implied by a VBE mode of 8 bits or more (QEMU keeps a VBE copy of SR02/SR04).
    private bool Chain4 => (sequencer[4] & 0x08) != 0 || VbeEnabled && vbe[VbeBpp] > 4;

    private byte ReadWindow(uint offset)
    {
        int address = WindowAddress(offset);
        if (address < 0)
            return 0xFF;
        if (Chain4)
            return vram[address & VramMask];
        if ((graphics[5] & 0x10) != 0)
        {
            // Odd/even: address bit 0 picks plane 0/1 (or 2/3 with GR04 bit 1).
            int plane = (graphics[4] & 2) | (address & 1);
            return vram[(((address & ~1) << 1) | plane) & VramMask];
        }
        int at = (address << 2) & VramMask;
        latch = BinaryPrimitives.ReadUInt32LittleEndian(vram.AsSpan(at));
        if ((graphics[5] & 0x08) == 0)
            return (byte)(latch >> (8 * (graphics[4] & 3)));
        // Read mode 1: a bit is set where every plane that matters matches the colour compare value.
        uint compare = Expand(graphics[2]);
        uint care = Expand(graphics[7]);
        uint differ = (latch ^ compare) & care;
        differ |= differ >> 16;
        differ |= differ >> 8;
        return (byte)~differ;
    }

    private void WriteWindow(uint offset, byte value)
    {
        int address = WindowAddress(offset);
        if (address < 0)
            return;
        if (Chain4)
        {
            int plane = address & 3;
            if (VbeEnabled || (sequencer[2] & (1 << plane)) != 0)
                Store(address & VramMask, value);
            return;
        }
        if ((sequencer[4] & 0x04) == 0)
        {
            int plane = (graphics[4] & 2) | (address & 1);
            if ((sequencer[2] & (1 << plane)) != 0)
                Store((((address & ~1) << 1) | plane) & VramMask, value);
            return;
        }
        uint result;
        int writeMode = graphics[5] & 3;
        uint bitMask = graphics[8];
        switch (writeMode)
        {
            case 0:
                {
                    byte rotated = Rotate(value);
                    uint setReset = Expand(graphics[0]);
                    uint enable = Expand(graphics[1]);
                    result = (Replicate(rotated) & ~enable) | (setReset & enable);
                    break;
                }
            case 1:
                result = latch;
                bitMask = 0xFF;
                break;
            case 2:
                result = Expand((byte)(value & 0x0F));
                break;
            default:
                bitMask &= Rotate(value);
                result = Expand(graphics[0]);
                break;
        }
        if (writeMode != 1)
        {
            result = ((graphics[3] >> 3) & 3) switch
            {
                1 => result & latch,
                2 => result | latch,
                3 => result ^ latch,
                _ => result,
            };
            uint mask = Replicate((byte)bitMask);
            result = (result & mask) | (latch & ~mask);
        }
        uint planes = Expand((byte)(sequencer[2] & 0x0F));
        int at = (address << 2) & VramMask;
        uint old = BinaryPrimitives.ReadUInt32LittleEndian(vram.AsSpan(at));
        uint updated = (old & ~planes) | (result & planes);
        if (updated != old)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(vram.AsSpan(at), updated);
            ScreenVersion++;
        }
    }

    private void Store(int at, byte value)
    {
        if (vram[at] == value)
            return;
        vram[at] = value;
        ScreenVersion++;
    }

    private byte Rotate(byte value)
    {
        int count = graphics[3] & 7;
        return (byte)(value >> count | value << (8 - count));
    }

    // Four planes' bytes from one byte each.
    private static uint Replicate(byte value) => value * 0x0101_0101u;

    // One byte per plane: 0xFF where bit p of the 4-bit value is set.
    private static uint Expand(byte bits)
    {
        uint result = 0;
        for (int plane = 0; plane < 4; plane++)
            if ((bits & (1 << plane)) != 0)
                result |= 0xFFu << (8 * plane);
        return result;
    }

    private sealed class LegacyWindow(Vga vga) : IMmioHandler
    {
        public ulong Read(uint offset, int size)
        {
            ulong value = 0;
            for (int i = 0; i < size; i++)
                value |= (ulong)vga.ReadWindow(offset + (uint)i) << (8 * i);
            return value;
        }

        public void Write(uint offset, int size, ulong value)
        {
            for (int i = 0; i < size; i++)
                vga.WriteWindow(offset + (uint)i, (byte)(value >> (8 * i)));
        }
    }
}
