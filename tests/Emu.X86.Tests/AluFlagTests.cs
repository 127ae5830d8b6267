using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class AluFlagTests
{
    static (uint Al, string Flags) Byte(Action<Iced.Intel.Assembler> body)
    {
        var cpu = Exec.Run(body);
        return (cpu.Eax & 0xFF, Exec.F(cpu.Eflags));
    }

    [Theory]
    [InlineData(0x7F, 0x01, 0x80, "OSA")]
    [InlineData(0xFF, 0x01, 0x00, "ZAPC")]
    [InlineData(0x80, 0x80, 0x00, "OZPC")]
    [InlineData(0x0F, 0x01, 0x10, "A")]
    [InlineData(0x00, 0x00, 0x00, "ZP")]
    public void Add8(int x, int y, int r, string flags)
    {
        var res = Byte(a => { a.mov(al, (byte)x); a.mov(bl, (byte)y); a.add(al, bl); });
        Assert.Equal(((uint)r, flags), res);
    }

    [Theory]
    [InlineData(0x00, 0x01, 0xFF, "SAPC")]
    [InlineData(0x80, 0x01, 0x7F, "OA")]
    [InlineData(0x05, 0x05, 0x00, "ZP")]
    [InlineData(0x7F, 0xFF, 0x80, "OSC")]
    public void Sub8(int x, int y, int r, string flags)
    {
        var res = Byte(a => { a.mov(al, (byte)x); a.sub(al, (byte)y); });
        Assert.Equal(((uint)r, flags), res);
    }

    [Fact]
    public void AdcUsesAndProducesCarry()
    {
        Assert.Equal((0x00u, "ZAPC"), Byte(a => { a.stc(); a.mov(al, 0xFF); a.adc(al, 0); }));
        Assert.Equal((0x80u, "OSA"), Byte(a => { a.stc(); a.mov(al, 0x7F); a.adc(al, 0); }));
        Assert.Equal((0x01u, ""), Byte(a => { a.clc(); a.mov(al, 0x00); a.adc(al, 1); }));
    }

    [Fact]
    public void SbbUsesAndProducesBorrow()
    {
        Assert.Equal((0x00u, "ZAPC"), Byte(a => { a.stc(); a.mov(al, 0x00); a.sbb(al, 0xFF); }));
        Assert.Equal((0xFFu, "SAPC"), Byte(a => { a.stc(); a.mov(al, 0xFF); a.sbb(al, 0xFF); }));
        Assert.Equal((0x7Fu, "OA"), Byte(a => { a.stc(); a.mov(al, 0x80); a.sbb(al, 0); }));
    }

    [Fact]
    public void IncDecPreserveCarry()
    {
        var cpu = Exec.Run(a => { a.stc(); a.mov(ax, 0x7FFF); a.inc(ax); });
        Assert.Equal(0x8000u, cpu.Eax & 0xFFFF);
        Assert.Equal("OSAPC", Exec.F(cpu.Eflags));
        cpu = Exec.Run(a => { a.clc(); a.xor(ecx, ecx); a.clc(); a.dec(ecx); });
        Assert.Equal(0xFFFFFFFFu, cpu.Ecx);
        Assert.Equal("SAP", Exec.F(cpu.Eflags));
        cpu = Exec.Run(a => { a.stc(); a.mov(bl, 0x80); a.dec(bl); });
        Assert.Equal(0x7Fu, cpu.Ebx & 0xFF);
        Assert.Equal("OAC", Exec.F(cpu.Eflags));
    }

    [Fact]
    public void NegSetsCarryUnlessZero()
    {
        Assert.Equal((0x00u, "ZP"), Byte(a => { a.stc(); a.mov(al, 0); a.neg(al); }));
        Assert.Equal((0x80u, "OSC"), Byte(a => { a.mov(al, 0x80); a.neg(al); }));
        Assert.Equal((0xFFu, "SAPC"), Byte(a => { a.mov(al, 1); a.neg(al); }));
    }

    [Fact]
    public void LogicClearsCarryAndOverflow()
    {
        Assert.Equal((0x00u, "ZP"), Byte(a => { a.stc(); a.mov(al, 0xF0); a.and(al, 0x0F); }));
        Assert.Equal((0xFFu, "SP"), Byte(a => { a.stc(); a.mov(al, 0xF0); a.or(al, 0x0F); }));
        Assert.Equal((0x01u, ""), Byte(a => { a.mov(al, 0xF1); a.xor(al, 0xF0); }));
        var cpu = Exec.Run(a => { a.mov(eax, 0x80000000); a.test(eax, eax); });
        Assert.Equal("S", Exec.F(cpu.Eflags).Replace("P", ""));
        Assert.Equal(0x80000000u, cpu.Eax);
    }

    [Fact]
    public void NotLeavesFlags()
    {
        var cpu = Exec.Run(a => { a.mov(al, 0xFF); a.add(al, 1); a.mov(bx, 0x1234); a.not(bx); });
        Assert.Equal(0xEDCBu, cpu.Ebx & 0xFFFF);
        Assert.Equal("ZAPC", Exec.F(cpu.Eflags));
    }

    [Fact]
    public void CmpJumpsSignedAndUnsigned()
    {
        var cpu = Exec.Run(a =>
        {
            var l1 = a.CreateLabel(); var l2 = a.CreateLabel(); var l3 = a.CreateLabel();
            a.xor(dx, dx);
            a.mov(ax, 0xFFFF);
            a.cmp(ax, 1);
            a.jl(l1);          // -1 < 1 signed: taken
            a.or(dx, 1);
            a.Label(ref l1);
            a.cmp(ax, 1);
            a.ja(l2);          // 0xFFFF > 1 unsigned: taken
            a.or(dx, 2);
            a.Label(ref l2);
            a.cmp(ax, 0xFFFF);
            a.jne(l3);         // equal: not taken
            a.or(dx, 4);
            a.Label(ref l3);
        });
        Assert.Equal(4u, cpu.Edx & 0xFFFF);
    }
}
