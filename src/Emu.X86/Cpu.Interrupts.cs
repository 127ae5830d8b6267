using Iced.Intel;

namespace Emu.X86;

/// <summary>What caused an interrupt delivery; decides privilege checks, EXT bit and trap semantics.</summary>
enum InterruptSource { Exception, External, Software, Int3, Int1 }

// Interrupt and exception delivery (IVT, IDT gates, privilege stack switch, v8086 exits),
// double and triple fault escalation, IRET, and the interrupt flag instructions.
public sealed partial class Cpu
{
    /// <summary>Delivers the fault recorded by <see cref="RaiseFault"/> with EIP back at the faulting instruction.</summary>
    void HandleFault()
    {
        _faulted = false;
        _breakBlock = false;
        _eip = _eipStart;
        DeliverEvent(_faultVector, _faultError, InterruptSource.Exception);
    }

    static bool Contributory(int v) => v is Vector.DE or Vector.TS or Vector.NP or Vector.SS or Vector.GP;

    void DeliverEvent(int vector, int error, InterruptSource src)
    {
        for (int attempt = 0; attempt < 4; attempt++)
        {
            _faulted = false;
            DeliverOnce(vector, error, src);
            _breakBlock = false;
            if (!_faulted) return;
            _faulted = false;
            int nv = _faultVector;
            if (vector == Vector.DF) break;
            // A fault while delivering INT n restarts at the INT instruction.
            if (src is InterruptSource.Software or InterruptSource.Int3 or InterruptSource.Int1) _eip = _eipStart;
            bool df = (Contributory(vector) && Contributory(nv)) || (vector == Vector.PF && (nv == Vector.PF || Contributory(nv)));
            if (src == InterruptSource.Exception && df) { vector = Vector.DF; error = 0; }
            else { vector = nv; error = _faultError; }
            src = InterruptSource.Exception;
        }
        TripleFault();
    }

    void TripleFault()
    {
        _shutdown = true;
        _halted = true;
        _breakBlock = true;
        ShutdownRequested?.Invoke();
    }

    void SoftwareInterrupt(int vector, InterruptSource src)
    {
        if (V86 && src == InterruptSource.Software && Iopl < 3) { GP(0); return; }
        DeliverEvent(vector, -1, src);
        _breakBlock = true;
    }

    void DeliverOnce(int vector, int error, InterruptSource src)
    {
        if (!ProtectedMode) { DeliverReal(vector); return; }
        int ext = src is InterruptSource.External or InterruptSource.Exception ? 1 : 0;
        int idtErr = vector * 8 + 2 + ext;
        if (vector * 8 + 7 > _idtrLimit) { GP(idtErr); return; }
        uint lo = ReadSys32(_idtrBase + (uint)vector * 8), hi = ReadSys32(_idtrBase + (uint)vector * 8 + 4);
        if (_faulted) return;
        ulong gate = lo | (ulong)hi << 32;
        int type = Descriptor.Type(gate);
        if (!Descriptor.IsSystem(gate) || type is not (5 or 6 or 7 or 14 or 15)) { GP(idtErr); return; }
        if (src is InterruptSource.Software or InterruptSource.Int3 && Descriptor.Dpl(gate) < _cpl) { GP(idtErr); return; }
        if (!Descriptor.Present(gate)) { RaiseFault(Vector.NP, idtErr); return; }
        bool hasError = src == InterruptSource.Exception && error >= 0;
        if (type == 5)
        {
            ushort tss = Descriptor.GateSelector(gate);
            if (!ReadDescriptor(tss, out ulong td, out uint taddr) || (tss & 4) != 0) { if (!_faulted) RaiseFault(Vector.TS, (tss & 0xFFFC) | ext); return; }
            if (Descriptor.Type(td) is not (1 or 9)) { RaiseFault(Vector.TS, (tss & 0xFFFC) | ext); return; }
            if (!Descriptor.Present(td)) { RaiseFault(Vector.NP, (tss & 0xFFFC) | ext); return; }
            TaskSwitchTo(tss, td, taddr, TaskSwitchReason.Interrupt, hasError ? error : -1);
            return;
        }
        int size = type >= 14 ? 4 : 2;
        ushort csSel = Descriptor.GateSelector(gate);
        uint target = Descriptor.GateOffset(gate);
        if (size == 2) target &= 0xFFFF;
        if ((csSel & ~3) == 0) { GP(ext); return; }
        if (!ReadDescriptor(csSel, out ulong cd, out uint caddr)) { if (!_faulted) GP((csSel & 0xFFFC) | ext); return; }
        int dpl = Descriptor.Dpl(cd);
        if (!Descriptor.IsCode(cd) || dpl > _cpl) { GP((csSel & 0xFFFC) | ext); return; }
        if (!Descriptor.Present(cd)) { RaiseFault(Vector.NP, (csSel & 0xFFFC) | ext); return; }
        if (target > Descriptor.Limit(cd)) { GP(0); return; }
        uint flags = Eflags;
        bool v86 = V86;
        if (!Descriptor.Conforming(cd) && dpl < _cpl)
        {
            if (v86 && dpl != 0) { GP((csSel & 0xFFFC) | ext); return; }
            if (!ReadTssStack(dpl, out ushort newSs, out uint newSp)) return;
            if (!CheckStackSegment(newSs, dpl, out ulong sd, out uint saddr, Vector.TS)) return;
            ushort oldSs = S[SS].Selector;
            uint oldSp = R[4];
            Segment savedSs = S[SS];
            LoadCache(SS, newSs, sd);
            _stack32 = S[SS].Big;
            _user = dpl == 3;
            uint sp = newSp;
            if (v86)
            {
                StackPush(ref sp, S[GS].Selector, size);
                StackPush(ref sp, S[FS].Selector, size);
                StackPush(ref sp, S[DS].Selector, size);
                StackPush(ref sp, S[ES].Selector, size);
            }
            StackPush(ref sp, oldSs, size);
            StackPush(ref sp, oldSp, size);
            StackPush(ref sp, flags, size);
            StackPush(ref sp, S[CS].Selector, size);
            StackPush(ref sp, _eip, size);
            if (hasError) StackPush(ref sp, (uint)error, size);
            if (_faulted) { S[SS] = savedSs; UpdateModeCaches(); return; }
            SetAccessed(saddr, sd);
            if (v86)
            {
                _flags &= ~Flags.VM;
                for (int s = 0; s < 6; s++)
                    if (s != CS && s != SS) { S[s].Selector = 0; S[s].Attributes = 0; S[s].Refresh(true); }
            }
            R[4] = _stack32 ? sp : (newSp & 0xFFFF0000) | (sp & 0xFFFF);
            LoadCodeSegment(csSel, cd, dpl);
        }
        else
        {
            if (v86) { GP((csSel & 0xFFFC) | ext); return; }
            uint sp = R[4];
            StackPush(ref sp, flags, size);
            StackPush(ref sp, S[CS].Selector, size);
            StackPush(ref sp, _eip, size);
            if (hasError) StackPush(ref sp, (uint)error, size);
            if (_faulted) return;
            SetSp(sp);
            SetAccessed(caddr, cd);
            LoadCodeSegment(csSel, cd, _cpl);
        }
        _eip = target;
        uint clear = Flags.TF | Flags.NT | Flags.RF | Flags.VM;
        if ((type & 1) == 0) clear |= Flags.IF;
        _flags &= ~clear;
        UpdateModeCaches();
        _halted = false;
    }

    void DeliverReal(int vector)
    {
        if (vector * 4 + 3 > _idtrLimit) { GP(0); return; }
        uint entry = ReadLin32(_idtrBase + (uint)vector * 4, false);
        if (_faulted) return;
        uint sp = R[4];
        StackPush(ref sp, Eflags & 0xFFFF, 2);
        StackPush(ref sp, S[CS].Selector, 2);
        StackPush(ref sp, _eip, 2);
        if (_faulted) return;
        SetSp(sp);
        _flags &= ~(Flags.IF | Flags.TF | Flags.AC | Flags.RF);
        LoadCodeSegmentReal((ushort)(entry >> 16));
        _eip = entry & 0xFFFF;
        _halted = false;
    }

    /// <summary>Reads SS:ESP for privilege level <paramref name="dpl"/> from the current TSS.</summary>
    bool ReadTssStack(int dpl, out ushort ss, out uint sp)
    {
        ss = 0; sp = 0;
        bool tss32 = (_tr.Attributes & 8) != 0;
        uint off = tss32 ? (uint)(4 + dpl * 8) : (uint)(2 + dpl * 4);
        uint need = tss32 ? off + 5 : off + 3;
        if (need > _tr.Limit) { RaiseFault(Vector.TS, _tr.Selector & 0xFFFC); return false; }
        if (tss32) { sp = ReadSys32(_tr.Base + off); ss = ReadSys16(_tr.Base + off + 4); }
        else { sp = ReadSys16(_tr.Base + off); ss = ReadSys16(_tr.Base + off + 2); }
        return !_faulted;
    }

    void Iret(bool d)
    {
        int size = d ? 4 : 2;
        if (!ProtectedMode || V86)
        {
            if (V86 && Iopl < 3) { GP(0); return; }
            uint sp = R[4];
            uint ip = StackPop(ref sp, size);
            ushort cs = (ushort)StackPop(ref sp, size);
            uint fl = StackPop(ref sp, size);
            if (_faulted) return;
            SetSp(sp);
            LoadCodeSegmentReal(cs);
            _eip = d ? ip : ip & 0xFFFF;
            uint mask = d ? 0x257FD5u : 0x7FD5u;
            if (V86) mask &= ~Flags.IOPL;
            WriteEflags(fl, mask);
            _inNmi = false;
            return;
        }
        if ((_flags & Flags.NT) != 0)
        {
            TaskReturn();
            _inNmi = false;
            return;
        }
        uint sp2 = R[4];
        uint eip = StackPop(ref sp2, size);
        ushort sel = (ushort)StackPop(ref sp2, size);
        uint eflags = StackPop(ref sp2, size);
        if (_faulted) return;
        if (d && (eflags & Flags.VM) != 0 && _cpl == 0) { IretToV86(sp2, eip, sel, eflags); return; }
        if (!CheckFarTarget(sel, out ulong cdesc, out uint caddr)) return;
        int rpl = sel & 3, dpl = Descriptor.Dpl(cdesc);
        if (!Descriptor.IsCode(cdesc) || rpl < _cpl || (Descriptor.Conforming(cdesc) ? dpl > rpl : dpl != rpl)) { GP(sel & 0xFFFC); return; }
        if (!Descriptor.Present(cdesc)) { RaiseFault(Vector.NP, sel & 0xFFFC); return; }
        if (eip > Descriptor.Limit(cdesc)) { GP(0); return; }
        uint fmask = Flags.CF | Flags.PF | Flags.AF | Flags.ZF | Flags.SF | Flags.TF | Flags.DF | Flags.OF | Flags.NT;
        if (d) fmask |= Flags.RF | Flags.AC | Flags.ID;
        if (_cpl == 0) fmask |= Flags.IOPL;
        if (_cpl <= Iopl) fmask |= Flags.IF;
        int oldCpl = _cpl;
        if (rpl == _cpl)
        {
            SetSp(sp2);
            LoadCodeSegment(sel, cdesc, rpl);
        }
        else
        {
            uint newSp = StackPop(ref sp2, size);
            ushort newSs = (ushort)StackPop(ref sp2, size);
            if (_faulted) return;
            if (!CheckStackSegment(newSs, rpl, out ulong sd, out uint saddr, Vector.GP)) return;
            SetAccessed(saddr, sd);
            LoadCodeSegment(sel, cdesc, rpl);
            LoadCache(SS, newSs, sd);
            UpdateModeCaches();
            if (_stack32) R[4] = newSp; else R[4] = (R[4] & 0xFFFF0000) | (newSp & 0xFFFF);
        }
        SetAccessed(caddr, cdesc);
        _eip = eip;
        int saved = _cpl;
        _cpl = oldCpl;   // flag write permissions use the CPL before the return
        WriteEflags(eflags, fmask);
        _cpl = saved;
        if (rpl != oldCpl) InvalidateSegmentsForCpl();
        _inNmi = false;
    }

    void IretToV86(uint sp, uint eip, ushort cs, uint eflags)
    {
        uint esp = StackPop(ref sp, 4);
        uint ss = StackPop(ref sp, 4);
        uint es = StackPop(ref sp, 4);
        uint ds = StackPop(ref sp, 4);
        uint fs = StackPop(ref sp, 4);
        uint gs = StackPop(ref sp, 4);
        if (_faulted) return;
        WriteEflags(eflags, 0x3F7FD5);
        _cpl = 3;
        S[ES].LoadReal((ushort)es, true);
        S[DS].LoadReal((ushort)ds, true);
        S[FS].LoadReal((ushort)fs, true);
        S[GS].LoadReal((ushort)gs, true);
        S[SS].LoadReal((ushort)ss, true);
        S[CS].LoadReal(cs, true);
        R[4] = esp;
        _eip = eip & 0xFFFF;
        UpdateModeCaches();
        _breakBlock = true;
        _inNmi = false;
    }

    void Cli()
    {
        if (ProtectedMode && _cpl > Iopl) { GP(0); return; }
        _flags &= ~Flags.IF;
    }

    void Sti()
    {
        if (ProtectedMode && _cpl > Iopl) { GP(0); return; }
        if ((_flags & Flags.IF) == 0)
        {
            _flags |= Flags.IF;
            _interruptShadow = true;
            _breakBlock = true;
        }
    }

    void Hlt()
    {
        if (ProtectedMode && _cpl != 0) { GP(0); return; }
        _halted = true;
        _breakBlock = true;
    }

    void Bound(ref Instruction i)
    {
        int size = RegSize(i.Op0Register);
        uint ea = EffAddr(i);
        int seg = MemSeg(i);
        int lower = SignExtend(ReadMem(seg, ea, size), size);
        int upper = SignExtend(ReadMem(seg, Addr16(i) ? (ea + (uint)size) & 0xFFFF : ea + (uint)size, size), size);
        if (_faulted) return;
        int v = SignExtend(GetReg(i.Op0Register), size);
        if (v < lower || v > upper) RaiseFault(Vector.BR);
    }
}
