namespace Emu.X86;

/// <summary>EFLAGS bit masks.</summary>
public static class Flags
{
    public const uint CF = 1 << 0;
    public const uint Reserved1 = 1 << 1;
    public const uint PF = 1 << 2;
    public const uint AF = 1 << 4;
    public const uint ZF = 1 << 6;
    public const uint SF = 1 << 7;
    public const uint TF = 1 << 8;
    public const uint IF = 1 << 9;
    public const uint DF = 1 << 10;
    public const uint OF = 1 << 11;
    public const uint IOPL = 3 << 12;
    public const uint NT = 1 << 14;
    public const uint RF = 1 << 16;
    public const uint VM = 1 << 17;
    public const uint AC = 1 << 18;
    public const uint VIF = 1 << 19;
    public const uint VIP = 1 << 20;
    public const uint ID = 1 << 21;

    /// <summary>The six arithmetic status flags.</summary>
    public const uint Arith = CF | PF | AF | ZF | SF | OF;
}
