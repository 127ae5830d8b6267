using System.Numerics;
using System.Runtime.CompilerServices;

namespace Emu.X86;

// Lazy arithmetic flags: the last flag-setting ALU operation is recorded (kind, operands, result, size)
// and CF/PF/AF/ZF/SF/OF are derived only when something reads them.
public sealed partial class Cpu
{
    enum LazyOp : byte { None, Add, Adc, Sub, Sbb, Logic, Inc, Dec }

    uint _flags = Flags.Reserved1;   // all non-lazy bits; arithmetic bits valid only when _lop == None (CF also for Inc/Dec)
    LazyOp _lop;
    uint _la, _lb, _lres, _lcin;
    int _lsize;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void SetLazy(LazyOp op, uint a, uint b, uint res, int size)
    {
        if (op is LazyOp.Inc or LazyOp.Dec) { _flags = (_flags & ~Flags.CF) | CarryFlag(); }
        _lop = op; _la = a; _lb = b; _lres = res; _lsize = size;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static uint SizeMask(int size) => size == 4 ? 0xFFFFFFFF : (1u << (size * 8)) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static uint SignBit(int size) => 1u << (size * 8 - 1);

    uint CarryFlag()
    {
        uint m = SizeMask(_lsize);
        switch (_lop)
        {
            case LazyOp.None: case LazyOp.Inc: case LazyOp.Dec: return _flags & Flags.CF;
            case LazyOp.Add: return (_lres & m) < (_la & m) ? 1u : 0;
            case LazyOp.Adc: return (ulong)(_la & m) + (_lb & m) + _lcin > m ? 1u : 0;
            case LazyOp.Sub: return (_la & m) < (_lb & m) ? 1u : 0;
            case LazyOp.Sbb: return (ulong)(_la & m) < (ulong)(_lb & m) + _lcin ? 1u : 0;
            default: return 0;
        }
    }

    bool ZeroFlag => _lop == LazyOp.None ? (_flags & Flags.ZF) != 0 : (_lres & SizeMask(_lsize)) == 0;
    bool SignFlag => _lop == LazyOp.None ? (_flags & Flags.SF) != 0 : (_lres & SignBit(_lsize)) != 0;
    bool ParityFlag => _lop == LazyOp.None ? (_flags & Flags.PF) != 0 : (BitOperations.PopCount(_lres & 0xFF) & 1) == 0;

    bool OverflowFlag
    {
        get
        {
            uint s = SignBit(_lsize);
            switch (_lop)
            {
                case LazyOp.None: return (_flags & Flags.OF) != 0;
                case LazyOp.Add: case LazyOp.Adc: case LazyOp.Inc: return ((_la ^ _lres) & (_lb ^ _lres) & s) != 0;
                case LazyOp.Sub: case LazyOp.Sbb: case LazyOp.Dec: return ((_la ^ _lb) & (_la ^ _lres) & s) != 0;
                default: return false;
            }
        }
    }

    bool AuxFlag => _lop switch
    {
        LazyOp.None => (_flags & Flags.AF) != 0,
        LazyOp.Logic => false,
        _ => ((_la ^ _lb ^ _lres) & 0x10) != 0,
    };

    /// <summary>Folds the lazy state into <see cref="_flags"/>.</summary>
    void MaterializeFlags()
    {
        if (_lop == LazyOp.None) return;
        uint f = _flags & ~Flags.Arith;
        f |= CarryFlag();
        if (ParityFlag) f |= Flags.PF;
        if (AuxFlag) f |= Flags.AF;
        if (ZeroFlag) f |= Flags.ZF;
        if (SignFlag) f |= Flags.SF;
        if (OverflowFlag) f |= Flags.OF;
        _flags = f;
        _lop = LazyOp.None;
    }

    /// <summary>Sets the arithmetic flags selected by <paramref name="mask"/> to <paramref name="values"/> eagerly.</summary>
    void SetArithFlags(uint mask, uint values)
    {
        // Replacing every arithmetic flag makes the pending lazy ones irrelevant: no need to compute them.
        if ((mask & Flags.Arith) == Flags.Arith) _lop = LazyOp.None;
        else MaterializeFlags();
        _flags = (_flags & ~mask) | (values & mask);
    }

    /// <summary>ZF, SF and PF of a result, as eager flag bits.</summary>
    static uint ZspFlags(uint res, int size)
    {
        uint f = 0;
        if ((res & SizeMask(size)) == 0) f |= Flags.ZF;
        if ((res & SignBit(size)) != 0) f |= Flags.SF;
        if ((BitOperations.PopCount(res & 0xFF) & 1) == 0) f |= Flags.PF;
        return f;
    }

    /// <summary>Condition code per Iced <see cref="Iced.Intel.Code"/>, so the hot path needs one table load instead of Iced's range tests.</summary>
    static readonly byte[] ConditionOf = BuildConditionTable();

    static byte[] BuildConditionTable()
    {
        var t = new byte[Enum.GetValues<Iced.Intel.Code>().Length];
        var ins = new Iced.Intel.Instruction();
        for (int c = 0; c < t.Length; c++)
        {
            ins.Code = (Iced.Intel.Code)c;
            t[c] = (byte)ins.ConditionCode;
        }
        return t;
    }

    /// <summary>Evaluates the condition of a Jcc/SETcc/CMOVcc/FCMOVcc instruction.</summary>
    bool Condition(in Iced.Intel.Instruction i) => Condition((Iced.Intel.ConditionCode)ConditionOf[(int)i.Code]);

    /// <summary>Evaluates an Iced condition code against the current flags.</summary>
    /// <remarks>Compare-and-branch is decided straight from the recorded operands of a lazy SUB/CMP, and ZF/SF
    /// tests from any lazy result; only the rest derives flags.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    bool Condition(Iced.Intel.ConditionCode cc)
    {
        if (_lop == LazyOp.Sub)
        {
            uint m = SizeMask(_lsize);
            uint a = _la & m, b = _lb & m;
            switch (cc)
            {
                case Iced.Intel.ConditionCode.e: return a == b;
                case Iced.Intel.ConditionCode.ne: return a != b;
                case Iced.Intel.ConditionCode.b: return a < b;
                case Iced.Intel.ConditionCode.ae: return a >= b;
                case Iced.Intel.ConditionCode.be: return a <= b;
                case Iced.Intel.ConditionCode.a: return a > b;
                case Iced.Intel.ConditionCode.l: return SignExtend(a, _lsize) < SignExtend(b, _lsize);
                case Iced.Intel.ConditionCode.ge: return SignExtend(a, _lsize) >= SignExtend(b, _lsize);
                case Iced.Intel.ConditionCode.le: return SignExtend(a, _lsize) <= SignExtend(b, _lsize);
                case Iced.Intel.ConditionCode.g: return SignExtend(a, _lsize) > SignExtend(b, _lsize);
            }
        }
        else if (_lop != LazyOp.None)
        {
            switch (cc)
            {
                case Iced.Intel.ConditionCode.ne: return (_lres & SizeMask(_lsize)) != 0;
                case Iced.Intel.ConditionCode.e: return (_lres & SizeMask(_lsize)) == 0;
                case Iced.Intel.ConditionCode.s: return (_lres & SignBit(_lsize)) != 0;
                case Iced.Intel.ConditionCode.ns: return (_lres & SignBit(_lsize)) == 0;
            }
        }
        return FlagCondition(cc);
    }

    /// <summary>A condition from the (derived) flag bits.</summary>
    bool FlagCondition(Iced.Intel.ConditionCode cc)
    {
        switch (cc)
        {
            case Iced.Intel.ConditionCode.o: return OverflowFlag;
            case Iced.Intel.ConditionCode.no: return !OverflowFlag;
            case Iced.Intel.ConditionCode.b: return CarryFlag() != 0;
            case Iced.Intel.ConditionCode.ae: return CarryFlag() == 0;
            case Iced.Intel.ConditionCode.e: return ZeroFlag;
            case Iced.Intel.ConditionCode.ne: return !ZeroFlag;
            case Iced.Intel.ConditionCode.be: return CarryFlag() != 0 || ZeroFlag;
            case Iced.Intel.ConditionCode.a: return CarryFlag() == 0 && !ZeroFlag;
            case Iced.Intel.ConditionCode.s: return SignFlag;
            case Iced.Intel.ConditionCode.ns: return !SignFlag;
            case Iced.Intel.ConditionCode.p: return ParityFlag;
            case Iced.Intel.ConditionCode.np: return !ParityFlag;
            case Iced.Intel.ConditionCode.l: return SignFlag != OverflowFlag;
            case Iced.Intel.ConditionCode.ge: return SignFlag == OverflowFlag;
            case Iced.Intel.ConditionCode.le: return ZeroFlag || SignFlag != OverflowFlag;
            case Iced.Intel.ConditionCode.g: return !ZeroFlag && SignFlag == OverflowFlag;
            default: return true;
        }
    }

    /// <summary>The architectural EFLAGS value.</summary>
    public uint Eflags
    {
        get { MaterializeFlags(); return _flags; }
        set => WriteEflags(value, 0x3F7FD5);
    }

    /// <summary>Writes the EFLAGS bits in <paramref name="mask"/>, keeping reserved bits fixed.</summary>
    void WriteEflags(uint value, uint mask)
    {
        MaterializeFlags();
        uint old = _flags;
        _flags = ((old & ~mask) | (value & mask) | Flags.Reserved1) & 0x3F7FD5 | Flags.Reserved1;
        if (((old ^ _flags) & (Flags.IF | Flags.TF | Flags.VM)) != 0) OnFlagsChanged(old);
    }
}
