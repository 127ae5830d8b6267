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

public class BulkStringTests
{
    [Fact]
    public void LargeCopyAcrossPagesAndSegments()
    {
        var m = new TestMachine();
        for (int i = 0; i < 0x6000; i++) m.Ram[0x20000 + i] = (byte)(i * 7 + (i >> 8));
        m.RunReal(a =>
        {
            a.mov(ax, 0x2000); a.mov(ds, ax);
            a.mov(ax, 0x3000); a.mov(es, ax);
            a.mov(si, 0x0002); a.mov(di, 0x0001);    // misaligned, different page phases
            a.mov(cx, 0x1800);
            a.cld();
            a.rep.movsd();
            a.hlt();
        });
        Assert.True(m.Cpu.Halted);
        Assert.Equal(m.Ram.AsSpan(0x20002, 0x6000).ToArray(), m.Ram.AsSpan(0x30001, 0x6000).ToArray());
        Assert.Equal((0u, 0x6002u, 0x6001u), (m.Cpu.Ecx & 0xFFFF, m.Cpu.Esi & 0xFFFF, m.Cpu.Edi & 0xFFFF));
    }

    [Fact]
    public void OverlappingForwardCopyReplicates()
    {
        var m = new TestMachine();
        m.Ram[0x1000] = 0xAB;
        m.RunReal(a =>
        {
            a.xor(ax, ax); a.mov(ds, ax); a.mov(es, ax);
            a.mov(si, 0x1000); a.mov(di, 0x1001); a.mov(cx, 100); a.cld();
            a.rep.movsb();
            a.hlt();
        });
        Assert.All(m.Ram[0x1000..0x1065], b => Assert.Equal(0xAB, b));
    }

    [Fact]
    public void SixteenBitIndexWrapsInsideTheSegment()
    {
        var m = new TestMachine();
        m.RunReal(a =>
        {
            a.mov(ax, 0x4000); a.mov(es, ax);
            a.mov(di, 0xFFFE); a.mov(cx, 2); a.mov(ax, 0x1234); a.cld();
            a.rep.stosw();
            a.hlt();
        }, budget: 1000);
        // The second word would cross offset 0xFFFF: a segment limit violation (#GP) in real mode.
        Assert.Equal(0x1234, m.Word(0x4FFFE));
    }

    [Fact]
    public void StoreOverOwnCodeIsSeen()
    {
        // REP STOSB overwrites the instructions that follow it with NOPs except the final HLT.
        var m = new TestMachine();
        m.RunReal(a =>
        {
            a.xor(ax, ax); a.mov(es, ax);
            a.mov(di, (ushort)(TestMachine.CodeBase + 15)); a.mov(cx, 3); a.mov(al, 0x90); a.cld();   // 13 bytes
            a.rep.stosb();                                                                          // 2 bytes, ends at 15
            a.mov(bx, 0xBAD);                                                                       // 3 bytes, overwritten
            a.nop();
            a.hlt();
        });
        Assert.True(m.Cpu.Halted);
        Assert.Equal(0u, m.Cpu.Ebx & 0xFFFF);
    }
}
