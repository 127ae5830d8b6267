using System.Buffers.Binary;
using Iced.Intel;

namespace Emu.X86;

// MOV in all its forms and the other plain data movement instructions.
public sealed partial class Cpu
{
    void Mov(ref Instruction i)
    {
        if (i.Op0Kind == OpKind.Register)
        {
            Register d = i.Op0Register;
            if ((uint)(d - Register.EAX) < 8 && i.Op1Kind == OpKind.Register && (uint)(i.Op1Register - Register.EAX) < 8)
            {
                R[d - Register.EAX] = R[i.Op1Register - Register.EAX];
                return;
            }
            if ((uint)(d - Register.ES) < 6) { MovToSegment(ref i, d - Register.ES); return; }
            if ((uint)(d - Register.CR0) < 16) { MovToCr(d - Register.CR0, GetReg(i.Op1Register)); return; }
            if ((uint)(d - Register.DR0) < 16) { MovToDr(d - Register.DR0, GetReg(i.Op1Register)); return; }
            if ((uint)(d - Register.TR0) < 8) { CheckCpl0(); return; }
            if (i.Op1Kind == OpKind.Register)
            {
                Register s = i.Op1Register;
                if ((uint)(s - Register.CR0) < 16) { MovFromCr(d, s - Register.CR0); return; }
                if ((uint)(s - Register.DR0) < 16) { MovFromDr(d, s - Register.DR0); return; }
                if ((uint)(s - Register.TR0) < 8) { if (CheckCpl0()) SetReg(d, 0); return; }
            }
            uint v = ReadOp1(i, RegSize(d));
            if (!_faulted) SetReg(d, v);
            return;
        }
        // Memory destination; a segment register source stores 16 bits.
        int size = MemSize[(int)i.MemorySize];
        uint val = ReadOp1(i, size);
        if (!_faulted) WriteMem(MemSeg(i), EffAddr(i), size, val);
    }

    void MovToSegment(ref Instruction i, int seg)
    {
        if (seg == CS) { UD(); return; }
        uint v = ReadOp1(i, 2);
        if (_faulted || !LoadSegment(seg, (ushort)v)) return;
        if (seg == SS) _interruptShadow = true;
        _breakBlock = true;
    }

    void MovExtend(ref Instruction i, bool signed)
    {
        int srcSize = i.Op1Kind == OpKind.Register ? RegSize(i.Op1Register) : MemSize[(int)i.MemorySize];
        uint v = ReadOp1(i, srcSize);
        if (_faulted) return;
        if (signed) v = (uint)SignExtend(v, srcSize);
        SetReg(i.Op0Register, v);
    }

    void Lea(ref Instruction i)
    {
        uint ea = EffAddr(i);
        if (Addr16(i)) ea &= 0xFFFF;
        SetReg(i.Op0Register, ea);
    }

    void Xchg(ref Instruction i)
    {
        if (i.Op0Kind == OpKind.Register && i.Op1Kind == OpKind.Register)
        {
            uint a = GetReg(i.Op0Register), b = GetReg(i.Op1Register);
            SetReg(i.Op0Register, b);
            SetReg(i.Op1Register, a);
            return;
        }
        int size = OpSize(i);
        uint m = ReadOp0Rmw(i, size);
        if (_faulted) return;
        uint r = GetReg(i.Op1Register);
        WriteOp0Rmw(i, size, r);
        SetReg(i.Op1Register, m);
    }

    void Lahf()
    {
        uint f = Eflags & (Flags.SF | Flags.ZF | Flags.AF | Flags.PF | Flags.CF) | Flags.Reserved1;
        R[0] = (R[0] & 0xFFFF00FF) | (f << 8);
    }

    void Sahf() => SetArithFlags(Flags.SF | Flags.ZF | Flags.AF | Flags.PF | Flags.CF, (R[0] >> 8) & 0xFF);

    void Xlat(ref Instruction i)
    {
        uint ea = GetReg(i.MemoryBase) + (R[0] & 0xFF);
        if ((uint)(i.MemoryBase - Register.AX) < 8) ea &= 0xFFFF;
        uint v = ReadMem8(MemSeg(i), ea);
        if (!_faulted) R[0] = (R[0] & 0xFFFFFF00) | v;
    }

    void Bswap(ref Instruction i)
    {
        Register r = i.Op0Register;
        // BSWAP of a 16-bit register is undefined; real CPUs clear it.
        SetReg(r, RegSize(r) == 4 ? BinaryPrimitives.ReverseEndianness(GetReg(r)) : 0);
    }

    void Cmov(ref Instruction i)
    {
        int size = RegSize(i.Op0Register);
        uint v = ReadOp1(i, size);
        if (_faulted) return;
        if (Condition(i)) SetReg(i.Op0Register, v);
    }

    void LoadFarPointer(ref Instruction i, int seg)
    {
        if (i.Op1Kind != OpKind.Memory) { UD(); return; }
        int size = RegSize(i.Op0Register);
        uint ea = EffAddr(i);
        int ms = MemSeg(i);
        uint off = ReadMem(ms, ea, size);
        if (_faulted) return;
        ushort sel = ReadMem16(ms, Addr16(i) ? (ea + (uint)size) & 0xFFFF : ea + (uint)size);
        if (_faulted || !LoadSegment(seg, sel)) return;
        SetReg(i.Op0Register, off);
        _breakBlock = true;
    }
}
