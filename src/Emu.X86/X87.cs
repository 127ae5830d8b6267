namespace Emu.X86;

/// <summary>x87 FPU register file and control/status state.</summary>
public sealed class X87
{
    /// <summary>Physical registers R0..R7 (ST(i) = R[(Top + i) & 7]).</summary>
    public readonly Float80[] R = new Float80[8];
    public ushort Control;
    public ushort Status;   // without TOP, which lives in <see cref="Top"/>
    public ushort Tag;      // two bits per physical register: 0 valid, 1 zero, 2 special, 3 empty
    public int Top;
    public uint LastIp, LastDp;
    public ushort LastCs, LastDs, LastOpcode;

    /// <summary>The status word with TOP merged in.</summary>
    public ushort StatusWord => (ushort)((Status & ~0x3800) | (Top << 11));

    /// <summary>FNINIT state.</summary>
    public void Init()
    {
        Control = 0x037F;
        Status = 0;
        Tag = 0xFFFF;
        Top = 0;
        LastIp = LastDp = 0;
        LastCs = LastDs = LastOpcode = 0;
        Array.Clear(R);
    }
}
