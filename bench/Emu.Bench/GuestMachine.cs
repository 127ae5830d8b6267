using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Bench;

/// <summary>A bare 16 MiB PC for CPU benchmarks: boots to flat 32-bit protected mode with 4 KiB paging and runs one guest body to HLT.</summary>
/// <remarks>The body reports a result by writing a dword to port <see cref="ResultPort"/>; the host checks it against its own computation.</remarks>
public sealed class GuestMachine : IIoPorts, IPhysicalMemory
{
    /// <summary>Guest RAM size; paging identity-maps all of it except what <see cref="Map"/> changes.</summary>
    public const int RamSize = 16 << 20;
    /// <summary>Port the guest writes its 32-bit result to.</summary>
    public const ushort ResultPort = 0xF0;
    /// <summary>Linear (and physical) address of the guest body.</summary>
    public const uint BodyBase = 0x20000;

    const uint Gdt = 0x1000, BootBase = 0x7C00, PageDir = 0x10000, PageTables = 0x11000, StackTop = 0x90000;
    const ushort Code32 = 0x08, Data32 = 0x10;

    /// <summary>Guest physical memory.</summary>
    public byte[] Ram { get; } = new byte[RamSize];

    /// <summary>The CPU under test.</summary>
    public Cpu Cpu { get; }

    /// <summary>Last value the guest wrote to <see cref="ResultPort"/>.</summary>
    public uint Result { get; private set; }

    /// <summary>Builds the machine, its GDT, identity page tables and boot code, and loads <paramref name="body"/> (32-bit code ending in HLT).</summary>
    public GuestMachine(Action<Assembler> body)
    {
        Cpu = new Cpu(new PhysicalMemory(Ram, this), this);
        WriteQword(Gdt + 8, Descriptor(0x9A));
        WriteQword(Gdt + 16, Descriptor(0x92));
        WriteWord(0x7E00, 0x17);
        WriteDword(0x7E02, Gdt);
        for (uint page = 0; page < RamSize >> 12; page++)
            Map(page << 12, page << 12);
        for (uint t = 0; t < RamSize >> 22; t++)
            WriteDword(PageDir + t * 4, (PageTables + t * 4096) | 3);
        Load(BootBase, Assemble(16, BootBase, a =>
        {
            a.cli();
            a.lgdt(__fword_ptr[0x7E00]);
            a.mov(eax, cr0);
            a.or(eax, 1);
            a.mov(cr0, eax);
            a.db(0x66, 0xEA);               // jmp dword Code32:BodyBase
            a.dd(BodyBase);
            a.dw(Code32);
        }));
        Load(BodyBase, Assemble(32, BodyBase, a =>
        {
            a.mov(ax, Data32);
            a.mov(ds, ax); a.mov(es, ax); a.mov(ss, ax); a.mov(fs, ax); a.mov(gs, ax);
            a.mov(esp, StackTop);
            a.mov(eax, PageDir);
            a.mov(cr3, eax);
            a.mov(eax, cr0);
            a.or(eax, 0x80000000);
            a.mov(cr0, eax);
            body(a);
            a.hlt();
        }));
    }

    /// <summary>Maps the 4 KiB page at linear <paramref name="linear"/> to physical <paramref name="physical"/> (both below 16 MiB).</summary>
    public void Map(uint linear, uint physical) => WriteDword(PageTables + (linear >> 12) * 4, (physical & ~0xFFFu) | 3);

    /// <summary>Resets the CPU, boots and runs the body to HLT; returns the guest instructions retired.</summary>
    public ulong Run()
    {
        Cpu.Reset();
        Cpu.SetSegmentReal(SegReg.CS, 0);
        Cpu.Eip = BootBase;
        ulong start = Cpu.InstructionCount;
        while (!Cpu.Halted && !Cpu.InShutdown)
            Cpu.Run(10_000_000);
        if (Cpu.InShutdown) throw new InvalidOperationException("guest triple-faulted");
        return Cpu.InstructionCount - start;
    }

    /// <summary>Assembles code for <paramref name="bitness"/>-bit mode at address <paramref name="ip"/>.</summary>
    public static byte[] Assemble(int bitness, ulong ip, Action<Assembler> build)
    {
        var a = new Assembler(bitness);
        build(a);
        using var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), ip);
        return ms.ToArray();
    }

    /// <summary>Copies bytes into guest RAM and drops any decoded code there.</summary>
    public void Load(uint address, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Ram.AsSpan((int)address));
        Cpu.InvalidateCode(address, (uint)bytes.Length);
    }

    static ulong Descriptor(byte access) => 0xFFFFUL | ((ulong)access << 40) | (0xFUL << 48) | (0xCUL << 52);

    void WriteWord(uint a, ushort v) => BitConverter.TryWriteBytes(Ram.AsSpan((int)a), v);
    void WriteDword(uint a, uint v) => BitConverter.TryWriteBytes(Ram.AsSpan((int)a), v);
    void WriteQword(uint a, ulong v) => BitConverter.TryWriteBytes(Ram.AsSpan((int)a), v);

    // ---- ports: only the result port does anything ----
    /// <inheritdoc/>
    public byte In8(ushort port) => 0xFF;
    /// <inheritdoc/>
    public ushort In16(ushort port) => 0xFFFF;
    /// <inheritdoc/>
    public uint In32(ushort port) => 0xFFFFFFFF;
    /// <inheritdoc/>
    public void Out8(ushort port, byte value) { }
    /// <inheritdoc/>
    public void Out16(ushort port, ushort value) { }
    /// <inheritdoc/>
    public void Out32(ushort port, uint value)
    {
        if (port == ResultPort) Result = value;
    }

    // ---- nothing lives outside RAM ----
    /// <inheritdoc/>
    public byte Read8(uint address) => 0xFF;
    /// <inheritdoc/>
    public ushort Read16(uint address) => 0xFFFF;
    /// <inheritdoc/>
    public uint Read32(uint address) => 0xFFFFFFFF;
    /// <inheritdoc/>
    public void Write8(uint address, byte value) { }
    /// <inheritdoc/>
    public void Write16(uint address, ushort value) { }
    /// <inheritdoc/>
    public void Write32(uint address, uint value) { }
}
