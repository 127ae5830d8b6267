using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class ProtectedMode16Tests
{
    [Fact]
    public void SixteenBitGateAndIret()
    {
        // 16-bit code segment 0x18 runs INT 0x40 through a 286 interrupt gate (type 6) to 16-bit code.
        var m = ProtectedMode.Boot(a =>
        {
            a.db(0xEA); a.dd(0x8600); a.dw(ProtectedMode.Code16);
        }, setup: m =>
        {
            ProtectedMode.SetIdt(m, 0x40, ProtectedMode.Gate(ProtectedMode.Code16, 0x8700, 0x86));
            m.Load(0x8600, TestMachine.Assemble(16, 0x8600, a =>
            {
                a.mov(esp, 0x9000);
                a.mov(bx, 1);
                a.@int(0x40);
                a.mov(cx, sp);
                a.hlt();
            }));
            m.Load(0x8700, TestMachine.Assemble(16, 0x8700, a =>
            {
                a.mov(bp, sp);
                a.mov(dx, __word_ptr[bp]);      // 16-bit frame: IP, CS, FLAGS
                a.add(bx, 1);
                a.iret();
            }));
        });
        Assert.True(m.Cpu.Halted);
        Assert.Equal(2u, m.Cpu.Ebx & 0xFFFF);
        Assert.Equal(0x9000u, m.Cpu.Ecx & 0xFFFF);
        Assert.Equal(0x8600u + 6 + 3 + 2, m.Cpu.Edx & 0xFFFF);   // return IP after INT 0x40 (mov esp,imm32 is 6 bytes)
        Assert.False(m.Cpu.GetSegment(SegReg.CS).Big);
    }

    [Fact]
    public void SegmentFromLocalDescriptorTable()
    {
        const uint Ldt = 0x4000;
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(ax, 0x50);
            a.lldt(ax);
            a.mov(ax, 0x0C);                    // LDT index 1, TI = 1, RPL 0
            a.mov(fs, ax);
            a.mov(eax, __dword_ptr.fs[0x10]);
            a.sldt(bx);
            a.hlt();
        }, setup: m =>
        {
            ProtectedMode.SetGdt(m, 10, ProtectedMode.Seg(Ldt, 0x17, 0x82, 0));
            BitConverter.GetBytes(ProtectedMode.Seg(0x60000, 0xFFFF, 0x92, 0)).CopyTo(m.Ram, Ldt + 8);
            BitConverter.GetBytes(0xFEEDu).CopyTo(m.Ram, 0x60010);
        });
        Assert.True(m.Cpu.Halted);
        Assert.Equal(0xFEEDu, m.Cpu.Eax);
        Assert.Equal(0x50u, m.Cpu.Ebx & 0xFFFF);
        Assert.Equal(0x60000u, m.Cpu.GetSegment(SegReg.FS).Base);
        Assert.Equal(Ldt, m.Cpu.Ldtr.Base);
    }

    [Fact]
    public void ConformingCodeKeepsCallerPrivilege()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.push(ProtectedMode.UserData); a.push(0x7000); a.push(0x2); a.push(ProtectedMode.UserCode); a.push(0x8100);
            a.iretd();
        }, setup: m =>
        {
            ProtectedMode.SetGdt(m, 11, ProtectedMode.Seg(0, 0xFFFFF, 0x9E, 0xC));   // conforming, DPL 0
            m.Load(0x8100, TestMachine.Assemble(32, 0x8100, a =>
            {
                a.db(0x9A); a.dd(0x8300); a.dw(0x5B);     // call far 0x5B:0x8300 (RPL 3)
                a.mov(edx, cs);
                a.hlt();                                   // ring 3: #GP
            }));
            m.Load(0x8300, TestMachine.Assemble(32, 0x8300, a => { a.mov(ebx, cs); a.retf(); }));
        });
        Assert.Equal(0x80 | 13, m.ExitCode);
        Assert.Equal(0x5Bu, m.Cpu.Ebx & 0xFFFF);          // CS.RPL shows CPL 3 inside conforming code
        Assert.Equal((uint)ProtectedMode.UserCode, m.Cpu.Edx & 0xFFFF);
    }

    [Fact]
    public void FarReturnToOuterPrivilegeLevel()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.push(ProtectedMode.UserData);     // SS
            a.push(0x6000);                     // ESP
            a.push(ProtectedMode.UserCode);     // CS
            a.push(0x8100);                     // EIP
            a.retf();
        }, setup: m => m.Load(0x8100, TestMachine.Assemble(32, 0x8100, a =>
        {
            a.mov(ebx, esp);
            a.mov(ecx, ss);
            a.mov(edx, ds);                     // DPL-0 data segment was nulled by the privilege drop
            a.cli();                            // IOPL 0 at CPL 3: #GP
        })));
        Assert.Equal(0x80 | 13, m.ExitCode);
        Assert.Equal(0x6000u, m.Cpu.Ebx);
        Assert.Equal((uint)ProtectedMode.UserData, m.Cpu.Ecx & 0xFFFF);
        Assert.Equal(0u, m.Cpu.Edx & 0xFFFF);
    }
}
