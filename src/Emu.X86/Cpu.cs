using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Emu.X86;

/// <summary>An interpreting i386..Pentium Pro class CPU core decoding with Iced.</summary>
public sealed partial class Cpu
{
    internal const int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;

    readonly PhysicalMemory _mem;
    readonly IIoPorts _io;
    readonly IInterruptController? _pic;

    // General registers in encoding order EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI.
    internal Registers R;
    internal readonly Segment[] S = new Segment[6];

    uint _eip;
    uint _eipStart;      // start of the executing instruction: faults restart here
    uint _ipMask;        // 0xFFFF for 16-bit code segments
    bool _code32;        // CS.D
    bool _stack32;       // SS.B
    int _cpl;
    bool _user;          // CPL == 3: paging checks user permissions

    bool _halted;
    bool _breakBlock;    // leave the current decoded block after this instruction
    bool _interruptShadow;
    // Written by other threads (monitor, device threads) through Stop() and RaiseNmi().
    volatile bool _nmiPending;
    volatile bool _stopRequested;
    bool _inNmi;
    bool _shutdown;
    ulong _instructions;
    ulong _runLimit;     // _instructions value at which the current Run ends (REP slices stop there too)

    /// <summary>Creates a CPU over the given memory, port space and optional interrupt controller, then resets it.</summary>
    public Cpu(PhysicalMemory memory, IIoPorts io, IInterruptController? interruptController = null)
    {
        _mem = memory;
        _io = io;
        _pic = interruptController;
        _mem.RoutingChanged += () => FlushTlb(true);
        _fpu = new X87();
        // This CPU has no BMI1/LZCNT: F3 0F BC/BD are BSF/BSR with an ignored prefix (Linux relies on it).
        const DecoderOptions options = DecoderOptions.NoMPFX_0FBC | DecoderOptions.NoMPFX_0FBD;
        _decoder16 = Decoder.Create(16, _pageReader, 0, options);
        _decoder32 = Decoder.Create(32, _pageReader, 0, options);
        _crossDecoder16 = Decoder.Create(16, _crossReader, 0, options);
        _crossDecoder32 = Decoder.Create(32, _crossReader, 0, options);
        Reset();
    }

    /// <summary>Supplies the time stamp counter for RDTSC; defaults to the retired instruction count.</summary>
    public Func<ulong>? TimeStampSource { get; set; }

    /// <summary>Raised on a triple fault (shutdown); the machine decides whether to reset.</summary>
    public event Action? ShutdownRequested;

    /// <summary>True once the CPU executed HLT and no interrupt has woken it yet.</summary>
    public bool Halted => _halted;

    /// <summary>True after a triple fault until the next <see cref="Reset"/>.</summary>
    public bool InShutdown => _shutdown;

    /// <summary>Instructions retired since construction, each REP iteration counting as one
    /// (also exact inside device callbacks during <see cref="Run"/>).</summary>
    public ulong InstructionCount => _instructions;

    /// <summary>Current privilege level.</summary>
    public int Cpl => _cpl;

    /// <summary>Puts the CPU in its power-on state: real mode at F000:FFF0 with CS base FFFF0000.</summary>
    public void Reset()
    {
        R = default;
        R[2] = 0x0000_0619; // EDX holds the CPUID signature after reset
        _flags = Flags.Reserved1;
        _lop = LazyOp.None;
        _cr0 = 0x6000_0010;
        _cr2 = _cr3 = _cr4 = 0;
        Array.Clear(_dr);
        _dr[6] = 0xFFFF0FF0;
        _dr[7] = 0x400;
        UpdateBreakpoints();
        _pendingDataHits = 0;
        for (int i = 0; i < 6; i++)
        {
            S[i] = new Segment { Selector = 0, Base = 0, Limit = 0xFFFF, Attributes = 0x93 };
            S[i].Refresh(false);
        }
        S[CS].Selector = 0xF000;
        S[CS].Base = 0xFFFF0000;
        S[CS].Attributes = 0x9B;
        S[CS].Refresh(false);
        _gdtrBase = _idtrBase = 0;
        _gdtrLimit = _idtrLimit = 0xFFFF;
        _ldtr = new Segment { Attributes = 0x82, Limit = 0xFFFF };
        _tr = new Segment { Attributes = 0x8B, Limit = 0xFFFF };
        _eip = 0xFFF0;
        _cpl = 0;
        _halted = false;
        _interruptShadow = false;
        _nmiPending = _inNmi = false;
        _shutdown = false;
        _faulted = false;
        _tsc = 0;
        _msrApicBase = 0xFEE0_0900;
        _sysenterCs = _sysenterEsp = _sysenterEip = 0;
        _fpu.Init();
        _a20Mask = 0xFFFFFFFF;
        UpdateModeCaches();
        FlushTlb(true);
        FlushDecodeCache();
    }

    /// <summary>Asks <see cref="Run"/> to return after the current instruction (callable from any thread).</summary>
    public void Stop()
    {
        _stopRequested = true;
        _breakBlock = true;
    }

    /// <summary>Latches a non-maskable interrupt, delivered at the next instruction boundary (callable from any thread).</summary>
    public void RaiseNmi() => _nmiPending = true;

    const int MaxChain = 32;

    /// <summary>Executes up to <paramref name="instructionBudget"/> instructions (REP iterations count individually); returns how many retired.</summary>
    /// <remarks>Returns early on HLT with no interrupt pending, on <see cref="Stop"/>, and on shutdown.</remarks>
    public int Run(int instructionBudget)
    {
        _stopRequested = false;
        _breakBlock = false;
        // The retired-instruction counter is live so RDTSC and device callbacks see the current time.
        ulong start = _instructions, limit = start + (ulong)Math.Max(0, instructionBudget);
        _runLimit = limit;
        while (_instructions < limit && !_stopRequested && !_shutdown)
        {
            // After STI / MOV SS / POP SS exactly one more instruction runs before interrupts are recognized.
            bool shadow = _interruptShadow;
            if (shadow)
                _interruptShadow = false;
            else if (_nmiPending && !_inNmi)
            {
                _nmiPending = false;
                _inNmi = true;
                _halted = false;
                DeliverEvent(Vector.NMI, -1, InterruptSource.External);
                continue;
            }
            else if ((_flags & Flags.IF) != 0 && _pic != null && _pic.HasInterrupt)
            {
                _halted = false;
                DeliverEvent(_pic.Acknowledge() & 0xFF, -1, InterruptSource.External);
                continue;
            }
            if (_halted) break;

            bool singleStep = (_flags & Flags.TF) != 0;
            bool oneInstruction = singleStep || shadow || _debugActive;
            if (_eip > S[CS].Max)
            {
                _eipStart = _eip;
                GP(0);
                HandleFault();
                continue;
            }
            uint lin = S[CS].Base + _eip;
            if (_debugActive && InstructionBreakpoint(lin)) continue;
            uint phys = TranslateFetch(lin);
            if (_faulted)
            {
                // The fault belongs to the instruction about to start, not to the last one executed.
                _eipStart = _eip;
                HandleFault();
                continue;
            }
            CodePage page = GetCodePage(phys);
            int entry = page.Start[phys & 0xFFF];
            int idx = entry == CodePage.Crossing ? -2 : entry - 1;
            if (idx < 0)
            {
                idx = idx == -1 ? DecodeBlock(page, phys) : -2;
                if (idx < 0)
                {
                    ExecuteUncached(lin);
                    _instructions++;
                    _breakBlock = false;
                    if (_faulted) { _pendingDataHits = 0; HandleFault(); }
                    else EndOfInstructionTraps(singleStep);
                    continue;
                }
            }
            if (oneInstruction)
            {
                Step(ref page.Forms[idx], ref page.Code[idx]);
                _instructions++;
                _breakBlock = false;
                if (_faulted) { _pendingDataHits = 0; HandleFault(); }
                else EndOfInstructionTraps(singleStep);
                continue;
            }
            RunBlocks(page, idx, lin, limit);
        }
        return (int)(_instructions - start);
    }

    /// <summary>Runs decoded instructions from <paramref name="idx"/> of <paramref name="page"/> (fetched at linear
    /// <paramref name="lin"/>) and the blocks they lead to, until something needs the outer loop.</summary>
    /// <remarks>Kept apart from <see cref="Run"/> so this loop's state stays in registers (inlined into Run, its
    /// locals were spilled and reloaded around every instruction).</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    void RunBlocks(CodePage page, int idx, uint lin, ulong limit)
    {
        Instruction[] code = page.Code;
        OpForm[] forms = page.Forms;
        int chained = 0, threshold = _compileThreshold;
        while (true)
        {
            // A block entry: run the page's host code when it covers this block, else interpret the block (and count
            // the entry towards compiling the page).
            PageCode? compiled = threshold != 0 ? page.Compiled : null;
            bool linkable = false;
            if (compiled != null && (uint)idx < (uint)compiled.Entries.Length && compiled.Entries[idx]
                && limit - _instructions >= (ulong)compiled.Counts[idx])
            {
                compiled.Run!(this, idx);
                CompiledRuns++;
                if (_breakBlock) { LeaveBlock(); return; }
            }
            else
            {
                if (threshold != 0 && ++page.Hits[idx] == threshold) RequestCompile(page, idx);
                while (true)
                {
                    ref OpForm fi = ref forms[idx];
                    Step(ref fi, ref code[idx]);
                    _instructions++;
                    if (_breakBlock) { LeaveBlock(); return; }
                    if (_instructions >= limit) return;
                    if (fi.End) break;
                    idx++;
                }
                linkable = forms[idx].Linkable;
            }
            if (_instructions >= limit) return;
            // Block end: follow a branch or fall-through to an already decoded block without a full lookup
            // (another page only through a TLB hit), returning to the outer loop regularly so interrupts
            // are polled.
            if (++chained >= MaxChain) return;
            uint next = S[CS].Base + _eip, offset = next & 0xFFF;
            bool samePage = ((next ^ lin) & ~0xFFFu) == 0;
            if (!samePage)
            {
                if (_eip > S[CS].Max || !TryTranslateFetch(next, out uint nextPhys)) return;
                page = GetCodePage(nextPhys);
                code = page.Code;
                forms = page.Forms;
                lin = next;
            }
            else if (linkable && forms[idx].Disp >> 16 == offset)
            {
                // Linked: where this block went last time, in the same page.
                idx = (int)(forms[idx].Disp & 0xFFFF);
                continue;
            }
            int n = page.Start[offset] - 1;
            if ((uint)n >= (uint)page.Count) return;
            if (samePage && linkable) forms[idx].Disp = offset << 16 | (uint)n;
            idx = n;
        }
    }

    /// <summary>An instruction asked to leave the decoded block: deliver its fault, or its debug traps.</summary>
    void LeaveBlock()
    {
        _breakBlock = false;
        if (_faulted) { _pendingDataHits = 0; HandleFault(); return; }
        EndOfInstructionTraps(false);
    }

    /// <summary>Debug traps after a completed instruction: single step (TF) and data breakpoints, as one #DB.</summary>
    void EndOfInstructionTraps(bool singleStep)
    {
        bool trap = false;
        if (_debugActive)
        {
            _flags &= ~Flags.RF;
            if (_pendingDataHits != 0)
            {
                _dr[6] = (_dr[6] & ~0xFu) | _pendingDataHits;
                _pendingDataHits = 0;
                trap = true;
            }
        }
        if (singleStep)
        {
            _dr[6] |= 0x4000;
            trap = true;
        }
        if (trap) DeliverEvent(Vector.DB, -1, InterruptSource.Exception);
    }

    /// <summary>Recomputes cached mode bits after CS, SS, CR0 or EFLAGS.VM changed.</summary>
    void UpdateModeCaches()
    {
        _code32 = S[CS].Big && !V86;
        _ipMask = _code32 ? 0xFFFFFFFF : 0xFFFF;
        _stack32 = S[SS].Big && !V86;
        _user = _cpl == 3;
        _paging = (_cr0 & Cr0PG) != 0 && (_cr0 & Cr0PE) != 0;
    }

    void OnFlagsChanged(uint old)
    {
        // IF or TF changes must be noticed at the next block boundary.
        _breakBlock = true;
        if (((old ^ _flags) & Flags.VM) != 0) UpdateModeCaches();
    }

    /// <summary>Protected mode enabled (CR0.PE).</summary>
    public bool ProtectedMode => (_cr0 & Cr0PE) != 0;

    /// <summary>Virtual-8086 mode (EFLAGS.VM in protected mode).</summary>
    public bool V86 => (_flags & Flags.VM) != 0 && (_cr0 & Cr0PE) != 0;

    /// <summary>Instruction pointer (offset in CS).</summary>
    public uint Eip
    {
        get => _eip;
        set { _eip = value; _breakBlock = true; }
    }

    /// <summary>General registers by name.</summary>
    public uint Eax { get => R[0]; set => R[0] = value; }
    public uint Ecx { get => R[1]; set => R[1] = value; }
    public uint Edx { get => R[2]; set => R[2] = value; }
    public uint Ebx { get => R[3]; set => R[3] = value; }
    public uint Esp { get => R[4]; set => R[4] = value; }
    public uint Ebp { get => R[5]; set => R[5] = value; }
    public uint Esi { get => R[6]; set => R[6] = value; }
    public uint Edi { get => R[7]; set => R[7] = value; }

    /// <summary>A general register by encoding number (0 = EAX .. 7 = EDI).</summary>
    public uint GetRegister(int index) => R[index];

    /// <summary>Sets a general register by encoding number (0 = EAX .. 7 = EDI).</summary>
    public void SetRegister(int index, uint value) => R[index] = value;

    /// <summary>A segment register with its descriptor cache.</summary>
    public Segment GetSegment(SegReg seg) => S[(int)seg];

    /// <summary>Loads a segment register the real-mode way (base = selector * 16), for firmware setup and tests.</summary>
    public void SetSegmentReal(SegReg seg, ushort selector)
    {
        S[(int)seg].LoadReal(selector, false);
        UpdateModeCaches();
        _breakBlock = true;
    }
}
