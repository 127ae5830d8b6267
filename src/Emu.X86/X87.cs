namespace Emu.X86;

/// <summary>x87 FPU register file and control/status state.</summary>
public sealed class X87
{
    /// <summary>Physical registers R0..R7 (ST(i) = R[(Top + i) &amp; 7]).</summary>
    public readonly Float80[] R = new Float80[8];
    public ushort Control;
    /// <summary>Status word without TOP, which lives in <see cref="Top"/>.</summary>
    public ushort Status;
    /// <summary>Bit i set when physical register i is empty (the architectural tag word is derived from contents).</summary>
    public byte Empty;
    public int Top;
    public uint LastIp, LastDp;
    public ushort LastCs, LastDs, LastOpcode;

    public const ushort C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000, ES = 0x80, SF = 0x40, B = 0x8000;

    /// <summary>The status word with TOP merged in.</summary>
    public ushort StatusWord => (ushort)((Status & ~0x3800) | (Top << 11));

    /// <summary>Rounding control field (SoftFloat.Round*).</summary>
    public int RoundingControl => (Control >> 10) & 3;

    /// <summary>Significand bits selected by precision control: 24, 53 or 64.</summary>
    public int Precision => ((Control >> 8) & 3) switch { 0 => 24, 2 => 53, _ => 64 };

    /// <summary>FNINIT state.</summary>
    public void Init()
    {
        Control = 0x037F;
        Status = 0;
        Empty = 0xFF;
        Top = 0;
        LastIp = LastDp = 0;
        LastCs = LastDs = LastOpcode = 0;
        Array.Clear(R);
    }

    public int Phys(int st) => (Top + st) & 7;
    public bool IsEmpty(int st) => (Empty & (1 << Phys(st))) != 0;
    public ref Float80 St(int st) => ref R[Phys(st)];

    public void Set(int st, Float80 v)
    {
        int p = Phys(st);
        R[p] = v;
        Empty &= (byte)~(1 << p);
    }

    public void Pop()
    {
        Empty |= (byte)(1 << Top);
        Top = (Top + 1) & 7;
    }

    /// <summary>The architectural tag word: 0 valid, 1 zero, 2 special, 3 empty for each physical register.</summary>
    public ushort TagWord
    {
        get
        {
            int tw = 0;
            for (int p = 0; p < 8; p++)
            {
                int t;
                if ((Empty & (1 << p)) != 0) t = 3;
                else if (R[p].IsZero) t = 1;
                else if (R[p].Exponent == 0x7FFF || R[p].Exponent == 0 || R[p].IsUnsupported) t = 2;
                else t = 0;
                tw |= t << (p * 2);
            }
            return (ushort)tw;
        }
        set
        {
            Empty = 0;
            for (int p = 0; p < 8; p++)
                if (((value >> (p * 2)) & 3) == 3) Empty |= (byte)(1 << p);
        }
    }
}
