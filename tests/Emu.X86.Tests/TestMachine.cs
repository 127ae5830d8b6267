using System.Text;
using Iced.Intel;

namespace Emu.X86.Tests;

/// <summary>A minimal PC for CPU tests: RAM, a debug console on port 0xE9, an exit port at 0xF4 and a scriptable IRQ line.</summary>
sealed class TestMachine : IIoPorts, IPhysicalMemory, IInterruptController
{
    public const uint CodeBase = 0x7C00;
    public readonly byte[] Ram;
    public readonly Cpu Cpu;
    public readonly StringBuilder Output = new();
    public int? ExitCode;
    public int PendingVector = -1;

    public readonly PhysicalMemory Memory;
    /// <summary>Called for port writes other than the console and exit ports.</summary>
    public Action<ushort, uint>? OnOut;

    public TestMachine(int ramSize = 1 << 20)
    {
        Ram = new byte[ramSize];
        Memory = new PhysicalMemory(Ram, this);
        Cpu = new Cpu(Memory, this, this);
    }

    public static byte[] Assemble(int bitness, ulong ip, Action<Assembler> build)
    {
        var a = new Assembler(bitness);
        build(a);
        using var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), ip);
        return ms.ToArray();
    }

    public void Load(uint address, byte[] bytes)
    {
        bytes.CopyTo(Ram, (int)address);
        Cpu.InvalidateCode(address, (uint)bytes.Length);
    }

    /// <summary>Assembles 16-bit code at 0000:7C00, starts there in real mode with SP=0x7000, and runs it.</summary>
    public TestMachine RunReal(Action<Assembler> build, int budget = 1_000_000)
    {
        Load(CodeBase, Assemble(16, CodeBase, build));
        Cpu.SetSegmentReal(SegReg.CS, 0);
        Cpu.SetSegmentReal(SegReg.SS, 0);
        Cpu.Esp = 0x7000;
        Cpu.Eip = CodeBase;
        return Run(budget);
    }

    public TestMachine Run(int budget = 1_000_000)
    {
        int left = budget;
        while (left > 0 && ExitCode == null && !Cpu.InShutdown)
        {
            int n = Cpu.Run(Math.Min(left, 10_000));
            left -= n;
            if (Cpu.Halted && PendingVector < 0) break;
        }
        return this;
    }

    // ---- ports ----
    public byte In8(ushort port) => port == 0x60 ? (byte)0x5A : (byte)0xFF;
    public ushort In16(ushort port) => 0xFFFF;
    public uint In32(ushort port) => 0xFFFFFFFF;
    public void Out8(ushort port, byte value) => Out(port, value);
    public void Out16(ushort port, ushort value) => Out(port, value);
    public void Out32(ushort port, uint value) => Out(port, value);

    void Out(ushort port, uint value)
    {
        if (port == 0xE9) Output.Append((char)(value & 0xFF));
        else if (port == 0xF4) { ExitCode = (int)value; Cpu.Stop(); }
        else OnOut?.Invoke(port, value);
    }

    // ---- memory outside RAM: the top 1 MiB mirrors the last 64 KiB of the first MiB, like a BIOS ROM ----
    public byte Read8(uint a) => a >= 0xFFF00000 ? Ram[0xF0000 + (a & 0xFFFF)] : (byte)0xFF;
    public ushort Read16(uint a) => (ushort)(Read8(a) | Read8(a + 1) << 8);
    public uint Read32(uint a) => (uint)(Read16(a) | Read16(a + 2) << 16);
    public void Write8(uint a, byte v) { }
    public void Write16(uint a, ushort v) { }
    public void Write32(uint a, uint v) { }

    // ---- interrupt line ----
    public bool HasInterrupt => PendingVector >= 0;

    public int Acknowledge()
    {
        int v = PendingVector;
        PendingVector = -1;
        return v;
    }

    public ushort Word(uint a) => BitConverter.ToUInt16(Ram, (int)a);
    public uint Dword(uint a) => BitConverter.ToUInt32(Ram, (int)a);
}
