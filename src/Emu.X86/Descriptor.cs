namespace Emu.X86;

/// <summary>Field extraction from a raw 8-byte segment or gate descriptor.</summary>
static class Descriptor
{
    public static uint Base(ulong d) => (uint)((d >> 16) & 0xFFFFFF) | (uint)((d >> 56) & 0xFF) << 24;

    public static uint Limit(ulong d)
    {
        uint l = (uint)(d & 0xFFFF) | (uint)((d >> 48) & 0xF) << 16;
        return (d & (1UL << 55)) != 0 ? (l << 12) | 0xFFF : l;
    }

    /// <summary>Access byte in bits 0-7, flags nibble in bits 12-15 (the <see cref="Segment.Attributes"/> layout).</summary>
    public static ushort Attributes(ulong d) => (ushort)(((d >> 40) & 0xFF) | ((d >> 52) & 0xF) << 12);

    public static int Type(ulong d) => (int)(d >> 40) & 0xF;
    public static bool IsSystem(ulong d) => (d & (1UL << 44)) == 0;
    public static bool IsCode(ulong d) => !IsSystem(d) && (d & (1UL << 43)) != 0;
    public static bool IsData(ulong d) => !IsSystem(d) && (d & (1UL << 43)) == 0;
    public static bool Conforming(ulong d) => (d & (1UL << 42)) != 0;
    /// <summary>Readable for code, writable for data.</summary>
    public static bool RwBit(ulong d) => (d & (1UL << 41)) != 0;
    public static int Dpl(ulong d) => (int)(d >> 45) & 3;
    public static bool Present(ulong d) => (d & (1UL << 47)) != 0;

    public static ushort GateSelector(ulong d) => (ushort)(d >> 16);
    public static uint GateOffset(ulong d) => (uint)(d & 0xFFFF) | (uint)(d >> 32) & 0xFFFF0000;
    public static int GateParamCount(ulong d) => (int)(d >> 32) & 0x1F;
}
