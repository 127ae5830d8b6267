using Iced.Intel;

namespace Emu.X86;

// Near and far jumps, calls and returns, loops; far transfers through call gates and task gates.
public sealed partial class Cpu
{
    void NearJump(uint target)
    {
        if (target > S[CS].Max && ProtectedMode) { GP(0); return; }
        _eip = target;
    }

    void Jmp(ref Instruction i)
    {
        switch (i.Op0Kind)
        {
            case OpKind.NearBranch16:
            case OpKind.NearBranch32:
                NearJump(BranchTarget(i));
                return;
            case OpKind.FarBranch16:
                FarJump(i.FarBranchSelector, i.FarBranch16);
                return;
            case OpKind.FarBranch32:
                FarJump(i.FarBranchSelector, i.FarBranch32);
                return;
        }
        if (i.IsJmpFarIndirect)
        {
            if (!ReadFarPointer(ref i, out ushort sel, out uint off)) return;
            FarJump(sel, off);
            return;
        }
        int size = OpSize(i);
        uint t = ReadOp0(i, size);
        if (!_faulted) NearJump(t);
    }

    bool ReadFarPointer(ref Instruction i, out ushort sel, out uint off)
    {
        sel = 0; off = 0;
        if (i.Op0Kind != OpKind.Memory) { UD(); return false; }
        int size = i.MemorySize == MemorySize.SegPtr32 ? 4 : 2;
        uint ea = EffAddr(i);
        int seg = MemSeg(i);
        off = ReadMem(seg, ea, size);
        if (_faulted) return false;
        sel = ReadMem16(seg, Addr16(i) ? (ea + (uint)size) & 0xFFFF : ea + (uint)size);
        return !_faulted;
    }

    void Call(ref Instruction i)
    {
        switch (i.Op0Kind)
        {
            case OpKind.NearBranch16:
            case OpKind.NearBranch32:
                {
                    uint t = BranchTarget(i);
                    int size = i.Op0Kind == OpKind.NearBranch32 ? 4 : 2;
                    if (t > S[CS].Max && ProtectedMode) { GP(0); return; }
                    if (PushValue(_eip, size)) _eip = t;
                    return;
                }
            case OpKind.FarBranch16:
                FarCall(i.FarBranchSelector, i.FarBranch16, 2);
                return;
            case OpKind.FarBranch32:
                FarCall(i.FarBranchSelector, i.FarBranch32, 4);
                return;
        }
        if (i.IsCallFarIndirect)
        {
            if (!ReadFarPointer(ref i, out ushort sel, out uint off)) return;
            FarCall(sel, off, i.MemorySize == MemorySize.SegPtr32 ? 4 : 2);
            return;
        }
        int osize = OpSize(i);
        uint target = ReadOp0(i, osize);
        if (_faulted) return;
        if (target > S[CS].Max && ProtectedMode) { GP(0); return; }
        if (PushValue(_eip, osize)) _eip = target;
    }

    void RetNear(ref Instruction i)
    {
        int size = i.Code is Code.Retnd or Code.Retnd_imm16 ? 4 : 2;
        uint sp = R[4];
        uint t = StackPop(ref sp, size);
        if (_faulted) return;
        if (t > S[CS].Max && ProtectedMode) { GP(0); return; }
        if (i.Op0Kind == OpKind.Immediate16) sp += i.Immediate16;
        SetSp(sp);
        _eip = t;
    }

    void Loop(ref Instruction i)
    {
        bool ecx = i.Code is Code.Loop_rel8_16_ECX or Code.Loop_rel8_32_ECX or Code.Loope_rel8_16_ECX
            or Code.Loope_rel8_32_ECX or Code.Loopne_rel8_16_ECX or Code.Loopne_rel8_32_ECX;
        uint c;
        if (ecx) c = --R[1];
        else { c = (R[1] - 1) & 0xFFFF; R[1] = (R[1] & 0xFFFF0000) | c; }
        bool take = c != 0 && i.Mnemonic switch
        {
            Mnemonic.Loope => ZeroFlag,
            Mnemonic.Loopne => !ZeroFlag,
            _ => true,
        };
        if (take) NearJump(BranchTarget(i));
    }

    void FarJump(ushort sel, uint off)
    {
        if (!ProtectedMode || V86)
        {
            LoadCodeSegmentReal(sel);
            _eip = off;
            return;
        }
        if (!CheckFarTarget(sel, out ulong d, out uint addr)) return;
        if (Descriptor.IsCode(d))
        {
            if (!CheckCodeDescriptor(sel, d, addr)) return;
            if (off > Descriptor.Limit(d)) { GP(0); return; }
            LoadCodeSegment(sel, d, _cpl);
            _eip = off;
            return;
        }
        int type = Descriptor.Type(d);
        int dpl = Descriptor.Dpl(d);
        if (type is 1 or 9 or 5)
        {
            if (dpl < _cpl || dpl < (sel & 3)) { GP(sel & 0xFFFC); return; }
            if (!Descriptor.Present(d)) { RaiseFault(Vector.NP, sel & 0xFFFC); return; }
            TaskSwitchTo(sel, d, addr, TaskSwitchReason.Jump, -1);
            return;
        }
        if (type is 4 or 12)
        {
            if (dpl < _cpl || dpl < (sel & 3)) { GP(sel & 0xFFFC); return; }
            if (!Descriptor.Present(d)) { RaiseFault(Vector.NP, sel & 0xFFFC); return; }
            ushort csSel = Descriptor.GateSelector(d);
            uint target = Descriptor.GateOffset(d);
            if (type == 4) target &= 0xFFFF;
            if (!CheckFarTarget(csSel, out ulong cd, out uint caddr)) return;
            if (!Descriptor.IsCode(cd)) { GP(csSel & 0xFFFC); return; }
            int cdpl = Descriptor.Dpl(cd);
            if (Descriptor.Conforming(cd) ? cdpl > _cpl : cdpl != _cpl) { GP(csSel & 0xFFFC); return; }
            if (!Descriptor.Present(cd)) { RaiseFault(Vector.NP, csSel & 0xFFFC); return; }
            if (target > Descriptor.Limit(cd)) { GP(0); return; }
            SetAccessed(caddr, cd);
            LoadCodeSegment(csSel, cd, _cpl);
            _eip = target;
            return;
        }
        GP(sel & 0xFFFC);
    }

    /// <summary>Null and table-limit checks for a far transfer target selector.</summary>
    bool CheckFarTarget(ushort sel, out ulong d, out uint addr)
    {
        d = 0; addr = 0;
        if ((sel & ~3) == 0) { GP(0); return false; }
        if (!ReadDescriptor(sel, out d, out addr))
        {
            if (!_faulted) GP(sel & 0xFFFC);
            return false;
        }
        return true;
    }

    /// <summary>Privilege and presence checks for a direct far JMP/CALL to a code segment.</summary>
    bool CheckCodeDescriptor(ushort sel, ulong d, uint addr)
    {
        int dpl = Descriptor.Dpl(d), rpl = sel & 3;
        if (Descriptor.Conforming(d) ? dpl > _cpl : (rpl > _cpl || dpl != _cpl)) { GP(sel & 0xFFFC); return false; }
        if (!Descriptor.Present(d)) { RaiseFault(Vector.NP, sel & 0xFFFC); return false; }
        SetAccessed(addr, d);
        return !_faulted;
    }

    void FarCall(ushort sel, uint off, int size)
    {
        if (!ProtectedMode || V86)
        {
            uint sp = R[4];
            StackPush(ref sp, S[CS].Selector, size);
            StackPush(ref sp, _eip, size);
            if (_faulted) return;
            SetSp(sp);
            LoadCodeSegmentReal(sel);
            _eip = off;
            return;
        }
        if (!CheckFarTarget(sel, out ulong d, out uint addr)) return;
        if (Descriptor.IsCode(d))
        {
            if (!CheckCodeDescriptor(sel, d, addr)) return;
            if (off > Descriptor.Limit(d)) { GP(0); return; }
            uint sp = R[4];
            StackPush(ref sp, S[CS].Selector, size);
            StackPush(ref sp, _eip, size);
            if (_faulted) return;
            SetSp(sp);
            LoadCodeSegment(sel, d, _cpl);
            _eip = off;
            return;
        }
        int type = Descriptor.Type(d);
        int dpl = Descriptor.Dpl(d);
        if (type is 1 or 9 or 5)
        {
            if (dpl < _cpl || dpl < (sel & 3)) { GP(sel & 0xFFFC); return; }
            if (!Descriptor.Present(d)) { RaiseFault(Vector.NP, sel & 0xFFFC); return; }
            TaskSwitchTo(sel, d, addr, TaskSwitchReason.Call, -1);
            return;
        }
        if (type is not (4 or 12)) { GP(sel & 0xFFFC); return; }
        if (dpl < _cpl || dpl < (sel & 3)) { GP(sel & 0xFFFC); return; }
        if (!Descriptor.Present(d)) { RaiseFault(Vector.NP, sel & 0xFFFC); return; }
        CallGate(d, type == 12 ? 4 : 2);
    }

    void CallGate(ulong gate, int size)
    {
        ushort csSel = Descriptor.GateSelector(gate);
        uint target = Descriptor.GateOffset(gate);
        if (size == 2) target &= 0xFFFF;
        if (!CheckFarTarget(csSel, out ulong cd, out uint caddr)) return;
        int cdpl = Descriptor.Dpl(cd);
        if (!Descriptor.IsCode(cd) || cdpl > _cpl) { GP(csSel & 0xFFFC); return; }
        if (!Descriptor.Present(cd)) { RaiseFault(Vector.NP, csSel & 0xFFFC); return; }
        if (target > Descriptor.Limit(cd)) { GP(0); return; }
        if (!Descriptor.Conforming(cd) && cdpl < _cpl)
        {
            // Inner-privilege call: switch to the stack for the new CPL from the TSS and copy parameters.
            if (!ReadTssStack(cdpl, out ushort newSs, out uint newSp)) return;
            if (!CheckStackSegment(newSs, cdpl, out ulong sd, out uint saddr, Vector.TS)) return;
            int count = Descriptor.GateParamCount(gate);
            ushort oldSs = S[SS].Selector;
            uint oldSp = R[4];
            bool oldStack32 = _stack32;
            Span<uint> param = stackalloc uint[32];
            for (int n = 0; n < count; n++)
            {
                uint off = oldStack32 ? oldSp + (uint)(n * size) : (oldSp + (uint)(n * size)) & 0xFFFF;
                param[n] = ReadMem(SS, off, size);
                if (_faulted) return;
            }
            Segment savedSs = S[SS];
            LoadCache(SS, newSs, sd);
            _stack32 = S[SS].Big;
            _user = cdpl == 3;
            uint sp = newSp;
            StackPush(ref sp, oldSs, size);
            StackPush(ref sp, oldSp, size);
            for (int n = count - 1; n >= 0; n--) StackPush(ref sp, param[n], size);
            StackPush(ref sp, S[CS].Selector, size);
            StackPush(ref sp, _eip, size);
            if (_faulted) { S[SS] = savedSs; UpdateModeCaches(); return; }
            SetAccessed(saddr, sd);
            R[4] = _stack32 ? sp : (newSp & 0xFFFF0000) | (sp & 0xFFFF);
            LoadCodeSegment(csSel, cd, cdpl);
            _eip = target;
            return;
        }
        uint sp2 = R[4];
        StackPush(ref sp2, S[CS].Selector, size);
        StackPush(ref sp2, _eip, size);
        if (_faulted) return;
        SetSp(sp2);
        SetAccessed(caddr, cd);
        LoadCodeSegment(csSel, cd, _cpl);
        _eip = target;
    }

    /// <summary>Checks a new SS selector for a privilege change to <paramref name="dpl"/>.</summary>
    bool CheckStackSegment(ushort sel, int dpl, out ulong d, out uint addr, int vector)
    {
        d = 0; addr = 0;
        if ((sel & ~3) == 0) { RaiseFault(vector, 0); return false; }
        if (!ReadDescriptor(sel, out d, out addr))
        {
            if (!_faulted) RaiseFault(vector, sel & 0xFFFC);
            return false;
        }
        if ((sel & 3) != dpl || Descriptor.Dpl(d) != dpl || !Descriptor.IsData(d) || !Descriptor.RwBit(d))
        {
            RaiseFault(vector, sel & 0xFFFC);
            return false;
        }
        if (!Descriptor.Present(d)) { RaiseFault(Vector.SS, sel & 0xFFFC); return false; }
        return true;
    }

    void RetFar(ref Instruction i)
    {
        int size = i.Code is Code.Retfd or Code.Retfd_imm16 ? 4 : 2;
        uint imm = i.Op0Kind == OpKind.Immediate16 ? i.Immediate16 : 0u;
        uint sp = R[4];
        uint off = StackPop(ref sp, size);
        ushort sel = (ushort)StackPop(ref sp, size);
        if (_faulted) return;
        if (!ProtectedMode || V86)
        {
            SetSp(sp + imm);
            LoadCodeSegmentReal(sel);
            _eip = size == 2 ? off & 0xFFFF : off;
            return;
        }
        if (!CheckFarTarget(sel, out ulong d, out uint addr)) return;
        int rpl = sel & 3, dpl = Descriptor.Dpl(d);
        if (!Descriptor.IsCode(d) || rpl < _cpl || (Descriptor.Conforming(d) ? dpl > rpl : dpl != rpl)) { GP(sel & 0xFFFC); return; }
        if (!Descriptor.Present(d)) { RaiseFault(Vector.NP, sel & 0xFFFC); return; }
        if (off > Descriptor.Limit(d)) { GP(0); return; }
        sp += imm;
        if (rpl == _cpl)
        {
            SetSp(sp);
            LoadCodeSegment(sel, d, _cpl);
            _eip = off;
            return;
        }
        uint newSp = StackPop(ref sp, size);
        ushort newSs = (ushort)StackPop(ref sp, size);
        if (_faulted) return;
        if (!CheckStackSegment(newSs, rpl, out ulong sd, out uint saddr, Vector.GP)) return;
        SetAccessed(addr, d);
        SetAccessed(saddr, sd);
        LoadCodeSegment(sel, d, rpl);
        LoadCache(SS, newSs, sd);
        UpdateModeCaches();
        R[4] = _stack32 ? newSp + imm : (R[4] & 0xFFFF0000) | ((newSp + imm) & 0xFFFF);
        _eip = off;
        InvalidateSegmentsForCpl();
    }
}
