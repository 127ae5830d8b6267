namespace Emu.X86;

// Whole-state capture and restore for savevm/loadvm.
public sealed partial class Cpu
{
    /// <summary>Captures the architectural state (call between <see cref="Run"/> calls).</summary>
    public CpuState SaveState()
    {
        var s = new CpuState
        {
            Eip = _eip,
            Eflags = Eflags,
            Ldtr = _ldtr,
            Tr = _tr,
            GdtrBase = _gdtrBase,
            IdtrBase = _idtrBase,
            GdtrLimit = _gdtrLimit,
            IdtrLimit = _idtrLimit,
            Cr0 = _cr0,
            Cr2 = _cr2,
            Cr3 = _cr3,
            Cr4 = _cr4,
            TscOffset = _tsc,
            ApicBase = _msrApicBase,
            SysenterCs = _sysenterCs,
            SysenterEsp = _sysenterEsp,
            SysenterEip = _sysenterEip,
            Cpl = _cpl,
            Halted = _halted,
            InterruptShadow = _interruptShadow,
            NmiPending = _nmiPending,
            InNmi = _inNmi,
            A20Enabled = A20Enabled,
            FpuControl = _fpu.Control,
            FpuStatus = _fpu.Status,
            FpuLastCs = _fpu.LastCs,
            FpuLastDs = _fpu.LastDs,
            FpuLastOpcode = _fpu.LastOpcode,
            FpuEmpty = _fpu.Empty,
            FpuTop = _fpu.Top,
            FpuLastIp = _fpu.LastIp,
            FpuLastDp = _fpu.LastDp,
        };
        ((ReadOnlySpan<uint>)R).CopyTo(s.Registers);
        S.CopyTo(s.Segments, 0);
        _dr.CopyTo(s.Dr, 0);
        _fpu.R.CopyTo(s.FpuRegisters, 0);
        return s;
    }

    /// <summary>Restores a state captured by <see cref="SaveState"/>; caches (TLB, decoded code) are flushed.</summary>
    public void LoadState(CpuState s)
    {
        s.Registers.AsSpan(0, 8).CopyTo(R);
        _eip = s.Eip;
        _cr0 = s.Cr0; _cr2 = s.Cr2; _cr3 = s.Cr3; _cr4 = s.Cr4;
        _lop = LazyOp.None;
        _flags = (s.Eflags & 0x3F7FD5) | Flags.Reserved1;
        bool pm = (_cr0 & Cr0PE) != 0;
        for (int i = 0; i < 6; i++)
        {
            S[i] = s.Segments[i];
            // Real-mode and v8086 caches are always accessible; protected-mode ones derive rights from attributes.
            S[i].Refresh(pm && (_flags & Flags.VM) == 0);
        }
        _ldtr = s.Ldtr; _tr = s.Tr;
        _gdtrBase = s.GdtrBase; _idtrBase = s.IdtrBase; _gdtrLimit = s.GdtrLimit; _idtrLimit = s.IdtrLimit;
        s.Dr.CopyTo(_dr, 0);
        UpdateBreakpoints();
        _tsc = s.TscOffset; _msrApicBase = s.ApicBase;
        _sysenterCs = s.SysenterCs; _sysenterEsp = s.SysenterEsp; _sysenterEip = s.SysenterEip;
        _cpl = s.Cpl;
        _halted = s.Halted; _interruptShadow = s.InterruptShadow; _nmiPending = s.NmiPending; _inNmi = s.InNmi;
        _shutdown = false;
        _faulted = false;
        _a20Mask = s.A20Enabled ? 0xFFFFFFFF : 0xFFEFFFFF;
        s.FpuRegisters.CopyTo(_fpu.R, 0);
        _fpu.Control = s.FpuControl; _fpu.Status = s.FpuStatus; _fpu.LastCs = s.FpuLastCs; _fpu.LastDs = s.FpuLastDs;
        _fpu.LastOpcode = s.FpuLastOpcode; _fpu.Empty = s.FpuEmpty; _fpu.Top = s.FpuTop;
        _fpu.LastIp = s.FpuLastIp; _fpu.LastDp = s.FpuLastDp;
        UpdateModeCaches();
        FlushTlb(true);
        FlushDecodeCache();
    }
}
