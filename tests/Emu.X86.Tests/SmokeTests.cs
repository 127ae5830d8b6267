using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class SmokeTests
{
    [Fact]
    public void PrintsThroughDebugPortAndExits()
    {
        var m = new TestMachine().RunReal(a =>
        {
            a.mov(dx, 0xE9);
            a.mov(al, (byte)'O');
            a.@out(dx, al);
            a.mov(al, (byte)'K');
            a.@out(dx, al);
            a.mov(al, 7);
            a.@out(0xF4, al);
        });
        Assert.Equal("OK", m.Output.ToString());
        Assert.Equal(7, m.ExitCode);
    }

    [Fact]
    public void ResetStartsAtTopOfMemory()
    {
        var m = new TestMachine();
        // F000:FFF0 -> physical FFFFFFF0, mirrored by the test bus to RAM 0xFFFF0.
        m.Load(0xFFFF0, TestMachine.Assemble(16, 0xFFF0, a => { a.mov(al, 0x42); a.@out(0xF4, al); }));
        m.Cpu.Reset();
        Assert.Equal(0xFFFF0000u, m.Cpu.GetSegment(SegReg.CS).Base);
        Assert.Equal(0xFFF0u, m.Cpu.Eip);
        m.Run();
        Assert.Equal(0x42, m.ExitCode);
    }

    [Fact]
    public void LoopCountsDown()
    {
        var m = new TestMachine().RunReal(a =>
        {
            var top = a.CreateLabel();
            a.mov(cx, 1000);
            a.xor(ax, ax);
            a.Label(ref top);
            a.add(ax, 3);
            a.loop(top);
            a.hlt();
        });
        Assert.Equal(3000u, m.Cpu.Eax & 0xFFFF);
        Assert.True(m.Cpu.Halted);
    }
}
