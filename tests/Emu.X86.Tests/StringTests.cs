using System.Text;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class StringTests
{
    static TestMachine Run(Action<TestMachine> setup, Action<Iced.Intel.Assembler> body)
    {
        var m = new TestMachine();
        setup(m);
        m.RunReal(a => { a.xor(ax, ax); a.mov(ds, ax); a.mov(es, ax); body(a); a.hlt(); });
        return m;
    }

    [Fact]
    public void RepMovsbForward()
    {
        var m = Run(m => Encoding.ASCII.GetBytes("hello, world").CopyTo(m.Ram, 0x1000), a =>
        {
            a.cld(); a.mov(si, 0x1000); a.mov(di, 0x2000); a.mov(cx, 12); a.rep.movsb();
        });
        Assert.Equal("hello, world", Encoding.ASCII.GetString(m.Ram, 0x2000, 12));
        Assert.Equal((0u, 0x100Cu, 0x200Cu), (m.Cpu.Ecx & 0xFFFF, m.Cpu.Esi & 0xFFFF, m.Cpu.Edi & 0xFFFF));
    }

    [Fact]
    public void RepMovswBackwardWithDirectionFlag()
    {
        var m = Run(m => { for (int i = 0; i < 8; i++) m.Ram[0x1000 + i] = (byte)(i + 1); }, a =>
        {
            a.std(); a.mov(si, 0x1006); a.mov(di, 0x2006); a.mov(cx, 4); a.rep.movsw();
        });
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, m.Ram[0x2000..0x2008]);
        Assert.Equal((0x0FFEu, 0x1FFEu), (m.Cpu.Esi & 0xFFFF, m.Cpu.Edi & 0xFFFF));
    }

    [Fact]
    public void RepeCmpsbStopsAtFirstDifference()
    {
        var m = Run(m =>
        {
            Encoding.ASCII.GetBytes("abcdef").CopyTo(m.Ram, 0x1000);
            Encoding.ASCII.GetBytes("abcxef").CopyTo(m.Ram, 0x2000);
        }, a => { a.cld(); a.mov(si, 0x1000); a.mov(di, 0x2000); a.mov(cx, 6); a.repe.cmpsb(); });
        Assert.Equal((2u, 0x1004u, 0x2004u), (m.Cpu.Ecx & 0xFFFF, m.Cpu.Esi & 0xFFFF, m.Cpu.Edi & 0xFFFF));
        Assert.Equal(0u, m.Cpu.Eflags & Flags.ZF);
        Assert.Equal(Flags.CF, m.Cpu.Eflags & Flags.CF);    // 'd' < 'x'
    }

    [Fact]
    public void RepneScasbFindsByte()
    {
        var m = Run(m => Encoding.ASCII.GetBytes("find the z here").CopyTo(m.Ram, 0x3000), a =>
        {
            a.cld(); a.mov(di, 0x3000); a.mov(cx, 100); a.mov(al, (byte)'z'); a.repne.scasb();
        });
        Assert.Equal(0x300Au, m.Cpu.Edi & 0xFFFF);          // one past the 'z' at offset 9
        Assert.Equal(90u, m.Cpu.Ecx & 0xFFFF);
        Assert.Equal(Flags.ZF, m.Cpu.Eflags & Flags.ZF);
    }

    [Fact]
    public void RepStosdWith32BitAddressing()
    {
        var m = Run(_ => { }, a =>
        {
            a.cld(); a.mov(edi, 0x4000); a.mov(ecx, 3); a.mov(eax, 0xDEADBEEF); a.db(0x67, 0xF3, 0x66, 0xAB);   // addr32 rep stosd
        });
        Assert.Equal(0xDEADBEEFu, m.Dword(0x4008));
        Assert.Equal(0u, m.Dword(0x400C));
        Assert.Equal(0x400Cu, m.Cpu.Edi);
    }

    [Fact]
    public void LodsAndRepWithZeroCount()
    {
        var m = Run(m => { m.Ram[0x1000] = 0x77; }, a =>
        {
            a.cld(); a.mov(si, 0x1000); a.lodsb(); a.mov(bl, al);
            a.xor(cx, cx); a.mov(di, 0x5000); a.rep.stosb();
        });
        Assert.Equal(0x77u, m.Cpu.Ebx & 0xFF);
        Assert.Equal(0x1001u, m.Cpu.Esi & 0xFFFF);
        Assert.Equal(0x5000u, m.Cpu.Edi & 0xFFFF);
    }

    [Fact]
    public void OutsbWritesPort()
    {
        var m = Run(m => Encoding.ASCII.GetBytes("hi!").CopyTo(m.Ram, 0x1000), a =>
        {
            a.cld(); a.mov(si, 0x1000); a.mov(dx, 0xE9); a.mov(cx, 3); a.rep.outsb();
        });
        Assert.Equal("hi!", m.Output.ToString());
    }
}
