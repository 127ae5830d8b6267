using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class MulDivTests
{
    [Fact]
    public void MulWidens()
    {
        var cpu = Exec.Run(a => { a.mov(ax, 0xFFFF); a.mov(bx, 0xFFFF); a.mul(bx); });
        Assert.Equal(0x0001u, cpu.Eax & 0xFFFF);
        Assert.Equal(0xFFFEu, cpu.Edx & 0xFFFF);
        Assert.Equal(Flags.CF | Flags.OF, cpu.Eflags & (Flags.CF | Flags.OF));
        cpu = Exec.Run(a => { a.mov(al, 10); a.mov(bl, 20); a.mul(bl); });
        Assert.Equal(200u, cpu.Eax & 0xFFFF);
        Assert.Equal(0u, cpu.Eflags & (Flags.CF | Flags.OF));
        cpu = Exec.Run(a => { a.mov(eax, 0x80000000); a.mov(ecx, 4); a.mul(ecx); });
        Assert.Equal((0u, 2u), (cpu.Eax, cpu.Edx));
    }

    [Fact]
    public void ImulForms()
    {
        var cpu = Exec.Run(a => { a.mov(al, unchecked((byte)-3)); a.mov(bl, 5); a.imul(bl); });
        Assert.Equal(0xFFF1u, cpu.Eax & 0xFFFF);
        Assert.Equal(0u, cpu.Eflags & Flags.CF);
        cpu = Exec.Run(a => { a.mov(ebx, 0x10000); a.imul(ecx, ebx, 0x10000); });
        Assert.Equal(0u, cpu.Ecx);
        Assert.Equal(Flags.CF | Flags.OF, cpu.Eflags & (Flags.CF | Flags.OF));
        cpu = Exec.Run(a => { a.mov(eax, unchecked((uint)-7)); a.mov(edx, 6); a.imul(eax, edx); });
        Assert.Equal(unchecked((uint)-42), cpu.Eax);
        cpu = Exec.Run(a => { a.mov(eax, 0x7FFFFFFF); a.mov(ebx, 2); a.imul(ebx); });
        Assert.Equal((0xFFFFFFFEu, 0u), (cpu.Eax, cpu.Edx));
        Assert.Equal(Flags.CF, cpu.Eflags & Flags.CF);
    }

    [Fact]
    public void DivAndIdiv()
    {
        var cpu = Exec.Run(a => { a.mov(dx, 1); a.mov(ax, 2); a.mov(bx, 3); a.div(bx); });
        Assert.Equal((0x5556u, 0u), (cpu.Eax & 0xFFFF, cpu.Edx & 0xFFFF));
        cpu = Exec.Run(a => { a.mov(ax, unchecked((ushort)-7)); a.mov(bl, 2); a.idiv(bl); });
        Assert.Equal(0xFDu, cpu.Eax & 0xFF);          // quotient -3
        Assert.Equal(0xFFu, (cpu.Eax >> 8) & 0xFF);   // remainder -1
        cpu = Exec.Run(a => { a.mov(edx, 0xFFFFFFFF); a.mov(eax, unchecked((uint)-100)); a.mov(ecx, 7); a.idiv(ecx); });
        Assert.Equal((unchecked((uint)-14), unchecked((uint)-2)), (cpu.Eax, cpu.Edx));
    }

    /// <summary>Runs a division that must fault; the #DE handler records the faulting IP and exits.</summary>
    static TestMachine DivideFault(Action<Iced.Intel.Assembler> div)
    {
        var m = new TestMachine();
        // IVT[0] -> 0000:0600: pop the saved IP into [0x500] and report through port 0xF4.
        m.Load(0x600, TestMachine.Assemble(16, 0x600, a =>
        {
            a.pop(bx);
            a.mov(__word_ptr[0x500], bx);
            a.mov(al, 0xDE);
            a.@out(0xF4, al);
        }));
        m.Ram[0] = 0x00; m.Ram[1] = 0x06; m.Ram[2] = 0; m.Ram[3] = 0;
        m.RunReal(a => { a.nop(); div(a); a.mov(al, 1); a.@out(0xF4, al); });
        return m;
    }

    [Fact]
    public void DivideByZeroFaultsAtTheDivInstruction()
    {
        var m = DivideFault(a => { a.xor(cx, cx); a.div(cx); });
        Assert.Equal(0xDE, m.ExitCode);
        Assert.Equal(TestMachine.CodeBase + 3, m.Word(0x500));   // nop (1) + xor cx,cx (2)
    }

    [Fact]
    public void QuotientOverflowFaults()
    {
        Assert.Equal(0xDE, DivideFault(a => { a.mov(ax, 0x1000); a.mov(bl, 2); a.div(bl); }).ExitCode);
        Assert.Equal(0xDE, DivideFault(a => { a.mov(ax, 0x8000); a.mov(bl, 0xFF); a.idiv(bl); }).ExitCode);
        Assert.Equal(0xDE, DivideFault(a => { a.mov(al, 5); a.aam(0); }).ExitCode);
    }
}
