using System.Runtime.CompilerServices;
using System.Numerics;
using Iced.Intel;

namespace Emu.X86;

// Integer arithmetic, logic, shifts and rotates, multiply/divide and BCD adjustment.
public sealed partial class Cpu
{
    void AluBinary(ref Instruction i)
    {
        AluOp op = AluOpOf(i.Mnemonic);
        int size = OpSize(i);
        bool writes = op is not (AluOp.Cmp or AluOp.Test);
        uint a = writes ? ReadOp0Rmw(i, size) : ReadOp0(i, size);
        if (_faulted) return;
        uint b = ReadOp1(i, size);
        if (_faulted) return;
        uint r = AluResult(op, a, b, size);
        if (writes) WriteOp0Rmw(i, size, r & SizeMask(size));
    }

    void IncDec(ref Instruction i, bool inc)
    {
        if (i.Op0Kind == OpKind.Register)
        {
            uint d = (uint)(i.Op0Register - Register.EAX);
            if (d < 8)
            {
                R[(int)d] = IncDecResult(R[(int)d], inc, 4);
                return;
            }
        }
        else if (TryIncDecRam32(ref i, inc))
            return;
        int size = OpSize(i);
        uint a = ReadOp0Rmw(i, size);
        if (_faulted) return;
        WriteOp0Rmw(i, size, IncDecResult(a, inc, size) & SizeMask(size));
    }

    /// <summary>INC/DEC of a dword in plain RAM, in place; false to take the full path.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    bool TryIncDecRam32(ref Instruction i, bool inc)
    {
        if (MemSize[(int)i.MemorySize] != 4) return false;
        ref byte m = ref FastRam(MemSeg(i), EffAddr(i), 4, true);
        if (Unsafe.IsNullRef(ref m)) return false;
        Unsafe.WriteUnaligned(ref m, IncDecResult(Unsafe.ReadUnaligned<uint>(ref m), inc, 4));
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint IncDecResult(uint v, bool inc, int size)
    {
        uint r = inc ? v + 1 : v - 1;
        SetLazy(inc ? LazyOp.Inc : LazyOp.Dec, v, 1, r, size);
        return r;
    }

    void Neg(ref Instruction i)
    {
        int size = OpSize(i);
        uint a = ReadOp0Rmw(i, size);
        if (_faulted) return;
        uint r = 0 - a;
        SetLazy(LazyOp.Sub, 0, a, r, size);
        WriteOp0Rmw(i, size, r & SizeMask(size));
    }

    void Not(ref Instruction i)
    {
        int size = OpSize(i);
        uint a = ReadOp0Rmw(i, size);
        if (_faulted) return;
        WriteOp0Rmw(i, size, ~a & SizeMask(size));
    }

    void Shift(ref Instruction i)
    {
        int size = OpSize(i);
        uint a = ReadOp0Rmw(i, size);
        if (_faulted) return;
        int count = (int)(ReadOp1(i, 1) & 0x1F);
        if (count == 0) return;
        WriteOp0Rmw(i, size, ShiftValue(i.Mnemonic, a, count, size));
    }

    /// <summary>The result of a shift or rotate by a masked, non-zero <paramref name="count"/>, setting its flags.</summary>
    uint ShiftValue(Mnemonic m, uint a, int count, int size)
    {
        int w = size * 8;
        uint mask = SizeMask(size), sign = SignBit(size);
        uint r, cf, of;
        switch (m)
        {
            case Mnemonic.Rol:
                {
                    int c = count & (w - 1);
                    r = c == 0 ? a : ((a << c) | (a >> (w - c))) & mask;
                    cf = r & 1;
                    of = ((r & sign) != 0 ? 1u : 0) ^ cf;
                    SetArithFlags(Flags.CF | Flags.OF, cf | (of << 11));
                    break;
                }
            case Mnemonic.Ror:
                {
                    int c = count & (w - 1);
                    r = c == 0 ? a : ((a >> c) | (a << (w - c))) & mask;
                    cf = (r & sign) != 0 ? 1u : 0;
                    of = cf ^ ((r & (sign >> 1)) != 0 ? 1u : 0);
                    SetArithFlags(Flags.CF | Flags.OF, cf | (of << 11));
                    break;
                }
            case Mnemonic.Rcl:
            case Mnemonic.Rcr:
                {
                    int c = count % (w + 1);
                    if (c == 0)
                    {
                        // A full-circle rotate leaves the value and CF; OF is updated like a count of 1 would.
                        uint msb = (a & sign) != 0 ? 1u : 0;
                        uint of0 = m == Mnemonic.Rcl ? msb ^ CarryFlag() : msb ^ ((a & (sign >> 1)) != 0 ? 1u : 0);
                        SetArithFlags(Flags.OF, of0 << 11);
                        return a;
                    }
                    ulong wide = ((ulong)CarryFlag() << w) | a;
                    ulong wmask = (1UL << (w + 1)) - 1;
                    wide = m == Mnemonic.Rcl
                        ? ((wide << c) | (wide >> (w + 1 - c))) & wmask
                        : ((wide >> c) | (wide << (w + 1 - c))) & wmask;
                    r = (uint)wide & mask;
                    cf = (uint)(wide >> w) & 1;
                    of = m == Mnemonic.Rcl
                        ? ((r & sign) != 0 ? 1u : 0) ^ cf
                        : ((r & sign) != 0 ? 1u : 0) ^ ((r & (sign >> 1)) != 0 ? 1u : 0);
                    SetArithFlags(Flags.CF | Flags.OF, cf | (of << 11));
                    break;
                }
            case Mnemonic.Shl:
            case Mnemonic.Sal:
                r = count >= 32 ? 0 : (a << count) & mask;
                cf = count <= w ? (uint)((ulong)a >> (w - count)) & 1 : 0;
                of = ((r & sign) != 0 ? 1u : 0) ^ cf;
                SetArithFlags(Flags.Arith, cf | (of << 11) | ZspFlags(r, size));
                break;
            case Mnemonic.Shr:
                r = a >> count;
                cf = (a >> (count - 1)) & 1;
                of = count == 1 ? ((a & sign) != 0 ? 1u : 0) : 0;
                SetArithFlags(Flags.Arith, cf | (of << 11) | ZspFlags(r, size));
                break;
            default: // SAR
                {
                    int sa = size == 1 ? (sbyte)a : size == 2 ? (short)a : (int)a;
                    r = (uint)(sa >> Math.Min(count, 31)) & mask;
                    cf = (uint)(sa >> Math.Min(count - 1, 31)) & 1;
                    SetArithFlags(Flags.Arith, cf | ZspFlags(r, size));
                    break;
                }
        }
        return r;
    }

    void DoubleShift(ref Instruction i, bool left)
    {
        int size = OpSize(i);
        uint a = ReadOp0Rmw(i, size);
        if (_faulted) return;
        uint b = GetReg(i.Op1Register);
        int count = (int)(ReadOp(i, 2, 1) & 0x1F);
        if (count == 0) return;
        int w = size * 8;
        uint mask = SizeMask(size), sign = SignBit(size);
        uint r, cf;
        // 16-bit operands shift through a:b:a, so counts above 16 behave like the hardware's 32-bit funnel.
        ulong wide = size == 4
            ? (left ? ((ulong)a << 32) | b : ((ulong)b << 32) | a)
            : ((ulong)a << 32) | ((ulong)b << 16) | a;
        int top = size == 4 ? 64 : 48;
        if (left)
        {
            r = (uint)((wide << count) >> (top - w)) & mask;
            cf = (uint)(wide >> (top - count)) & 1;
        }
        else
        {
            r = (uint)(wide >> count) & mask;
            cf = (uint)(wide >> (count - 1)) & 1;
        }
        uint of = ((a ^ r) & sign) != 0 ? 1u : 0;
        SetArithFlags(Flags.Arith, cf | (of << 11) | ZspFlags(r, size));
        WriteOp0Rmw(i, size, r);
    }

    void Mul(ref Instruction i)
    {
        int size = OpSize(i);
        uint src = ReadOp0(i, size);
        if (_faulted) return;
        bool high;
        uint low;
        switch (size)
        {
            case 1:
                {
                    uint r = (R[0] & 0xFF) * src;
                    R[0] = (R[0] & 0xFFFF0000) | r;
                    high = r > 0xFF; low = r & 0xFF; break;
                }
            case 2:
                {
                    uint r = (R[0] & 0xFFFF) * src;
                    R[0] = (R[0] & 0xFFFF0000) | (r & 0xFFFF);
                    R[2] = (R[2] & 0xFFFF0000) | (r >> 16);
                    high = r > 0xFFFF; low = r & 0xFFFF; break;
                }
            default:
                {
                    ulong r = (ulong)R[0] * src;
                    R[0] = (uint)r; R[2] = (uint)(r >> 32);
                    high = r > 0xFFFFFFFF; low = (uint)r; break;
                }
        }
        SetMulFlags(high, low, size);
    }

    void SetMulFlags(bool overflow, uint low, int size)
    {
        uint f = overflow ? Flags.CF | Flags.OF : 0;
        SetArithFlags(Flags.Arith, f | ZspFlags(low, size));
    }

    void Imul(ref Instruction i)
    {
        int size = OpSize(i);
        if (i.OpCount == 1)
        {
            int src = SignExtend(ReadOp0(i, size), size);
            if (_faulted) return;
            switch (size)
            {
                case 1:
                    {
                        int r = (sbyte)R[0] * src;
                        R[0] = (R[0] & 0xFFFF0000) | (ushort)r;
                        SetMulFlags(r != (sbyte)r, (uint)r & 0xFF, 1); break;
                    }
                case 2:
                    {
                        int r = (short)R[0] * src;
                        R[0] = (R[0] & 0xFFFF0000) | (ushort)r;
                        R[2] = (R[2] & 0xFFFF0000) | (ushort)(r >> 16);
                        SetMulFlags(r != (short)r, (uint)r & 0xFFFF, 2); break;
                    }
                default:
                    {
                        long r = (long)(int)R[0] * src;
                        R[0] = (uint)r; R[2] = (uint)(r >> 32);
                        SetMulFlags(r != (int)r, (uint)r, 4); break;
                    }
            }
            return;
        }
        long x = SignExtend(i.OpCount == 2 ? GetReg(i.Op0Register) : ReadOp(i, 1, size), size);
        if (_faulted) return;
        long y = SignExtend(ReadOp(i, i.OpCount == 2 ? 1 : 2, size), size);
        if (_faulted) return;
        SetReg(i.Op0Register, ImulTruncated(x, y, size));
    }

    /// <summary>The low half of a signed product (two- and three-operand IMUL), setting CF/OF when it was cut.</summary>
    uint ImulTruncated(long x, long y, int size)
    {
        long p = x * y;
        long trunc = size == 2 ? (short)p : (int)p;
        SetMulFlags(trunc != p, (uint)p, size);
        return (uint)p;
    }

    static int SignExtend(uint v, int size) => size == 1 ? (sbyte)v : size == 2 ? (short)v : (int)v;

    void Div(ref Instruction i)
    {
        int size = OpSize(i);
        uint d = ReadOp0(i, size);
        if (_faulted) return;
        if (d == 0) { RaiseFault(Vector.DE); return; }
        switch (size)
        {
            case 1:
                {
                    uint n = R[0] & 0xFFFF, q = n / d;
                    if (q > 0xFF) { RaiseFault(Vector.DE); return; }
                    R[0] = (R[0] & 0xFFFF0000) | ((n % d) << 8) | q; break;
                }
            case 2:
                {
                    uint n = ((R[2] & 0xFFFF) << 16) | (R[0] & 0xFFFF), q = n / d;
                    if (q > 0xFFFF) { RaiseFault(Vector.DE); return; }
                    R[0] = (R[0] & 0xFFFF0000) | q;
                    R[2] = (R[2] & 0xFFFF0000) | (n % d); break;
                }
            default:
                {
                    ulong n = ((ulong)R[2] << 32) | R[0], q = n / d;
                    if (q > 0xFFFFFFFF) { RaiseFault(Vector.DE); return; }
                    R[0] = (uint)q; R[2] = (uint)(n % d); break;
                }
        }
    }

    void Idiv(ref Instruction i)
    {
        int size = OpSize(i);
        long d = SignExtend(ReadOp0(i, size), size);
        if (_faulted) return;
        if (d == 0) { RaiseFault(Vector.DE); return; }
        switch (size)
        {
            case 1:
                {
                    long n = (short)R[0], q = n / d;
                    if (q != (sbyte)q) { RaiseFault(Vector.DE); return; }
                    R[0] = (R[0] & 0xFFFF0000) | ((uint)(byte)(n % d) << 8) | (byte)q; break;
                }
            case 2:
                {
                    long n = (int)(((R[2] & 0xFFFF) << 16) | (R[0] & 0xFFFF)), q = n / d;
                    if (q != (short)q) { RaiseFault(Vector.DE); return; }
                    R[0] = (R[0] & 0xFFFF0000) | (ushort)q;
                    R[2] = (R[2] & 0xFFFF0000) | (ushort)(n % d); break;
                }
            default:
                {
                    long n = (long)(((ulong)R[2] << 32) | R[0]);
                    if (n == long.MinValue && d == -1) { RaiseFault(Vector.DE); return; }
                    long q = n / d;
                    if (q != (int)q) { RaiseFault(Vector.DE); return; }
                    R[0] = (uint)q; R[2] = (uint)(n % d); break;
                }
        }
    }

    void Daa()
    {
        uint al = R[0] & 0xFF, oldAl = al, cf = CarryFlag(), af = AuxFlag ? 1u : 0;
        uint newCf = 0, newAf = 0;
        if ((al & 0xF) > 9 || af != 0) { al += 6; newCf = cf | (al > 0xFF ? 1u : 0); newAf = 1; }
        if (oldAl > 0x99 || cf != 0) { al += 0x60; newCf = 1; }
        al &= 0xFF;
        R[0] = (R[0] & 0xFFFFFF00) | al;
        SetArithFlags(Flags.Arith, newCf | (newAf << 4) | ZspFlags(al, 1));
    }

    void Das()
    {
        uint al = R[0] & 0xFF, oldAl = al, cf = CarryFlag(), af = AuxFlag ? 1u : 0;
        uint newCf = 0, newAf = 0;
        if ((al & 0xF) > 9 || af != 0) { newCf = cf | (al < 6 ? 1u : 0); al -= 6; newAf = 1; }
        if (oldAl > 0x99 || cf != 0) { al -= 0x60; newCf = 1; }
        al &= 0xFF;
        R[0] = (R[0] & 0xFFFFFF00) | al;
        SetArithFlags(Flags.Arith, newCf | (newAf << 4) | ZspFlags(al, 1));
    }

    void Aaa()
    {
        uint ax = R[0] & 0xFFFF;
        uint f;
        if ((ax & 0xF) > 9 || AuxFlag) { ax += 0x106; f = Flags.AF | Flags.CF; }
        else f = 0;
        ax &= 0xFF0F;
        R[0] = (R[0] & 0xFFFF0000) | ax;
        SetArithFlags(Flags.Arith, f | ZspFlags(ax & 0xFF, 1));
    }

    void Aas()
    {
        uint ax = R[0] & 0xFFFF;
        uint f;
        if ((ax & 0xF) > 9 || AuxFlag) { ax = (ax - 6) & 0xFFFF; ax = (ax - 0x100) & 0xFFFF; f = Flags.AF | Flags.CF; }
        else f = 0;
        ax &= 0xFF0F;
        R[0] = (R[0] & 0xFFFF0000) | ax;
        SetArithFlags(Flags.Arith, f | ZspFlags(ax & 0xFF, 1));
    }

    void Aam(ref Instruction i)
    {
        uint imm = i.Immediate8;
        if (imm == 0) { RaiseFault(Vector.DE); return; }
        uint al = R[0] & 0xFF;
        uint ah = al / imm;
        al %= imm;
        R[0] = (R[0] & 0xFFFF0000) | (ah << 8) | al;
        SetArithFlags(Flags.Arith, ZspFlags(al, 1));
    }

    void Aad(ref Instruction i)
    {
        uint al = ((R[0] & 0xFF) + ((R[0] >> 8) & 0xFF) * i.Immediate8) & 0xFF;
        R[0] = (R[0] & 0xFFFF0000) | al;
        SetArithFlags(Flags.Arith, ZspFlags(al, 1));
    }

    void BitTest(ref Instruction i)
    {
        int size = OpSize(i);
        Mnemonic m = i.Mnemonic;
        uint bitOffset = ReadOp1(i, size);
        uint value, bit;
        bool isMem = i.Op0Kind == OpKind.Memory;
        if (!isMem || i.Op1Kind != OpKind.Register)
        {
            bit = bitOffset & (uint)(size * 8 - 1);
            value = m == Mnemonic.Bt ? ReadOp0(i, size) : ReadOp0Rmw(i, size);
        }
        else
        {
            // A register bit offset addresses memory beyond the operand (signed).
            int off = SignExtend(bitOffset, size);
            uint ea = EffAddr(i) + (uint)((off >> (size == 2 ? 4 : 5)) * size);
            if (Addr16(i)) ea &= 0xFFFF;
            bit = bitOffset & (uint)(size * 8 - 1);
            value = m == Mnemonic.Bt ? ReadMem(MemSeg(i), ea, size) : ReadRmwMem(MemSeg(i), ea, size);
        }
        if (_faulted) return;
        uint cf = (value >> (int)bit) & 1;
        SetArithFlags(Flags.CF, cf);
        if (m == Mnemonic.Bt) return;
        uint nv = m == Mnemonic.Bts ? value | (1u << (int)bit) : m == Mnemonic.Btr ? value & ~(1u << (int)bit) : value ^ (1u << (int)bit);
        if (isMem) WriteRmwMem(size, nv);
        else SetReg(i.Op0Register, nv);
    }

    void BitScan(ref Instruction i, bool forward)
    {
        int size = OpSize(i);
        uint src = ReadOp1(i, size);
        if (_faulted) return;
        if (src == 0) { SetArithFlags(Flags.ZF, Flags.ZF); return; }
        int idx = forward ? BitOperations.TrailingZeroCount(src) : 31 - BitOperations.LeadingZeroCount(src);
        SetReg(i.Op0Register, (uint)idx);
        SetArithFlags(Flags.ZF, 0);
    }

    void Cmpxchg(ref Instruction i)
    {
        int size = OpSize(i);
        uint dest = ReadOp0Rmw(i, size);
        if (_faulted) return;
        uint acc = R[0] & SizeMask(size);
        uint src = GetReg(i.Op1Register);
        SetLazy(LazyOp.Sub, acc, dest, acc - dest, size);
        if (acc == dest) WriteOp0Rmw(i, size, src);
        else
        {
            WriteOp0Rmw(i, size, dest);
            SetReg(size == 1 ? Register.AL : size == 2 ? Register.AX : Register.EAX, dest);
        }
    }

    void Cmpxchg8b(ref Instruction i)
    {
        if (i.Op0Kind != OpKind.Memory) { UD(); return; }
        int seg = MemSeg(i);
        uint ea = EffAddr(i);
        if (!ProbeMemWrite(seg, ea, 8)) return;
        ulong v = ReadMem64(seg, ea);
        if (_faulted) return;
        if (v == (((ulong)R[2] << 32) | R[0]))
        {
            WriteMem64(seg, ea, ((ulong)R[1] << 32) | R[3]);
            SetArithFlags(Flags.ZF, Flags.ZF);
        }
        else
        {
            WriteMem64(seg, ea, v);
            R[0] = (uint)v; R[2] = (uint)(v >> 32);
            SetArithFlags(Flags.ZF, 0);
        }
    }

    void Xadd(ref Instruction i)
    {
        int size = OpSize(i);
        uint dest = ReadOp0Rmw(i, size);
        if (_faulted) return;
        uint src = GetReg(i.Op1Register);
        uint sum = dest + src;
        SetLazy(LazyOp.Add, dest, src, sum, size);
        SetReg(i.Op1Register, dest);
        WriteOp0Rmw(i, size, sum & SizeMask(size));
    }
}
