namespace Emu.X86;

/// <summary>A segment register with its hidden descriptor cache.</summary>
public struct Segment
{
    /// <summary>The visible selector.</summary>
    public ushort Selector;
    /// <summary>Linear base address.</summary>
    public uint Base;
    /// <summary>Byte-granular limit (already scaled by G).</summary>
    public uint Limit;
    /// <summary>Descriptor access byte in bits 0-7 and the flags nibble (AVL, L, D/B, G) in bits 12-15.</summary>
    public ushort Attributes;

    // Precomputed access window and rights so every memory access does one range check.
    internal uint Min, Max;
    internal bool Readable, Writable;
    // Exclusive ends of the offsets a read or write may reach with no check but this one (0: take the full check);
    // only windows starting at offset 0 have one.
    internal ulong ReadEnd, WriteEnd;

    /// <summary>The D/B bit: 32-bit default operand size (CS) or stack pointer size (SS).</summary>
    public readonly bool Big => (Attributes & 0x4000) != 0;

    /// <summary>Descriptor privilege level.</summary>
    public readonly int Dpl => (Attributes >> 5) & 3;

    /// <summary>Present bit.</summary>
    public readonly bool Present => (Attributes & 0x80) != 0;

    /// <summary>Recomputes the access window after Base/Limit/Attributes changed.</summary>
    internal void Refresh(bool protectedMode)
    {
        bool code = (Attributes & 0x18) == 0x18;
        bool data = (Attributes & 0x18) == 0x10;
        bool usable = !protectedMode || ((Attributes & 0x80) != 0 && (code || data));
        if (!usable)
        {
            Min = 1; Max = 0; Readable = Writable = false;
            SetFastWindows();
            return;
        }
        if (data && (Attributes & 4) != 0)
        {
            // Expand-down: valid offsets lie above the limit.
            Min = Limit + 1;
            Max = Big ? 0xFFFFFFFF : 0xFFFF;
        }
        else
        {
            Min = 0;
            Max = Limit;
        }
        if (!protectedMode) { Readable = Writable = true; SetFastWindows(); return; }
        Readable = data || (Attributes & 2) != 0;
        Writable = data && (Attributes & 2) != 0;
        SetFastWindows();
    }

    /// <summary>Entering protected mode keeps the cached window but allows reads and writes until a reload.</summary>
    internal void AllowReadWrite()
    {
        Readable = Writable = true;
        SetFastWindows();
    }

    private void SetFastWindows()
    {
        ulong end = Min == 0 ? (ulong)Max + 1 : 0;
        ReadEnd = Readable ? end : 0;
        WriteEnd = Writable ? end : 0;
    }

    /// <summary>Loads the cache the real-mode / v8086 way: base = selector * 16.</summary>
    internal void LoadReal(ushort selector, bool v86)
    {
        Selector = selector;
        Base = (uint)selector << 4;
        if (v86)
        {
            Limit = 0xFFFF;
            Attributes = (ushort)(0xF3);
        }
        Refresh(false);
    }
}
