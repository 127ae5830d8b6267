using Iced.Intel;

namespace Emu.X86;

// x87 instruction execution on top of SoftFloat: stack management, exception flags and masking,
// memory formats, environment save/restore. Transcendentals live in Cpu.Transcendental.cs.
public sealed partial class Cpu
{
    readonly X87 _fpu;

    /// <summary>The x87 state.</summary>
    public X87 Fpu => _fpu;

    enum FOp { Add, Sub, Mul, Div }

    /// <summary>Executes an x87 instruction; false if the mnemonic is not an x87 one.</summary>
    bool ExecuteFpu(ref Instruction i)
    {
        Mnemonic m = i.Mnemonic;
        if (!IsFpuMnemonic(m)) return false;
        if (m == Mnemonic.Wait)
        {
            if ((_cr0 & (Cr0TS | Cr0MP)) == (Cr0TS | Cr0MP)) { RaiseFault(Vector.NM); return true; }
            CheckPendingFpuException();
            return true;
        }
        if ((_cr0 & (Cr0EM | Cr0TS)) != 0) { RaiseFault(Vector.NM); return true; }
        bool control = m is Mnemonic.Fninit or Mnemonic.Fnclex or Mnemonic.Fnstsw or Mnemonic.Fnstcw
            or Mnemonic.Fnstenv or Mnemonic.Fnsave or Mnemonic.Fneni or Mnemonic.Fndisi or Mnemonic.Fnsetpm;
        if (!control && CheckPendingFpuException()) return true;
        if (!control && m is not (Mnemonic.Fldcw or Mnemonic.Fldenv or Mnemonic.Frstor or Mnemonic.Fxsave or Mnemonic.Fxrstor
            or Mnemonic.Fstcw or Mnemonic.Fstsw or Mnemonic.Fstenv or Mnemonic.Fsave or Mnemonic.Finit or Mnemonic.Fclex))
        {
            _fpu.LastIp = _eipStart;
            _fpu.LastCs = S[CS].Selector;
            if (i.Op0Kind == OpKind.Memory || i.Op1Kind == OpKind.Memory)
            {
                _fpu.LastDp = EffAddr(i);
                _fpu.LastDs = S[MemSeg(i)].Selector;
            }
        }
        switch (m)
        {
            case Mnemonic.Fld: FpuLoad(ref i); break;
            case Mnemonic.Fild: FpuLoad(ref i); break;
            case Mnemonic.Fbld: FpuLoad(ref i); break;
            case Mnemonic.Fst: FpuStore(ref i, false); break;
            case Mnemonic.Fstp: FpuStore(ref i, true); break;
            case Mnemonic.Fist: FpuStore(ref i, false); break;
            case Mnemonic.Fistp: FpuStore(ref i, true); break;
            case Mnemonic.Fbstp: FpuStore(ref i, true); break;
            case Mnemonic.Fxch: FpuXch(ref i); break;
            case Mnemonic.Fadd: case Mnemonic.Fiadd: FpuArith(ref i, FOp.Add, false, false); break;
            case Mnemonic.Faddp: FpuArith(ref i, FOp.Add, false, true); break;
            case Mnemonic.Fsub: case Mnemonic.Fisub: FpuArith(ref i, FOp.Sub, false, false); break;
            case Mnemonic.Fsubp: FpuArith(ref i, FOp.Sub, false, true); break;
            case Mnemonic.Fsubr: case Mnemonic.Fisubr: FpuArith(ref i, FOp.Sub, true, false); break;
            case Mnemonic.Fsubrp: FpuArith(ref i, FOp.Sub, true, true); break;
            case Mnemonic.Fmul: case Mnemonic.Fimul: FpuArith(ref i, FOp.Mul, false, false); break;
            case Mnemonic.Fmulp: FpuArith(ref i, FOp.Mul, false, true); break;
            case Mnemonic.Fdiv: case Mnemonic.Fidiv: FpuArith(ref i, FOp.Div, false, false); break;
            case Mnemonic.Fdivp: FpuArith(ref i, FOp.Div, false, true); break;
            case Mnemonic.Fdivr: case Mnemonic.Fidivr: FpuArith(ref i, FOp.Div, true, false); break;
            case Mnemonic.Fdivrp: FpuArith(ref i, FOp.Div, true, true); break;
            case Mnemonic.Fcom: case Mnemonic.Ficom: FpuCompare(ref i, false, 0, false); break;
            case Mnemonic.Fcomp: case Mnemonic.Ficomp: FpuCompare(ref i, false, 1, false); break;
            case Mnemonic.Fcompp: FpuCompare(ref i, false, 2, false); break;
            case Mnemonic.Fucom: FpuCompare(ref i, true, 0, false); break;
            case Mnemonic.Fucomp: FpuCompare(ref i, true, 1, false); break;
            case Mnemonic.Fucompp: FpuCompare(ref i, true, 2, false); break;
            case Mnemonic.Fcomi: FpuCompare(ref i, false, 0, true); break;
            case Mnemonic.Fcomip: FpuCompare(ref i, false, 1, true); break;
            case Mnemonic.Fucomi: FpuCompare(ref i, true, 0, true); break;
            case Mnemonic.Fucomip: FpuCompare(ref i, true, 1, true); break;
            case Mnemonic.Ftst: FpuTest(); break;
            case Mnemonic.Fxam: FpuExamine(); break;
            case Mnemonic.Fchs: FpuUnary(x => x.Negate()); break;
            case Mnemonic.Fabs: FpuUnary(x => x.Abs()); break;
            case Mnemonic.Fsqrt: FpuSqrt(); break;
            case Mnemonic.Frndint: FpuRound(); break;
            case Mnemonic.Fscale: FpuScale(); break;
            case Mnemonic.Fxtract: FpuExtract(); break;
            case Mnemonic.Fprem: FpuRemainder(false); break;
            case Mnemonic.Fprem1: FpuRemainder(true); break;
            case Mnemonic.Fsin:
            case Mnemonic.Fcos:
            case Mnemonic.Fsincos:
            case Mnemonic.Fptan:
            case Mnemonic.Fpatan:
            case Mnemonic.F2xm1:
            case Mnemonic.Fyl2x:
            case Mnemonic.Fyl2xp1:
                FpuTranscendental(m); break;
            case Mnemonic.Fld1: FpuConstant(Float80.One, 0); break;
            case Mnemonic.Fldz: FpuConstant(Float80.Zero, 0); break;
            case Mnemonic.Fldpi: FpuConstant(new Float80(0x4000, 0xC90FDAA22168C235), +1); break;
            case Mnemonic.Fldl2e: FpuConstant(new Float80(0x3FFF, 0xB8AA3B295C17F0BC), +1); break;
            case Mnemonic.Fldl2t: FpuConstant(new Float80(0x4000, 0xD49A784BCD1B8AFE), -1); break;
            case Mnemonic.Fldlg2: FpuConstant(new Float80(0x3FFD, 0x9A209A84FBCFF799), +1); break;
            case Mnemonic.Fldln2: FpuConstant(new Float80(0x3FFE, 0xB17217F7D1CF79AC), +1); break;
            case Mnemonic.Fnstsw: case Mnemonic.Fstsw: WriteOp0(i, 2, _fpu.StatusWord); break;
            case Mnemonic.Fnstcw: case Mnemonic.Fstcw: WriteOp0(i, 2, _fpu.Control); break;
            case Mnemonic.Fldcw:
                {
                    uint cw = ReadOp0(i, 2);
                    if (!_faulted) { _fpu.Control = (ushort)(cw | 0x40); UpdateFpuErrorSummary(); }
                    break;
                }
            case Mnemonic.Fninit: case Mnemonic.Finit: _fpu.Init(); break;
            case Mnemonic.Fnclex: case Mnemonic.Fclex: _fpu.Status &= 0x7F00; break;
            case Mnemonic.Fnstenv: case Mnemonic.Fstenv: FpuStoreEnv(ref i, false); break;
            case Mnemonic.Fldenv: FpuLoadEnv(ref i, false); break;
            case Mnemonic.Fnsave: case Mnemonic.Fsave: FpuStoreEnv(ref i, true); break;
            case Mnemonic.Frstor: FpuLoadEnv(ref i, true); break;
            case Mnemonic.Fxsave: FpuFxsave(ref i); break;
            case Mnemonic.Fxrstor: FpuFxrstor(ref i); break;
            case Mnemonic.Ffree: _fpu.Empty |= (byte)(1 << _fpu.Phys(i.Op0Register - Register.ST0)); break;
            case Mnemonic.Ffreep: _fpu.Empty |= (byte)(1 << _fpu.Phys(i.Op0Register - Register.ST0)); _fpu.Pop(); break;
            case Mnemonic.Fincstp: _fpu.Top = (_fpu.Top + 1) & 7; _fpu.Status &= unchecked((ushort)~X87.C1); break;
            case Mnemonic.Fdecstp: _fpu.Top = (_fpu.Top - 1) & 7; _fpu.Status &= unchecked((ushort)~X87.C1); break;
            case Mnemonic.Fcmovb:
            case Mnemonic.Fcmove:
            case Mnemonic.Fcmovbe:
            case Mnemonic.Fcmovu:
            case Mnemonic.Fcmovnb:
            case Mnemonic.Fcmovne:
            case Mnemonic.Fcmovnbe:
            case Mnemonic.Fcmovnu:
                FpuCmov(ref i); break;
            default: break;   // FNENI, FNDISI, FNSETPM: no-ops after the 8087/287
        }
        return true;
    }

    static bool IsFpuMnemonic(Mnemonic m) => m switch
    {
        Mnemonic.Fld or Mnemonic.Fild or Mnemonic.Fbld or Mnemonic.Fst or Mnemonic.Fstp or Mnemonic.Fist or Mnemonic.Fistp
        or Mnemonic.Fbstp or Mnemonic.Fxch or Mnemonic.Fadd or Mnemonic.Fiadd or Mnemonic.Faddp or Mnemonic.Fsub
        or Mnemonic.Fisub or Mnemonic.Fsubp or Mnemonic.Fsubr or Mnemonic.Fisubr or Mnemonic.Fsubrp or Mnemonic.Fmul
        or Mnemonic.Fimul or Mnemonic.Fmulp or Mnemonic.Fdiv or Mnemonic.Fidiv or Mnemonic.Fdivp or Mnemonic.Fdivr
        or Mnemonic.Fidivr or Mnemonic.Fdivrp or Mnemonic.Fcom or Mnemonic.Ficom or Mnemonic.Fcomp or Mnemonic.Ficomp
        or Mnemonic.Fcompp or Mnemonic.Fucom or Mnemonic.Fucomp or Mnemonic.Fucompp or Mnemonic.Fcomi or Mnemonic.Fcomip
        or Mnemonic.Fucomi or Mnemonic.Fucomip or Mnemonic.Ftst or Mnemonic.Fxam or Mnemonic.Fchs or Mnemonic.Fabs
        or Mnemonic.Fsqrt or Mnemonic.Frndint or Mnemonic.Fscale or Mnemonic.Fxtract or Mnemonic.Fprem or Mnemonic.Fprem1
        or Mnemonic.Fsin or Mnemonic.Fcos or Mnemonic.Fsincos or Mnemonic.Fptan or Mnemonic.Fpatan or Mnemonic.F2xm1
        or Mnemonic.Fyl2x or Mnemonic.Fyl2xp1 or Mnemonic.Fld1 or Mnemonic.Fldz or Mnemonic.Fldpi or Mnemonic.Fldl2e
        or Mnemonic.Fldl2t or Mnemonic.Fldlg2 or Mnemonic.Fldln2 or Mnemonic.Fnstsw or Mnemonic.Fstsw or Mnemonic.Fnstcw
        or Mnemonic.Fstcw or Mnemonic.Fldcw or Mnemonic.Fninit or Mnemonic.Finit or Mnemonic.Fnclex or Mnemonic.Fclex
        or Mnemonic.Fnstenv or Mnemonic.Fstenv or Mnemonic.Fldenv or Mnemonic.Fnsave or Mnemonic.Fsave or Mnemonic.Frstor
        or Mnemonic.Fxsave or Mnemonic.Fxrstor or Mnemonic.Ffree or Mnemonic.Ffreep or Mnemonic.Fincstp or Mnemonic.Fdecstp
        or Mnemonic.Fcmovb or Mnemonic.Fcmove or Mnemonic.Fcmovbe or Mnemonic.Fcmovu or Mnemonic.Fcmovnb or Mnemonic.Fcmovne
        or Mnemonic.Fcmovnbe or Mnemonic.Fcmovnu or Mnemonic.Wait or Mnemonic.Fneni or Mnemonic.Fndisi or Mnemonic.Fnsetpm => true,
        _ => false,
    };

    /// <summary>Raises #MF for an unmasked exception left by a previous instruction (CR0.NE; IRQ 13 reporting is not modelled).</summary>
    bool CheckPendingFpuException()
    {
        if ((_fpu.Status & X87.ES) != 0 && (_cr0 & Cr0NE) != 0)
        {
            RaiseFault(Vector.MF);
            return true;
        }
        return false;
    }

    /// <summary>Raised when an unmasked x87 exception becomes pending while CR0.NE = 0: the FERR# output
    /// that PC chipsets route to IRQ 13 (MS-DOS compatible error reporting).</summary>
    public event Action? FpuErrorSignaled;

    void UpdateFpuErrorSummary()
    {
        bool before = (_fpu.Status & X87.ES) != 0;
        if ((_fpu.Status & ~_fpu.Control & 0x3F) != 0) _fpu.Status |= X87.ES | X87.B;
        else _fpu.Status &= unchecked((ushort)~(X87.ES | X87.B));
        if (!before && (_fpu.Status & X87.ES) != 0 && (_cr0 & Cr0NE) == 0) FpuErrorSignaled?.Invoke();
    }

    /// <summary>Merges an operation's exceptions into the status word; true if the result may be stored
    /// (false for unmasked invalid, zero-divide and denormal exceptions).</summary>
    bool FpuReport(in SoftFloat.Status st)
    {
        ushort s = _fpu.Status;
        s &= unchecked((ushort)~X87.C1);
        if (st.RoundedUp && (st.Flags & SoftFloat.PE) != 0) s |= X87.C1;
        s |= (ushort)st.Flags;
        _fpu.Status = s;
        UpdateFpuErrorSummary();
        return (st.Flags & ~_fpu.Control & (SoftFloat.IE | SoftFloat.ZE | SoftFloat.DE)) == 0;
    }

    /// <summary>Stack underflow: IE + SF with C1 = 0; returns true if the masked response should be stored.</summary>
    bool FpuUnderflow()
    {
        _fpu.Status = (ushort)((_fpu.Status & ~X87.C1) | SoftFloat.IE | X87.SF);
        UpdateFpuErrorSummary();
        return (_fpu.Control & SoftFloat.IE) != 0;
    }

    void FpuPush(Float80 v)
    {
        int p = (_fpu.Top - 1) & 7;
        if ((_fpu.Empty & (1 << p)) == 0)
        {
            // Stack overflow: IE + SF with C1 = 1; the masked response pushes the indefinite.
            _fpu.Status |= SoftFloat.IE | X87.SF | X87.C1;
            UpdateFpuErrorSummary();
            if ((_fpu.Control & SoftFloat.IE) == 0) return;
            _fpu.Top = p;
            _fpu.Set(0, Float80.Indefinite);
            return;
        }
        _fpu.Top = p;
        _fpu.Set(0, v);
        _fpu.Status &= unchecked((ushort)~X87.C1);
    }

    /// <summary>Reads a memory operand of any x87 format as an extended value.</summary>
    Float80 FpuReadMem(in Instruction i, ref SoftFloat.Status st)
    {
        int seg = MemSeg(i);
        uint ea = EffAddr(i);
        switch (i.MemorySize)
        {
            case MemorySize.Float32: return SoftFloat.FromFloat32(ReadMem32(seg, ea), ref st);
            case MemorySize.Float64: return SoftFloat.FromFloat64(ReadMem64(seg, ea), ref st);
            case MemorySize.Float80:
                {
                    ulong mant = ReadMem64(seg, ea);
                    ushort se = ReadMem16(seg, ea + 8);
                    return new Float80(se, mant);
                }
            case MemorySize.Int16: return SoftFloat.FromInt64((short)ReadMem16(seg, ea));
            case MemorySize.Int32: return SoftFloat.FromInt64((int)ReadMem32(seg, ea));
            case MemorySize.Int64: return SoftFloat.FromInt64((long)ReadMem64(seg, ea));
            case MemorySize.Bcd:
                {
                    ulong lo = ReadMem64(seg, ea);
                    ushort hi = ReadMem16(seg, ea + 8);
                    long v = 0;
                    for (int d = 8; d >= 0; d--)
                    {
                        ulong b = d == 8 ? (ulong)(hi & 0xFF) : (lo >> (d * 8)) & 0xFF;
                        v = v * 100 + (long)((b >> 4) * 10 + (b & 0xF));
                    }
                    Float80 r = SoftFloat.FromInt64(v);
                    return (hi & 0x8000) != 0 ? r.Negate() : r;
                }
            default: UD(); return default;
        }
    }

    void FpuLoad(ref Instruction i)
    {
        Float80 v;
        var st = new SoftFloat.Status();
        if (i.Op0Kind == OpKind.Register)
        {
            int src = i.Op0Register - Register.ST0;
            if (_fpu.IsEmpty(src)) { if (!FpuUnderflow()) return; v = Float80.Indefinite; }
            else v = _fpu.St(src);
        }
        else
        {
            v = FpuReadMem(i, ref st);
            if (_faulted) return;
            if (!FpuReport(st)) return;
        }
        FpuPush(v);
    }

    void FpuStore(ref Instruction i, bool pop)
    {
        if (i.Op0Kind == OpKind.Register)
        {
            int dst = i.Op0Register - Register.ST0;
            if (_fpu.IsEmpty(0)) { if (!FpuUnderflow()) return; _fpu.Set(dst, Float80.Indefinite); }
            else { _fpu.Set(dst, _fpu.St(0)); _fpu.Status &= unchecked((ushort)~X87.C1); }
            if (pop) _fpu.Pop();
            return;
        }
        int seg = MemSeg(i);
        uint ea = EffAddr(i);
        int rc = _fpu.RoundingControl;
        var st = new SoftFloat.Status();
        bool empty = _fpu.IsEmpty(0);
        if (empty && !FpuUnderflow()) return;
        Float80 v = empty ? Float80.Indefinite : _fpu.St(0);
        switch (i.MemorySize)
        {
            case MemorySize.Float32:
                {
                    uint r = SoftFloat.ToFloat32(v, rc, ref st);
                    if (!ProbeMemWrite(seg, ea, 4) || !FpuReport(st)) return;
                    WriteMem(seg, ea, 4, r);
                    break;
                }
            case MemorySize.Float64:
                {
                    ulong r = SoftFloat.ToFloat64(v, rc, ref st);
                    if (!ProbeMemWrite(seg, ea, 8) || !FpuReport(st)) return;
                    WriteMem64(seg, ea, r);
                    break;
                }
            case MemorySize.Float80:
                if (!ProbeMemWrite(seg, ea, 10)) return;
                if (!empty) _fpu.Status &= unchecked((ushort)~X87.C1);
                WriteMem64(seg, ea, v.Mantissa);
                WriteMem(seg, ea + 8, 2, v.SignExp);
                break;
            case MemorySize.Int16:
            case MemorySize.Int32:
            case MemorySize.Int64:
                {
                    int bits = i.MemorySize == MemorySize.Int16 ? 16 : i.MemorySize == MemorySize.Int32 ? 32 : 64;
                    long r = SoftFloat.ToInt(v, bits, rc, ref st);
                    if (!ProbeMemWrite(seg, ea, bits / 8) || !FpuReport(st)) return;
                    if (bits == 64) WriteMem64(seg, ea, (ulong)r);
                    else WriteMem(seg, ea, bits / 8, (uint)r);
                    break;
                }
            case MemorySize.Bcd:
                {
                    long r = SoftFloat.ToInt(v, 64, rc, ref st);
                    ulong mag = r < 0 ? (ulong)(-r) : (ulong)r;
                    if ((st.Flags & SoftFloat.IE) != 0 || mag > 999_999_999_999_999_999UL)
                    {
                        st.Flags = (st.Flags | SoftFloat.IE) & ~SoftFloat.PE;
                        if (!ProbeMemWrite(seg, ea, 10) || !FpuReport(st)) return;
                        WriteMem64(seg, ea, 0xC000_0000_0000_0000);
                        WriteMem(seg, ea + 8, 2, 0xFFFF);
                        break;
                    }
                    ulong lo = 0;
                    for (int d = 0; d < 8; d++) { lo |= ((mag % 10) | ((mag / 10 % 10) << 4)) << (d * 8); mag /= 100; }
                    uint hi = (uint)((mag % 10) | ((mag / 10 % 10) << 4)) | (v.Sign ? 0x8000u : 0);
                    if (!ProbeMemWrite(seg, ea, 10) || !FpuReport(st)) return;
                    WriteMem64(seg, ea, lo);
                    WriteMem(seg, ea + 8, 2, hi);
                    break;
                }
            default: UD(); return;
        }
        if (pop && !_faulted) _fpu.Pop();
    }

    void FpuXch(ref Instruction i)
    {
        int r = i.OpCount == 0 ? 1 : (i.Op0Register == Register.ST0 && i.OpCount == 2 ? i.Op1Register : i.Op0Register) - Register.ST0;
        if (_fpu.IsEmpty(0) || _fpu.IsEmpty(r))
        {
            if (!FpuUnderflow()) return;
            if (_fpu.IsEmpty(0)) _fpu.Set(0, Float80.Indefinite);
            if (_fpu.IsEmpty(r)) _fpu.Set(r, Float80.Indefinite);
        }
        Float80 t = _fpu.St(0);
        _fpu.Set(0, _fpu.St(r));
        _fpu.Set(r, t);
        _fpu.Status &= unchecked((ushort)~X87.C1);
    }

    Float80 FpuCompute(FOp op, Float80 x, Float80 y, ref SoftFloat.Status st)
    {
        int rc = _fpu.RoundingControl, pc = _fpu.Precision;
        return op switch
        {
            FOp.Add => SoftFloat.Add(x, y, rc, pc, ref st),
            FOp.Sub => SoftFloat.Sub(x, y, rc, pc, ref st),
            FOp.Mul => SoftFloat.Mul(x, y, rc, pc, ref st),
            _ => SoftFloat.Div(x, y, rc, pc, ref st),
        };
    }

    void FpuArith(ref Instruction i, FOp op, bool reverse, bool pop)
    {
        var st = new SoftFloat.Status();
        int dst;
        Float80 src;
        bool empty;
        if (i.Op0Kind == OpKind.Memory || i.Op1Kind == OpKind.Memory)
        {
            dst = 0;
            src = FpuReadMem(i, ref st);
            if (_faulted) return;
            empty = _fpu.IsEmpty(0);
        }
        else
        {
            dst = i.OpCount >= 1 ? i.Op0Register - Register.ST0 : 1;
            int s = i.OpCount >= 2 ? i.Op1Register - Register.ST0 : 0;
            empty = _fpu.IsEmpty(dst) || _fpu.IsEmpty(s);
            src = _fpu.St(s);
        }
        if (empty)
        {
            if (!FpuUnderflow()) return;
            _fpu.Set(dst, Float80.Indefinite);
        }
        else
        {
            Float80 d = _fpu.St(dst);
            // A denormal memory operand is not reported when the operation only propagates a NaN.
            if (d.IsNaN || src.IsNaN) st.Flags &= ~SoftFloat.DE;
            Float80 r = reverse ? FpuCompute(op, src, d, ref st) : FpuCompute(op, d, src, ref st);
            if (FpuReport(st)) _fpu.Set(dst, r);
        }
        if (pop) _fpu.Pop();
    }

    void SetFpuConditions(int cmp)
    {
        ushort c = cmp switch { -1 => X87.C0, 0 => X87.C3, 1 => 0, _ => X87.C0 | X87.C2 | X87.C3 };
        _fpu.Status = (ushort)((_fpu.Status & ~(X87.C0 | X87.C1 | X87.C2 | X87.C3)) | c);
    }

    void FpuCompare(ref Instruction i, bool quiet, int pops, bool toEflags)
    {
        var st = new SoftFloat.Status();
        Float80 b;
        bool empty;
        if (i.Op0Kind == OpKind.Memory)
        {
            b = FpuReadMem(i, ref st);
            if (_faulted) return;
            empty = _fpu.IsEmpty(0);
        }
        else
        {
            int r = i.OpCount == 0 ? 1 : (i.OpCount == 2 ? i.Op1Register : i.Op0Register) - Register.ST0;
            empty = _fpu.IsEmpty(0) || _fpu.IsEmpty(r);
            b = _fpu.St(r);
        }
        int cmp;
        if (empty)
        {
            if (!FpuUnderflow()) return;
            cmp = 2;
        }
        else
        {
            cmp = SoftFloat.Compare(_fpu.St(0), b, quiet, ref st);
            if (!FpuReport(st)) { if (pops > 0) FpuPops(pops); return; }
        }
        if (toEflags)
        {
            uint f = cmp switch { -1 => Flags.CF, 0 => Flags.ZF, 1 => 0u, _ => Flags.ZF | Flags.PF | Flags.CF };
            SetArithFlags(Flags.Arith, f);
            _fpu.Status &= unchecked((ushort)~X87.C1);
        }
        else SetFpuConditions(cmp);
        FpuPops(pops);
    }

    void FpuPops(int n)
    {
        for (int k = 0; k < n; k++) _fpu.Pop();
    }

    void FpuTest()
    {
        if (_fpu.IsEmpty(0)) { if (FpuUnderflow()) SetFpuConditions(2); return; }
        var st = new SoftFloat.Status();
        int cmp = SoftFloat.Compare(_fpu.St(0), Float80.Zero, false, ref st);
        if (FpuReport(st)) SetFpuConditions(cmp);
    }

    void FpuExamine()
    {
        Float80 v = _fpu.St(0);
        ushort c;
        if (_fpu.IsEmpty(0)) c = X87.C3 | X87.C0;
        else if (v.IsUnsupported) c = 0;
        else if (v.IsNaN) c = X87.C0;
        else if (v.IsInfinity) c = X87.C2 | X87.C0;
        else if (v.IsZero) c = X87.C3;
        else if (v.IsDenormal) c = X87.C3 | X87.C2;
        else c = X87.C2;
        if (v.Sign) c |= X87.C1;
        _fpu.Status = (ushort)((_fpu.Status & ~(X87.C0 | X87.C1 | X87.C2 | X87.C3)) | c);
    }

    void FpuUnary(Func<Float80, Float80> f)
    {
        if (_fpu.IsEmpty(0)) { if (FpuUnderflow()) _fpu.Set(0, Float80.Indefinite); return; }
        _fpu.Set(0, f(_fpu.St(0)));
        _fpu.Status &= unchecked((ushort)~X87.C1);
    }

    void FpuSqrt()
    {
        if (_fpu.IsEmpty(0)) { if (FpuUnderflow()) _fpu.Set(0, Float80.Indefinite); return; }
        var st = new SoftFloat.Status();
        Float80 r = SoftFloat.Sqrt(_fpu.St(0), _fpu.RoundingControl, _fpu.Precision, ref st);
        if (FpuReport(st)) _fpu.Set(0, r);
    }

    void FpuRound()
    {
        if (_fpu.IsEmpty(0)) { if (FpuUnderflow()) _fpu.Set(0, Float80.Indefinite); return; }
        var st = new SoftFloat.Status();
        Float80 r = SoftFloat.RoundToIntegral(_fpu.St(0), _fpu.RoundingControl, ref st);
        if (FpuReport(st)) _fpu.Set(0, r);
    }

    void FpuScale()
    {
        if (_fpu.IsEmpty(0) || _fpu.IsEmpty(1)) { if (FpuUnderflow()) _fpu.Set(0, Float80.Indefinite); return; }
        var st = new SoftFloat.Status();
        Float80 r = SoftFloat.Scale(_fpu.St(0), _fpu.St(1), _fpu.RoundingControl, _fpu.Precision, ref st);
        if (FpuReport(st)) _fpu.Set(0, r);
    }

    void FpuExtract()
    {
        if (_fpu.IsEmpty(0)) { if (FpuUnderflow()) { _fpu.Set(0, Float80.Indefinite); FpuPush(Float80.Indefinite); } return; }
        var st = new SoftFloat.Status();
        var (e, s) = SoftFloat.Extract(_fpu.St(0), ref st);
        if (!FpuReport(st)) return;
        _fpu.Set(0, e);
        FpuPush(s);
    }

    void FpuRemainder(bool ieee)
    {
        if (_fpu.IsEmpty(0) || _fpu.IsEmpty(1)) { if (FpuUnderflow()) _fpu.Set(0, Float80.Indefinite); return; }
        var st = new SoftFloat.Status();
        Float80 r = SoftFloat.Remainder(_fpu.St(0), _fpu.St(1), ieee, out ulong q, out bool incomplete, ref st);
        if (!FpuReport(st)) return;
        _fpu.Set(0, r);
        ushort c = 0;
        if (incomplete) c |= X87.C2;
        else
        {
            if ((q & 1) != 0) c |= X87.C1;
            if ((q & 2) != 0) c |= X87.C3;
            if ((q & 4) != 0) c |= X87.C0;
        }
        _fpu.Status = (ushort)((_fpu.Status & ~(X87.C0 | X87.C1 | X87.C2 | X87.C3)) | c);
    }

    /// <summary>Pushes a constant; <paramref name="roundedUp"/> tells which way the stored nearest value was rounded,
    /// so directed rounding modes get the neighbouring value like the hardware.</summary>
    void FpuConstant(Float80 v, int roundedUp)
    {
        int rc = _fpu.RoundingControl;
        if (roundedUp > 0 && (rc == SoftFloat.RoundDown || rc == SoftFloat.RoundChop)) v.Mantissa--;
        if (roundedUp < 0 && rc == SoftFloat.RoundUp) v.Mantissa++;
        FpuPush(v);
    }

    void FpuCmov(ref Instruction i)
    {
        bool cond = i.Mnemonic switch
        {
            Mnemonic.Fcmovb => CarryFlag() != 0,
            Mnemonic.Fcmove => ZeroFlag,
            Mnemonic.Fcmovbe => CarryFlag() != 0 || ZeroFlag,
            Mnemonic.Fcmovu => ParityFlag,
            Mnemonic.Fcmovnb => CarryFlag() == 0,
            Mnemonic.Fcmovne => !ZeroFlag,
            Mnemonic.Fcmovnbe => CarryFlag() == 0 && !ZeroFlag,
            _ => !ParityFlag,
        };
        int src = i.Op1Register - Register.ST0;
        if (_fpu.IsEmpty(0) || _fpu.IsEmpty(src)) { if (FpuUnderflow()) _fpu.Set(0, Float80.Indefinite); return; }
        if (cond) _fpu.Set(0, _fpu.St(src));
    }

    /// <summary>FNSTENV/FNSAVE: 14- or 28-byte environment in the real-mode or protected-mode layout, then the registers for FSAVE.</summary>
    void FpuStoreEnv(ref Instruction i, bool save)
    {
        bool env32 = i.MemorySize is MemorySize.FpuEnv28 or MemorySize.FpuState108;
        int seg = MemSeg(i);
        uint ea = EffAddr(i);
        int envSize = env32 ? 28 : 14;
        if (!ProbeMemWrite(seg, ea, envSize + (save ? 80 : 0))) return;
        int w = env32 ? 4 : 2;
        uint ipField, csField, dpField, dsField;
        if (!ProtectedMode || V86)
        {
            // Real-mode layout: 20/32-bit linear pointers split into a low word and high bits at 12.
            uint ip = ((uint)_fpu.LastCs << 4) + _fpu.LastIp, dp = ((uint)_fpu.LastDs << 4) + _fpu.LastDp;
            ipField = ip & 0xFFFF;
            csField = ((ip >> 16) << 12) | (_fpu.LastOpcode & 0x7FFu);
            dpField = dp & 0xFFFF;
            dsField = (dp >> 16) << 12;
        }
        else
        {
            ipField = _fpu.LastIp;
            csField = env32 ? _fpu.LastCs | ((uint)_fpu.LastOpcode << 16) : _fpu.LastCs;
            dpField = _fpu.LastDp;
            dsField = _fpu.LastDs;
        }
        WriteMem(seg, ea, w, _fpu.Control);
        WriteMem(seg, ea + (uint)w, w, _fpu.StatusWord);
        WriteMem(seg, ea + (uint)(2 * w), w, _fpu.TagWord);
        WriteMem(seg, ea + (uint)(3 * w), w, ipField);
        WriteMem(seg, ea + (uint)(4 * w), w, csField);
        WriteMem(seg, ea + (uint)(5 * w), w, dpField);
        WriteMem(seg, ea + (uint)(6 * w), w, dsField);
        if (save)
        {
            for (int r = 0; r < 8; r++)
            {
                Float80 v = _fpu.St(r);
                uint a = ea + (uint)(envSize + r * 10);
                WriteMem64(seg, a, v.Mantissa);
                WriteMem(seg, a + 8, 2, v.SignExp);
            }
            _fpu.Init();
        }
        else _fpu.Control |= 0x3F;   // FNSTENV masks all exceptions after storing
    }

    void FpuLoadEnv(ref Instruction i, bool restore)
    {
        bool env32 = i.MemorySize is MemorySize.FpuEnv28 or MemorySize.FpuState108;
        int seg = MemSeg(i);
        uint ea = EffAddr(i);
        int w = env32 ? 4 : 2;
        int envSize = env32 ? 28 : 14;
        ushort cw = (ushort)ReadMem(seg, ea, 2);
        ushort sw = (ushort)ReadMem(seg, ea + (uint)w, 2);
        ushort tw = (ushort)ReadMem(seg, ea + (uint)(2 * w), 2);
        uint ip = ReadMem(seg, ea + (uint)(3 * w), w);
        uint cs = ReadMem(seg, ea + (uint)(4 * w), w);
        uint dp = ReadMem(seg, ea + (uint)(5 * w), w);
        uint ds = ReadMem(seg, ea + (uint)(6 * w), w);
        Span<Float80> regs = stackalloc Float80[8];
        if (restore)
            for (int r = 0; r < 8; r++)
            {
                uint a = ea + (uint)(envSize + r * 10);
                regs[r] = new Float80(ReadMem16(seg, a + 8), ReadMem64(seg, a));
            }
        if (_faulted) return;
        _fpu.Control = (ushort)(cw | 0x40);
        _fpu.Status = (ushort)(sw & ~0x3800);
        _fpu.Top = (sw >> 11) & 7;
        _fpu.TagWord = tw;
        if (!ProtectedMode || V86)
        {
            // Real-mode layout: rebuild linear pointers, kept as offsets with a zero selector.
            _fpu.LastIp = (ip & 0xFFFF) | ((cs >> 12) << 16);
            _fpu.LastCs = 0;
            _fpu.LastOpcode = (ushort)(cs & 0x7FF);
            _fpu.LastDp = (dp & 0xFFFF) | ((ds >> 12) << 16);
            _fpu.LastDs = 0;
        }
        else
        {
            _fpu.LastIp = ip;
            _fpu.LastCs = (ushort)cs;
            _fpu.LastOpcode = (ushort)((cs >> 16) & 0x7FF);
            _fpu.LastDp = dp;
            _fpu.LastDs = (ushort)ds;
        }
        if (restore)
            for (int r = 0; r < 8; r++) _fpu.R[_fpu.Phys(r)] = regs[r];
        UpdateFpuErrorSummary();
    }

    void FpuFxsave(ref Instruction i)
    {
        int seg = MemSeg(i);
        uint ea = EffAddr(i);
        if ((ea & 15) != 0) { GP(0); return; }
        if (!ProbeMemWrite(seg, ea, 512)) return;
        byte ftw = (byte)~_fpu.Empty;
        WriteMem(seg, ea, 2, _fpu.Control);
        WriteMem(seg, ea + 2, 2, _fpu.StatusWord);
        WriteMem(seg, ea + 4, 2, ftw);
        WriteMem(seg, ea + 6, 2, _fpu.LastOpcode);
        WriteMem(seg, ea + 8, 4, _fpu.LastIp);
        WriteMem(seg, ea + 12, 4, _fpu.LastCs);
        WriteMem(seg, ea + 16, 4, _fpu.LastDp);
        WriteMem(seg, ea + 20, 4, _fpu.LastDs);
        WriteMem(seg, ea + 24, 4, 0x1F80);   // MXCSR default
        WriteMem(seg, ea + 28, 4, 0xFFFF);   // MXCSR_MASK
        for (int r = 0; r < 8; r++)
        {
            Float80 v = _fpu.St(r);
            uint a = ea + 32 + (uint)(r * 16);
            WriteMem64(seg, a, v.Mantissa);
            WriteMem64(seg, a + 8, v.SignExp);
        }
    }

    void FpuFxrstor(ref Instruction i)
    {
        int seg = MemSeg(i);
        uint ea = EffAddr(i);
        if ((ea & 15) != 0) { GP(0); return; }
        ushort cw = ReadMem16(seg, ea), sw = ReadMem16(seg, ea + 2);
        byte ftw = ReadMem8(seg, ea + 4);
        Span<Float80> regs = stackalloc Float80[8];
        for (int r = 0; r < 8; r++)
        {
            uint a = ea + 32 + (uint)(r * 16);
            regs[r] = new Float80(ReadMem16(seg, a + 8), ReadMem64(seg, a));
        }
        uint ip = ReadMem32(seg, ea + 8), cs = ReadMem32(seg, ea + 12), dp = ReadMem32(seg, ea + 16), ds = ReadMem32(seg, ea + 20);
        if (_faulted) return;
        _fpu.Control = (ushort)(cw | 0x40);
        _fpu.Status = (ushort)(sw & ~0x3800);
        _fpu.Top = (sw >> 11) & 7;
        _fpu.Empty = (byte)~ftw;
        _fpu.LastIp = ip; _fpu.LastCs = (ushort)cs; _fpu.LastDp = dp; _fpu.LastDs = (ushort)ds;
        for (int r = 0; r < 8; r++) _fpu.R[_fpu.Phys(r)] = regs[r];
        UpdateFpuErrorSummary();
    }
}
