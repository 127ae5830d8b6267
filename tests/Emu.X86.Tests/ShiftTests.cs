using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class ShiftTests
{
    static (uint Al, string Flags) Byte(Action<Iced.Intel.Assembler> body)
    {
        var cpu = Exec.Run(body);
        return (cpu.Eax & 0xFF, Exec.F(cpu.Eflags));
    }

    [Fact]
    public void ShlByOneSetsCarryAndOverflow()
    {
        Assert.Equal((0x00u, "OZPC"), Byte(a => { a.mov(al, 0x80); a.shl(al, 1); }));
        Assert.Equal((0x80u, "OS"), Byte(a => { a.mov(al, 0x40); a.shl(al, 1); }));
    }

    [Fact]
    public void CountZeroChangesNothing()
    {
        // Flags from the ADD (ZAPC) must survive a zero-count shift and rotate.
        Assert.Equal((0x81u, "ZAPC"), Byte(a => { a.mov(bl, 0xFF); a.add(bl, 1); a.mov(al, 0x81); a.mov(cl, 0); a.shl(al, cl); a.rol(al, cl); }));
        Assert.Equal((0x81u, "ZAPC"), Byte(a => { a.mov(bl, 0xFF); a.add(bl, 1); a.mov(al, 0x81); a.mov(cl, 32); a.shr(al, cl); }));
    }

    [Fact]
    public void CountsBeyondWidth()
    {
        // 8-bit SHR by 9: everything shifted out, last bit out is bit 8 (zero).
        var r = Byte(a => { a.mov(al, 0xFF); a.mov(cl, 9); a.shr(al, cl); });
        Assert.Equal(0u, r.Al);
        Assert.Contains("Z", r.Flags);
        Assert.DoesNotContain("C", r.Flags);
        // SAR by 20 of a negative byte fills with the sign and the carry is the sign.
        r = Byte(a => { a.mov(al, 0x80); a.mov(cl, 20); a.sar(al, cl); });
        Assert.Equal((0xFFu, "SPC"), r);
        // ROL 8-bit by 8: value unchanged, CF = bit 0, OF = MSB ^ CF.
        Assert.Equal((0x81u, "C"), Byte(a => { a.mov(al, 0x81); a.mov(cl, 8); a.rol(al, cl); }));
        // Counts are masked to 5 bits: SHL by 33 is SHL by 1.
        var cpu = Exec.Run(a => { a.mov(eax, 1); a.mov(cl, 33); a.shl(eax, cl); });
        Assert.Equal(2u, cpu.Eax);
    }

    [Fact]
    public void ShrAndSarByOne()
    {
        Assert.Equal((0x40u, "OC"), Byte(a => { a.mov(al, 0x81); a.shr(al, 1); }));
        Assert.Equal((0xC0u, "SPC"), Byte(a => { a.mov(al, 0x81); a.sar(al, 1); }));
    }

    [Fact]
    public void RotatesThroughCarry()
    {
        // RCL 8-bit by 9 is the identity (rotates through 9 bits); like current hardware, OF = MSB ^ CF.
        Assert.Equal((0x5Au, "OC"), Byte(a => { a.stc(); a.mov(al, 0x5A); a.mov(cl, 9); a.rcl(al, cl); }));
        // RCR by 1 with CF=1: 0x01 -> 0x80, CF=1, OF = top two bits differ.
        Assert.Equal((0x80u, "OC"), Byte(a => { a.stc(); a.mov(al, 0x01); a.rcr(al, 1); }));
        var cpu = Exec.Run(a => { a.clc(); a.mov(eax, 0x80000000); a.rcl(eax, 1); });
        Assert.Equal(0u, cpu.Eax);
        Assert.Equal(Flags.CF | Flags.OF, cpu.Eflags & (Flags.CF | Flags.OF));
        cpu = Exec.Run(a => { a.mov(ax, 0x1234); a.ror(ax, 4); });
        Assert.Equal(0x4123u, cpu.Eax & 0xFFFF);
    }

    [Fact]
    public void DoubleShifts()
    {
        var cpu = Exec.Run(a => { a.mov(eax, 0x12345678); a.mov(ebx, 0x9ABCDEF0); a.shld(eax, ebx, 8); });
        Assert.Equal(0x3456789Au, cpu.Eax);
        Assert.Equal(0u, cpu.Eflags & Flags.CF);
        cpu = Exec.Run(a => { a.mov(eax, 0x12345678); a.mov(ebx, 0x9ABCDEF0); a.mov(cl, 12); a.shrd(eax, ebx, cl); });
        Assert.Equal(0xEF012345u, cpu.Eax);
        Assert.Equal(0u, cpu.Eflags & Flags.CF);             // bit 11 of 0x12345678
        cpu = Exec.Run(a => { a.mov(eax, 0x12345678); a.mov(ebx, 0); a.shrd(eax, ebx, 4); });
        Assert.Equal(0x01234567u, cpu.Eax);
        Assert.Equal(Flags.CF, cpu.Eflags & Flags.CF);        // bit 3 of 0x78
        cpu = Exec.Run(a => { a.mov(ax, 0x8001); a.mov(bx, 0xFFFF); a.shld(ax, bx, 1); });
        Assert.Equal(0x0003u, cpu.Eax & 0xFFFF);
        Assert.Equal(Flags.CF | Flags.OF, cpu.Eflags & (Flags.CF | Flags.OF));
    }
}
