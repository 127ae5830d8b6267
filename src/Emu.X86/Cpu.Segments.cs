namespace Emu.X86;

// Segment register loads with protected-mode descriptor checks.
public sealed partial class Cpu
{
    uint _gdtrBase, _idtrBase;
    ushort _gdtrLimit, _idtrLimit;
    Segment _ldtr, _tr;

    /// <summary>Reads the descriptor a selector refers to; false (no fault raised) if outside its table.</summary>
    bool ReadDescriptor(ushort sel, out ulong desc, out uint addr)
    {
        uint tableBase, tableLimit;
        if ((sel & 4) != 0)
        {
            if (_ldtr.Selector == 0 || !_ldtr.Present) { desc = 0; addr = 0; return false; }
            tableBase = _ldtr.Base; tableLimit = _ldtr.Limit;
        }
        else { tableBase = _gdtrBase; tableLimit = _gdtrLimit; }
        uint index = (uint)(sel & ~7);
        if (index + 7 > tableLimit) { desc = 0; addr = 0; return false; }
        addr = tableBase + index;
        uint lo = ReadSys32(addr), hi = ReadSys32(addr + 4);
        desc = lo | (ulong)hi << 32;
        return !_faulted;
    }

    /// <summary>Sets the accessed bit of a code/data descriptor in memory.</summary>
    void SetAccessed(uint addr, ulong desc)
    {
        if ((desc & (1UL << 40)) == 0) WriteSys8(addr + 5, (byte)((desc >> 40) | 1));
    }

    void LoadCache(int seg, ushort sel, ulong desc)
    {
        ref Segment s = ref S[seg];
        s.Selector = sel;
        s.Base = Descriptor.Base(desc);
        s.Limit = Descriptor.Limit(desc);
        s.Attributes = (ushort)(Descriptor.Attributes(desc) | 1);
        s.Refresh(true);
    }

    /// <summary>Loads a data or stack segment register (not CS); false if a fault was raised.</summary>
    bool LoadSegment(int seg, ushort sel)
    {
        if (!ProtectedMode || V86)
        {
            S[seg].LoadReal(sel, V86);
            if (seg == SS) UpdateModeCaches();
            return true;
        }
        if ((sel & ~3) == 0)
        {
            if (seg == SS) { GP(0); return false; }
            S[seg].Selector = sel;
            S[seg].Attributes = 0;
            S[seg].Refresh(true);
            return true;
        }
        if (!ReadDescriptor(sel, out ulong d, out uint addr))
        {
            if (!_faulted) GP(sel & 0xFFFC);
            return false;
        }
        int rpl = sel & 3, dpl = Descriptor.Dpl(d);
        if (seg == SS)
        {
            if (rpl != _cpl || dpl != _cpl || !Descriptor.IsData(d) || !Descriptor.RwBit(d)) { GP(sel & 0xFFFC); return false; }
            if (!Descriptor.Present(d)) { RaiseFault(Vector.SS, sel & 0xFFFC); return false; }
        }
        else
        {
            bool ok = Descriptor.IsData(d) || (Descriptor.IsCode(d) && Descriptor.RwBit(d));
            if (ok && !(Descriptor.IsCode(d) && Descriptor.Conforming(d)) && dpl < Math.Max(_cpl, rpl)) ok = false;
            if (!ok) { GP(sel & 0xFFFC); return false; }
            if (!Descriptor.Present(d)) { RaiseFault(Vector.NP, sel & 0xFFFC); return false; }
        }
        SetAccessed(addr, d);
        if (_faulted) return false;
        LoadCache(seg, sel, d);
        if (seg == SS) UpdateModeCaches();
        return true;
    }

    /// <summary>Loads CS for a transfer that has already been checked, and sets the CPL.</summary>
    void LoadCodeSegment(ushort sel, ulong desc, int cpl)
    {
        LoadCache(CS, (ushort)((sel & ~3) | cpl), desc);
        _cpl = cpl;
        UpdateModeCaches();
        _breakBlock = true;
    }

    /// <summary>CS load for real mode and v8086 mode far transfers.</summary>
    void LoadCodeSegmentReal(ushort sel)
    {
        S[CS].LoadReal(sel, V86);
        _cpl = V86 ? 3 : 0;
        UpdateModeCaches();
        _breakBlock = true;
    }

    /// <summary>After a privilege drop, data segments the new CPL may not use become null.</summary>
    void InvalidateSegmentsForCpl()
    {
        for (int seg = 0; seg < 6; seg++)
        {
            if (seg == CS || seg == SS) continue;
            ref Segment s = ref S[seg];
            bool conformingCode = (s.Attributes & 0x1C) == 0x1C;
            if ((s.Selector & ~3) != 0 && !conformingCode && s.Dpl < _cpl)
            {
                s.Selector = 0; s.Attributes = 0; s.Refresh(true);
            }
        }
    }
}
