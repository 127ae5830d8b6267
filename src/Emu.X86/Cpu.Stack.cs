using Iced.Intel;

namespace Emu.X86;

// Stack instructions. Multi-value pushes and pops work on a local stack pointer that is
// committed only after every access succeeded, so a fault leaves ESP untouched.
public sealed partial class Cpu
{
    uint StackMask => _stack32 ? 0xFFFFFFFF : 0xFFFF;

    void SetSp(uint sp)
    {
        if (_stack32) R[4] = sp;
        else R[4] = (R[4] & 0xFFFF0000) | (sp & 0xFFFF);
    }

    void StackPush(ref uint sp, uint v, int size)
    {
        sp -= (uint)size;
        WriteMem(SS, sp & StackMask, size, v);
    }

    uint StackPop(ref uint sp, int size)
    {
        uint v = ReadMem(SS, sp & StackMask, size);
        sp += (uint)size;
        return v;
    }

    bool PushValue(uint v, int size)
    {
        uint sp = R[4];
        StackPush(ref sp, v, size);
        if (_faulted) return false;
        SetSp(sp);
        return true;
    }

    uint PopValue(int size)
    {
        uint sp = R[4];
        uint v = StackPop(ref sp, size);
        if (!_faulted) SetSp(sp);
        return v;
    }

    /// <summary>Operand size of PUSH/POP: 2 or 4 bytes (general registers directly, other forms via Iced's stack info).</summary>
    static int StackOpSize(in Instruction i)
    {
        if (i.Op0Kind == OpKind.Register)
        {
            Register r = i.Op0Register;
            if ((uint)(r - Register.EAX) < 8) return 4;
            if ((uint)(r - Register.AX) < 8) return 2;
        }
        return Math.Abs(i.StackPointerIncrement);
    }

    void Push(ref Instruction i)
    {
        int size = StackOpSize(i);
        uint v;
        if (i.Op0Kind == OpKind.Register)
            v = GetReg(i.Op0Register);   // PUSH ESP pushes the value before the push
        else
        {
            v = ReadOp(i, 0, size);
            if (_faulted) return;
        }
        PushValue(v, size);
    }

    void Pop(ref Instruction i)
    {
        int size = StackOpSize(i);
        uint sp = R[4];
        uint v = StackPop(ref sp, size);
        if (_faulted) return;
        if (i.Op0Kind == OpKind.Register)
        {
            Register r = i.Op0Register;
            uint seg = (uint)(r - Register.ES);
            if (seg < 6)
            {
                if (!LoadSegment((int)seg, (ushort)v)) return;
                SetSp(sp);
                if (seg == SS) _interruptShadow = true;
                _breakBlock = true;
                return;
            }
            SetSp(sp);
            SetReg(r, v);
            return;
        }
        // POP m: the address is computed with the incremented ESP.
        uint oldSp = R[4];
        SetSp(sp);
        WriteMem(MemSeg(i), EffAddr(i), size, v);
        if (_faulted) R[4] = oldSp;
    }

    void PushAll(bool d)
    {
        int size = d ? 4 : 2;
        uint sp = R[4], orig = R[4];
        for (int r = 0; r < 8; r++) StackPush(ref sp, r == 4 ? orig : R[r], size);
        if (!_faulted) SetSp(sp);
    }

    void PopAll(bool d)
    {
        int size = d ? 4 : 2;
        uint sp = R[4];
        Span<uint> v = stackalloc uint[8];
        for (int r = 7; r >= 0; r--) v[r] = StackPop(ref sp, size);
        if (_faulted) return;
        for (int r = 0; r < 8; r++)
            if (r != 4) SetReg(d ? Register.EAX + r : Register.AX + r, v[r]);
        SetSp(sp);
    }

    void PushFlags(bool d)
    {
        if (V86 && Iopl < 3) { GP(0); return; }
        uint f = Eflags & ~(Flags.VM | Flags.RF);
        PushValue(d ? f : f & 0xFFFF, d ? 4 : 2);
    }

    void PopFlags(bool d)
    {
        if (V86 && Iopl < 3) { GP(0); return; }
        uint v = PopValue(d ? 4 : 2);
        if (_faulted) return;
        uint mask = Flags.CF | Flags.PF | Flags.AF | Flags.ZF | Flags.SF | Flags.TF | Flags.DF | Flags.OF | Flags.NT;
        if (d) mask |= Flags.AC | Flags.ID;
        if (!ProtectedMode || _cpl == 0) mask |= Flags.IOPL;
        if (!ProtectedMode || _cpl <= Iopl) mask |= Flags.IF;
        if (V86) mask = (mask | Flags.IF) & ~Flags.IOPL;
        WriteEflags(v, mask);
        _flags &= ~Flags.RF;
    }

    int Iopl => (int)(_flags >> 12) & 3;

    void Enter(ref Instruction i)
    {
        int size = i.Code == Code.Enterd_imm16_imm8 ? 4 : 2;
        uint alloc = i.Immediate16;
        int level = i.Immediate8_2nd & 31;
        uint sp = R[4];
        uint bp = R[5];
        StackPush(ref sp, size == 4 ? bp : bp & 0xFFFF, size);
        uint frame = sp;
        if (level > 0)
        {
            uint tbp = bp;
            for (int n = 1; n < level; n++)
            {
                tbp -= (uint)size;
                uint v = ReadMem(SS, tbp & StackMask, size);
                if (_faulted) return;
                StackPush(ref sp, v, size);
            }
            StackPush(ref sp, frame, size);
        }
        sp -= alloc;
        if (!_faulted && alloc != 0) ReadMem(SS, sp & StackMask, 1);   // the new stack top must be addressable
        if (_faulted) return;
        if (size == 4) R[5] = frame; else R[5] = (R[5] & 0xFFFF0000) | (frame & 0xFFFF);
        SetSp(sp);
    }

    void Leave(ref Instruction i)
    {
        int size = i.Code == Code.Leaved ? 4 : 2;
        uint sp = _stack32 ? R[5] : R[5] & 0xFFFF;
        uint v = StackPop(ref sp, size);
        if (_faulted) return;
        SetSp(sp);
        if (size == 4) R[5] = v; else R[5] = (R[5] & 0xFFFF0000) | (v & 0xFFFF);
    }
}
