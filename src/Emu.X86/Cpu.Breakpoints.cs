namespace Emu.X86;

// Hardware breakpoints from DR0-DR3/DR7: instruction breakpoints are faults checked before an
// instruction starts, data breakpoints are traps reported after the accessing instruction.
public sealed partial class Cpu
{
    bool _debugActive;       // some breakpoint is enabled: run one instruction at a time
    bool _dataBreakpoints;   // some data breakpoint is enabled: memory accesses are checked
    uint _pendingDataHits;   // DR6 B0-B3 bits hit by the current instruction

    void UpdateBreakpoints()
    {
        uint dr7 = _dr[7];
        _debugActive = false;
        _dataBreakpoints = false;
        for (int n = 0; n < 4; n++)
        {
            if (((dr7 >> (n * 2)) & 3) == 0) continue;
            _debugActive = true;
            if (((dr7 >> (16 + n * 4)) & 3) is 1 or 3) _dataBreakpoints = true;
        }
    }

    /// <summary>Checks execute breakpoints at the instruction about to run; true if a #DB fault was delivered.</summary>
    bool InstructionBreakpoint(uint lin)
    {
        if ((_flags & Flags.RF) != 0) return false;
        uint dr7 = _dr[7], hits = 0;
        for (int n = 0; n < 4; n++)
            if (((dr7 >> (n * 2)) & 3) != 0 && ((dr7 >> (16 + n * 4)) & 3) == 0 && _dr[n] == lin) hits |= 1u << n;
        if (hits == 0) return false;
        _dr[6] = (_dr[6] & ~0xFu) | hits;
        _eipStart = _eip;
        DeliverEvent(Vector.DB, -1, InterruptSource.Exception);
        return true;
    }

    /// <summary>Records data breakpoint hits of an access; reported as a trap after the instruction.</summary>
    void CheckDataBreakpoints(uint lin, int size, bool write)
    {
        uint dr7 = _dr[7];
        for (int n = 0; n < 4; n++)
        {
            if (((dr7 >> (n * 2)) & 3) == 0) continue;
            uint rw = (dr7 >> (16 + n * 4)) & 3;
            if (rw == 0 || rw == 2 || (rw == 1 && !write)) continue;
            uint len = ((dr7 >> (18 + n * 4)) & 3) switch { 0 => 1u, 1 => 2u, 3 => 4u, _ => 8u };
            uint start = _dr[n] & ~(len - 1);
            if (lin < start + len && start < lin + (uint)size) _pendingDataHits |= 1u << n;
        }
    }
}
