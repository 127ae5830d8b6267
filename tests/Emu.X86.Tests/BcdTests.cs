using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class BcdTests
{
    [Fact]
    public void DaaAdjustsPackedAddition()
    {
        var cpu = Exec.Run(a => { a.mov(al, 0x15); a.add(al, 0x27); a.daa(); });
        Assert.Equal(0x42u, cpu.Eax & 0xFF);
        Assert.Equal(Flags.AF, cpu.Eflags & (Flags.AF | Flags.CF));
        cpu = Exec.Run(a => { a.mov(al, 0x99); a.add(al, 0x01); a.daa(); });
        Assert.Equal(0x00u, cpu.Eax & 0xFF);
        Assert.Equal(Flags.AF | Flags.CF | Flags.ZF, cpu.Eflags & (Flags.AF | Flags.CF | Flags.ZF));
    }

    [Fact]
    public void DasAdjustsPackedSubtraction()
    {
        var cpu = Exec.Run(a => { a.mov(al, 0x42); a.sub(al, 0x15); a.das(); });
        Assert.Equal(0x27u, cpu.Eax & 0xFF);
        Assert.Equal(0u, cpu.Eflags & Flags.CF);
        cpu = Exec.Run(a => { a.mov(al, 0x10); a.sub(al, 0x20); a.das(); });
        Assert.Equal(0x90u, cpu.Eax & 0xFF);
        Assert.Equal(Flags.CF, cpu.Eflags & Flags.CF);
    }

    [Fact]
    public void AsciiAdjust()
    {
        var cpu = Exec.Run(a => { a.mov(ax, 0x0009); a.add(al, 0x08); a.aaa(); });
        Assert.Equal(0x0107u, cpu.Eax & 0xFFFF);
        Assert.Equal(Flags.CF | Flags.AF, cpu.Eflags & (Flags.CF | Flags.AF));
        cpu = Exec.Run(a => { a.mov(ax, 0x0205); a.sub(al, 0x08); a.aas(); });
        Assert.Equal(0x0107u, cpu.Eax & 0xFFFF);
        Assert.Equal(Flags.CF | Flags.AF, cpu.Eflags & (Flags.CF | Flags.AF));
        cpu = Exec.Run(a => { a.mov(ax, 0x0104); a.add(al, 0x03); a.aaa(); });
        Assert.Equal(0x0107u, cpu.Eax & 0xFFFF);
        Assert.Equal(0u, cpu.Eflags & (Flags.CF | Flags.AF));
    }

    [Fact]
    public void AamAndAad()
    {
        var cpu = Exec.Run(a => { a.mov(al, 79); a.aam(10); });
        Assert.Equal(0x0709u, cpu.Eax & 0xFFFF);
        cpu = Exec.Run(a => { a.mov(ax, 0x0709); a.aad(10); });
        Assert.Equal(79u, cpu.Eax & 0xFFFF);
        cpu = Exec.Run(a => { a.mov(al, 0x3F); a.aam(16); });
        Assert.Equal(0x030Fu, cpu.Eax & 0xFFFF);
        cpu = Exec.Run(a => { a.mov(ax, 0x0000); a.aad(10); });
        Assert.Equal(Flags.ZF | Flags.PF, cpu.Eflags & (Flags.ZF | Flags.PF | Flags.SF));
    }
}
