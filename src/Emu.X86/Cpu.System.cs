using Iced.Intel;

namespace Emu.X86;

// Control, debug and model-specific registers, descriptor-table registers, CPUID, RDTSC and
// the protected-mode-only selector instructions (LAR, LSL, VERR, VERW, ARPL).
public sealed partial class Cpu
{
    const uint Cr0PE = 1, Cr0MP = 2, Cr0EM = 4, Cr0TS = 8, Cr0ET = 0x10, Cr0NE = 0x20, Cr0WP = 0x10000,
        Cr0AM = 0x40000, Cr0NW = 0x20000000, Cr0CD = 0x40000000, Cr0PG = 0x80000000;
    const uint Cr4TSD = 4, Cr4DE = 8, Cr4PSE = 0x10, Cr4MCE = 0x40, Cr4PGE = 0x80, Cr4PCE = 0x100;
    const uint Cr4Supported = Cr4TSD | Cr4DE | Cr4PSE | Cr4MCE | Cr4PGE | Cr4PCE;

    uint _cr0, _cr2, _cr3, _cr4;
    readonly uint[] _dr = new uint[8];
    ulong _tsc;          // offset added to the time source, so WRMSR to the TSC works
    ulong _msrApicBase;
    uint _sysenterCs, _sysenterEsp, _sysenterEip;

    /// <summary>CR0 (writes take effect like MOV CR0, including TLB flushes; PG without PE is ignored).</summary>
    public uint Cr0
    {
        get => _cr0;
        set { if ((value & (Cr0PG | Cr0PE)) != Cr0PG) WriteCr0(value); }
    }
    /// <summary>CR2: the linear address of the last page fault.</summary>
    public uint Cr2 { get => _cr2; set => _cr2 = value; }
    /// <summary>CR3: page directory base (writes flush non-global TLB entries).</summary>
    public uint Cr3 { get => _cr3; set { _cr3 = value; FlushTlb(false); _breakBlock = true; } }
    /// <summary>CR4 (supported bits: TSD, DE, PSE, MCE, PGE, PCE).</summary>
    public uint Cr4 { get => _cr4; set { _cr4 = value & Cr4Supported; FlushTlb(true); _breakBlock = true; } }
    /// <summary>Debug register DR0..DR7.</summary>
    public uint GetDebugRegister(int n) => _dr[n];
    /// <summary>GDTR base address.</summary>
    public uint GdtrBase => _gdtrBase;
    /// <summary>GDTR limit.</summary>
    public ushort GdtrLimit => _gdtrLimit;
    /// <summary>IDTR base address (the IVT base in real mode).</summary>
    public uint IdtrBase => _idtrBase;
    /// <summary>IDTR limit.</summary>
    public ushort IdtrLimit => _idtrLimit;
    /// <summary>LDTR with its descriptor cache.</summary>
    public Segment Ldtr => _ldtr;
    /// <summary>Task register with its descriptor cache.</summary>
    public Segment Tr => _tr;

    bool CheckCpl0()
    {
        if (_cpl != 0) { GP(0); return false; }
        return true;
    }

    bool RequireProtected()
    {
        if (!ProtectedMode || V86) { UD(); return false; }
        return true;
    }

    void WriteCr0(uint v)
    {
        v |= Cr0ET;
        if ((v & Cr0PG) != 0 && (v & Cr0PE) == 0) { GP(0); return; }
        uint old = _cr0;
        _cr0 = v;
        if (((old ^ v) & Cr0PE) != 0)
        {
            bool pm = (v & Cr0PE) != 0;
            for (int s = 0; s < 6; s++)
            {
                // Caches keep their contents across the switch; only the access rights are re-derived.
                if (!pm) S[s].Refresh(false);
                else S[s].AllowReadWrite();
            }
            if (!pm) _cpl = 0;
        }
        if (((old ^ v) & (Cr0PG | Cr0WP | Cr0PE)) != 0) FlushTlb(true);
        UpdateModeCaches();
        _breakBlock = true;
    }

    void MovToCr(int n, uint v)
    {
        if (!CheckCpl0()) return;
        switch (n)
        {
            case 0: WriteCr0(v); break;
            case 2: _cr2 = v; break;
            case 3: _cr3 = v; FlushTlb(false); _breakBlock = true; break;
            case 4:
                if ((v & ~Cr4Supported) != 0) { GP(0); return; }
                _cr4 = v; FlushTlb(true); _breakBlock = true; break;
            default: UD(); break;
        }
    }

    void MovFromCr(Register dest, int n)
    {
        if (!CheckCpl0()) return;
        uint v;
        switch (n)
        {
            case 0: v = _cr0; break;
            case 2: v = _cr2; break;
            case 3: v = _cr3; break;
            case 4: v = _cr4; break;
            default: UD(); return;
        }
        SetReg(dest, v);
    }

    int DebugIndex(int n)
    {
        if (n is 4 or 5)
        {
            if ((_cr4 & Cr4DE) != 0) { UD(); return -1; }
            return n + 2;
        }
        if (n > 7) { UD(); return -1; }
        return n;
    }

    void MovToDr(int n, uint v)
    {
        if (!CheckCpl0()) return;
        int i = DebugIndex(n);
        if (i < 0) return;
        _dr[i] = i switch { 6 => v | 0xFFFF0FF0, 7 => (v & ~0x0000D800u) | 0x400, _ => v };
        UpdateBreakpoints();
        _breakBlock = true;
    }

    void MovFromDr(Register dest, int n)
    {
        if (!CheckCpl0()) return;
        int i = DebugIndex(n);
        if (i >= 0) SetReg(dest, _dr[i]);
    }

    void LoadTableRegister(ref Instruction i)
    {
        if (ProtectedMode && !CheckCpl0()) return;
        if (i.Op0Kind != OpKind.Memory) { UD(); return; }
        uint ea = EffAddr(i);
        int seg = MemSeg(i);
        ushort limit = ReadMem16(seg, ea);
        uint bas = ReadMem32(seg, Addr16(i) ? (ea + 2) & 0xFFFF : ea + 2);
        if (_faulted) return;
        if (!OperandSize32(i)) bas &= 0xFFFFFF;
        if (i.Mnemonic == Mnemonic.Lgdt) { _gdtrBase = bas; _gdtrLimit = limit; }
        else { _idtrBase = bas; _idtrLimit = limit; }
    }

    /// <summary>32-bit operand size of LGDT/LIDT/SGDT/SIDT (16-bit forms use a 24-bit base).</summary>
    static bool OperandSize32(in Instruction i) => i.Code is Code.Lgdt_m1632 or Code.Lidt_m1632 or Code.Sgdt_m1632 or Code.Sidt_m1632;

    void StoreTableRegister(ref Instruction i)
    {
        if (i.Op0Kind != OpKind.Memory) { UD(); return; }
        bool gdt = i.Mnemonic == Mnemonic.Sgdt;
        uint bas = gdt ? _gdtrBase : _idtrBase;
        ushort limit = gdt ? _gdtrLimit : _idtrLimit;
        uint ea = EffAddr(i);
        int seg = MemSeg(i);
        if (!ProbeMemWrite(seg, ea, 6)) return;
        WriteMem(seg, ea, 2, limit);
        WriteMem(seg, Addr16(i) ? (ea + 2) & 0xFFFF : ea + 2, 4, OperandSize32(i) ? bas : bas & 0xFFFFFF);
    }

    void Lldt(ref Instruction i)
    {
        if (!RequireProtected() || !CheckCpl0()) return;
        ushort sel = (ushort)ReadOp0(i, 2);
        if (_faulted) return;
        if ((sel & ~3) == 0) { _ldtr = new Segment { Selector = sel }; return; }
        if ((sel & 4) != 0) { GP(sel & 0xFFFC); return; }
        if (!ReadDescriptor(sel, out ulong d, out _)) { if (!_faulted) GP(sel & 0xFFFC); return; }
        if (!Descriptor.IsSystem(d) || Descriptor.Type(d) != 2) { GP(sel & 0xFFFC); return; }
        if (!Descriptor.Present(d)) { RaiseFault(Vector.NP, sel & 0xFFFC); return; }
        _ldtr = new Segment { Selector = sel, Base = Descriptor.Base(d), Limit = Descriptor.Limit(d), Attributes = Descriptor.Attributes(d) };
    }

    void Ltr(ref Instruction i)
    {
        if (!RequireProtected() || !CheckCpl0()) return;
        ushort sel = (ushort)ReadOp0(i, 2);
        if (_faulted) return;
        if ((sel & ~3) == 0 || (sel & 4) != 0) { GP(sel & 0xFFFC); return; }
        if (!ReadDescriptor(sel, out ulong d, out uint addr)) { if (!_faulted) GP(sel & 0xFFFC); return; }
        if (!Descriptor.IsSystem(d) || Descriptor.Type(d) is not (1 or 9)) { GP(sel & 0xFFFC); return; }
        if (!Descriptor.Present(d)) { RaiseFault(Vector.NP, sel & 0xFFFC); return; }
        WriteSys8(addr + 5, (byte)((d >> 40) | 2));
        if (_faulted) return;
        _tr = new Segment { Selector = sel, Base = Descriptor.Base(d), Limit = Descriptor.Limit(d), Attributes = (ushort)(Descriptor.Attributes(d) | 2) };
    }

    void StoreSystemSelector(ref Instruction i, ushort sel)
    {
        if (!RequireProtected()) return;
        WriteOp0(i, OpSize(i), sel);
    }

    void Lmsw(ref Instruction i)
    {
        if (ProtectedMode && !CheckCpl0()) return;
        uint v = ReadOp0(i, 2);
        if (_faulted) return;
        // LMSW can set PE but never clear it.
        WriteCr0((_cr0 & ~0xEu) | (v & 0xF) | (_cr0 & Cr0PE));
    }

    void Smsw(ref Instruction i)
    {
        int size = OpSize(i);
        WriteOp0(i, size, size == 4 ? _cr0 : _cr0 & 0xFFFF);
    }

    void Invlpg(ref Instruction i)
    {
        if (!CheckCpl0()) return;
        uint lin = S[MemSeg(i)].Base + EffAddr(i);
        InvalidateTlbPage(lin);
    }

    /// <summary>Shared selector validation of LAR, LSL, VERR and VERW; sets ZF and returns the descriptor.</summary>
    bool SelectorAccessible(ushort sel, out ulong d, Func<ulong, bool> typeOk)
    {
        d = 0;
        bool ok = (sel & ~3) != 0 && ReadDescriptor(sel, out d, out _);
        if (_faulted) return false;
        if (ok)
        {
            bool conformingCode = Descriptor.IsCode(d) && Descriptor.Conforming(d);
            int dpl = Descriptor.Dpl(d);
            ok = typeOk(d) && (conformingCode || (dpl >= _cpl && dpl >= (sel & 3)));
        }
        SetArithFlags(Flags.ZF, ok ? Flags.ZF : 0);
        return ok;
    }

    static readonly Func<ulong, bool> LarTypes = d => !Descriptor.IsSystem(d) || Descriptor.Type(d) is 1 or 2 or 3 or 4 or 5 or 9 or 11 or 12;
    static readonly Func<ulong, bool> LslTypes = d => !Descriptor.IsSystem(d) || Descriptor.Type(d) is 1 or 2 or 3 or 9 or 11;
    static readonly Func<ulong, bool> ReadableTypes = d => Descriptor.IsData(d) || (Descriptor.IsCode(d) && Descriptor.RwBit(d));
    static readonly Func<ulong, bool> WritableTypes = d => Descriptor.IsData(d) && Descriptor.RwBit(d);

    void Lar(ref Instruction i)
    {
        if (!RequireProtected()) return;
        ushort sel = (ushort)ReadOp1(i, 2);
        if (_faulted) return;
        if (SelectorAccessible(sel, out ulong d, LarTypes))
            SetReg(i.Op0Register, (uint)(d >> 32) & 0x00FFFF00);
    }

    void Lsl(ref Instruction i)
    {
        if (!RequireProtected()) return;
        ushort sel = (ushort)ReadOp1(i, 2);
        if (_faulted) return;
        if (SelectorAccessible(sel, out ulong d, LslTypes))
            SetReg(i.Op0Register, Descriptor.Limit(d));
    }

    void Verify(ref Instruction i, bool write)
    {
        if (!RequireProtected()) return;
        ushort sel = (ushort)ReadOp0(i, 2);
        if (_faulted) return;
        SelectorAccessible(sel, out _, write ? WritableTypes : ReadableTypes);
    }

    void Arpl(ref Instruction i)
    {
        if (!RequireProtected()) return;
        uint dest = ReadOp0Rmw(i, 2);
        if (_faulted) return;
        uint src = GetReg(i.Op1Register);
        if ((dest & 3) < (src & 3))
        {
            WriteOp0Rmw(i, 2, (dest & ~3u) | (src & 3));
            SetArithFlags(Flags.ZF, Flags.ZF);
        }
        else SetArithFlags(Flags.ZF, 0);
    }

    void Cpuid()
    {
        switch (R[0])
        {
            case 0:
                R[0] = 2;
                R[3] = 0x756E6547; // "Genu"
                R[2] = 0x49656E69; // "ineI"
                R[1] = 0x6C65746E; // "ntel"
                break;
            case 1:
                R[0] = 0x0000_0619;   // family 6, model 1, stepping 9 (Pentium Pro)
                R[3] = 0;
                R[1] = 0;
                // FPU, PSE, TSC, MSR, CX8, PGE, CMOV: exactly what this core implements.
                R[2] = (1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 8) | (1u << 13) | (1u << 15);
                break;
            default:
                R[0] = 0x0302_0101;  // leaf 2: one round, a few cache descriptors
                R[3] = 0; R[1] = 0; R[2] = 0x0604_0A42;
                break;
        }
    }

    ulong TimeStamp => (TimeStampSource != null ? TimeStampSource() : _instructions) + _tsc;

    void Rdtsc()
    {
        if ((_cr4 & Cr4TSD) != 0 && _cpl != 0 && ProtectedMode) { GP(0); return; }
        ulong t = TimeStamp;
        R[0] = (uint)t; R[2] = (uint)(t >> 32);
    }

    /// <summary>RDPMC: the two P6 performance counters exist but never count.</summary>
    void Rdpmc()
    {
        if ((_cr4 & Cr4PCE) == 0 && _cpl != 0 && ProtectedMode) { GP(0); return; }
        if (R[1] > 1) { GP(0); return; }
        R[0] = 0; R[2] = 0;
    }

    void Rdmsr()
    {
        if (!CheckCpl0()) return;
        ulong v;
        switch (R[1])
        {
            case 0x10: v = TimeStamp; break;
            case 0x1B: v = _msrApicBase; break;
            case 0x174: v = _sysenterCs; break;
            case 0x175: v = _sysenterEsp; break;
            case 0x176: v = _sysenterEip; break;
            // Identification MSRs that family-6 aware software reads unconditionally (platform id,
            // power-on configuration, microcode revision, MTRR capabilities: none).
            case 0x17: case 0x2A: case 0x8B: case 0xFE: v = 0; break;
            default: GP(0); return;
        }
        R[0] = (uint)v; R[2] = (uint)(v >> 32);
    }

    void Wrmsr()
    {
        if (!CheckCpl0()) return;
        ulong v = ((ulong)R[2] << 32) | R[0];
        switch (R[1])
        {
            case 0x10: _tsc = v - (TimeStamp - _tsc); break;
            case 0x1B: _msrApicBase = v; break;
            case 0x174: _sysenterCs = (uint)v; break;
            case 0x175: _sysenterEsp = (uint)v; break;
            case 0x176: _sysenterEip = (uint)v; break;
            // Microcode update trigger and revision reset: accepted and ignored.
            case 0x79: case 0x8B: break;
            default: GP(0); return;
        }
    }
}
