namespace Emu.X86;

/// <summary>Why a hardware task switch happens; decides busy bits, NT and the back link.</summary>
enum TaskSwitchReason { Jump, Call, Interrupt, Iret }

// Hardware task switching through TSS descriptors and task gates (16- and 32-bit TSS formats).
public sealed partial class Cpu
{
    void TaskReturn()
    {
        ushort back = ReadSys16(_tr.Base);
        if (_faulted) return;
        if ((back & 4) != 0 || !ReadDescriptor(back, out ulong d, out uint addr)) { if (!_faulted) RaiseFault(Vector.TS, back & 0xFFFC); return; }
        if (!Descriptor.IsSystem(d) || Descriptor.Type(d) is not (3 or 11)) { RaiseFault(Vector.TS, back & 0xFFFC); return; }
        if (!Descriptor.Present(d)) { RaiseFault(Vector.NP, back & 0xFFFC); return; }
        TaskSwitchTo(back, d, addr, TaskSwitchReason.Iret, -1);
    }

    void TaskSwitchTo(ushort sel, ulong desc, uint descAddr, TaskSwitchReason reason, int errorCode)
    {
        bool new32 = Descriptor.Type(desc) is 9 or 11;
        uint newBase = Descriptor.Base(desc), newLimit = Descriptor.Limit(desc);
        if (newLimit < (new32 ? 0x67u : 0x2Bu)) { RaiseFault(Vector.TS, sel & 0xFFFC); return; }

        // Read the whole incoming state first so a fault leaves the old task intact.
        Span<uint> regs = stackalloc uint[8];
        Span<ushort> segs = stackalloc ushort[6];
        uint eip, eflags, cr3 = _cr3;
        ushort ldt;
        if (new32)
        {
            cr3 = ReadSys32(newBase + 0x1C);
            eip = ReadSys32(newBase + 0x20);
            eflags = ReadSys32(newBase + 0x24);
            for (int r = 0; r < 8; r++) regs[r] = ReadSys32(newBase + 0x28 + (uint)r * 4);
            for (int s = 0; s < 6; s++) segs[s] = ReadSys16(newBase + 0x48 + (uint)s * 4);
            ldt = ReadSys16(newBase + 0x60);
        }
        else
        {
            eip = ReadSys16(newBase + 0x0E);
            eflags = ReadSys16(newBase + 0x10);
            for (int r = 0; r < 8; r++) regs[r] = ReadSys16(newBase + 0x12 + (uint)r * 2);
            for (int s = 0; s < 4; s++) segs[s] = ReadSys16(newBase + 0x22 + (uint)s * 2);
            ldt = ReadSys16(newBase + 0x2A);
        }
        if (_faulted) return;

        // Save the outgoing task.
        bool old32 = (_tr.Attributes & 0xF) is 9 or 11;
        uint oldFlags = Eflags;
        if (reason is TaskSwitchReason.Jump or TaskSwitchReason.Iret) oldFlags &= ~Flags.NT;
        uint ob = _tr.Base;
        if (old32)
        {
            WriteSys32(ob + 0x20, _eip);
            WriteSys32(ob + 0x24, oldFlags);
            for (int r = 0; r < 8; r++) WriteSys32(ob + 0x28 + (uint)r * 4, R[r]);
            for (int s = 0; s < 6; s++) WriteSys16(ob + 0x48 + (uint)s * 4, S[s].Selector);
        }
        else
        {
            WriteSys16(ob + 0x0E, (ushort)_eip);
            WriteSys16(ob + 0x10, (ushort)oldFlags);
            for (int r = 0; r < 8; r++) WriteSys16(ob + 0x12 + (uint)r * 2, (ushort)R[r]);
            for (int s = 0; s < 4; s++) WriteSys16(ob + 0x22 + (uint)s * 2, S[s].Selector);
        }
        if (_faulted) return;
        if (reason is TaskSwitchReason.Jump or TaskSwitchReason.Iret) SetTssBusy(_tr.Selector, false);
        if (reason is TaskSwitchReason.Call or TaskSwitchReason.Interrupt)
        {
            WriteSys16(newBase, _tr.Selector);
            eflags |= Flags.NT;
        }
        if (reason != TaskSwitchReason.Iret) SetTssBusy(sel, true);
        if (_faulted) return;

        _tr = new Segment { Selector = sel, Base = newBase, Limit = newLimit, Attributes = (ushort)(Descriptor.Attributes(desc) | 2) };
        _cr0 |= Cr0TS;
        if (new32 && (_cr0 & Cr0PG) != 0 && cr3 != _cr3) { _cr3 = cr3; FlushTlb(false); }
        for (int r = 0; r < 8; r++) R[r] = new32 ? regs[r] : (R[r] & 0xFFFF0000) | regs[r];
        _eip = eip;
        _lop = LazyOp.None;
        _flags = (eflags & 0x3F7FD5) | Flags.Reserved1;
        if (!new32) _flags &= 0xFFFF;
        _flags |= Flags.Reserved1;

        // Segment loads of the new task: faults are reported as #TS in the context of the new task.
        if (V86)
        {
            for (int s = 0; s < 6; s++) S[s].LoadReal(segs[s], true);
            _cpl = 3;
        }
        else
        {
            _cpl = segs[CS] & 3;
            if (!LoadTaskLdt(ldt)) return;
            if (!LoadTaskSegment(CS, segs[CS])) return;
            for (int s = 0; s < 6; s++)
                if (s != CS && !LoadTaskSegment(s, segs[s])) return;
        }
        UpdateModeCaches();
        _breakBlock = true;
        if (errorCode >= 0) PushValue((uint)errorCode, new32 ? 4 : 2);
    }

    void SetTssBusy(ushort sel, bool busy)
    {
        uint addr = _gdtrBase + (uint)(sel & ~7);
        byte type = ReadSys8(addr + 5);
        WriteSys8(addr + 5, (byte)(busy ? type | 2 : type & ~2));
    }

    bool LoadTaskLdt(ushort sel)
    {
        if ((sel & ~3) == 0) { _ldtr = new Segment { Selector = sel }; return true; }
        if ((sel & 4) != 0 || !ReadDescriptor(sel, out ulong d, out _) || !Descriptor.IsSystem(d) || Descriptor.Type(d) != 2)
        {
            if (!_faulted) RaiseFault(Vector.TS, sel & 0xFFFC);
            return false;
        }
        _ldtr = new Segment { Selector = sel, Base = Descriptor.Base(d), Limit = Descriptor.Limit(d), Attributes = Descriptor.Attributes(d) };
        return true;
    }

    bool LoadTaskSegment(int seg, ushort sel)
    {
        if ((sel & ~3) == 0)
        {
            if (seg is CS or SS) { RaiseFault(Vector.TS, 0); return false; }
            S[seg].Selector = sel; S[seg].Attributes = 0; S[seg].Refresh(true);
            return true;
        }
        if (!ReadDescriptor(sel, out ulong d, out uint addr)) { if (!_faulted) RaiseFault(Vector.TS, sel & 0xFFFC); return false; }
        bool ok = seg switch
        {
            CS => Descriptor.IsCode(d),
            SS => Descriptor.IsData(d) && Descriptor.RwBit(d) && Descriptor.Dpl(d) == _cpl,
            _ => Descriptor.IsData(d) || (Descriptor.IsCode(d) && Descriptor.RwBit(d)),
        };
        if (!ok) { RaiseFault(Vector.TS, sel & 0xFFFC); return false; }
        if (!Descriptor.Present(d)) { RaiseFault(seg == SS ? Vector.SS : Vector.NP, sel & 0xFFFC); return false; }
        SetAccessed(addr, d);
        LoadCache(seg, sel, d);
        return true;
    }
}
