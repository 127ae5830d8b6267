using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class ModeTests
{
    [Fact]
    public void ReturnsToRealModeKeepingCachedLimits()
    {
        // Protected mode -> 16-bit code segment -> clear PE -> far jump to a real-mode segment ("unreal" DS stays 4 GiB).
        var m = ProtectedMode.Boot(a =>
        {
            a.db(0xEA); a.dd(0x8600); a.dw(ProtectedMode.Code16);     // jmp 0x18:0x8600 (16-bit segment)
        }, setup: m => m.Load(0x8600, TestMachine.Assemble(16, 0x8600, a =>
        {
            a.mov(eax, cr0);
            a.and(eax, ~1);
            a.mov(cr0, eax);
            a.db(0xEA); a.dw(0x0010); a.dw(0x0860);                   // jmp 0860:0010 = linear 0x8610
            a.nop();
            a.nop();
            a.nop();
            a.nop();
            a.nop();
            a.nop();
            a.nop();
            a.mov(ax, cs);
            a.mov(ebx, 0x123456);
            a.mov(__byte_ptr[ebx], 0x77);                               // beyond 64 KiB through the cached DS limit
            a.hlt();
        })));
        Assert.True(m.Cpu.Halted);
        Assert.False(m.Cpu.ProtectedMode);
        Assert.Equal(0x0860u, m.Cpu.Eax & 0xFFFF);
        Assert.Equal(0x8600u, m.Cpu.GetSegment(SegReg.CS).Base);
    }

    [Fact]
    public void ExpandDownDataSegment()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(ax, 0x38);
            a.mov(ds, ax);
            a.mov(__dword_ptr[0x1FFC], 1);     // above the limit 0x0FFF: valid
            a.mov(__dword_ptr[0x0FFE], 2);     // reaches into the excluded range -> #GP(0)
            a.hlt();
        }, setup: m => ProtectedMode.SetGdt(m, 7, ProtectedMode.Seg(0x40000, 0x0FFF, 0x96, 0x4)));
        Assert.Equal(0x80 | 13, m.ExitCode);
        Assert.Equal(1u, m.Dword(0x40000 + 0x1FFC));
        Assert.Equal(0u, m.Dword(0x40000 + 0x0FFE));
    }

    [Fact]
    public void SelectorInspection()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(ecx, ProtectedMode.Data32);
            a.lar(eax, ecx);
            a.lsl(ebx, ecx);
            a.mov(esi, 0);
            a.verr(cx);
            a.setz(__byte_ptr[0x500]);
            a.mov(cx, ProtectedMode.Code32);
            a.verw(cx);
            a.setz(__byte_ptr[0x501]);
            a.mov(dx, 0x10);
            a.mov(cx, 0x13);
            a.arpl(dx, cx);
            a.setz(__byte_ptr[0x502]);
            a.sgdt(__fword_ptr[0x510]);
            a.sidt(__fword_ptr[0x518]);
            a.hlt();
        });
        Assert.True(m.Cpu.Halted);
        Assert.Equal(0x00CF9300u, m.Cpu.Eax);
        Assert.Equal(0xFFFFFFFFu, m.Cpu.Ebx);
        Assert.Equal(new byte[] { 1, 0, 1 }, m.Ram[0x500..0x503]);
        Assert.Equal(0x13u, m.Cpu.Edx & 0xFFFF);
        Assert.Equal(0xFF, m.Word(0x510));
        Assert.Equal(ProtectedMode.Gdt, m.Dword(0x512));
        Assert.Equal(ProtectedMode.Idt, m.Dword(0x51A));
    }

    [Fact]
    public void TaskSwitchedFlagRaisesDeviceNotAvailable()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(eax, cr0);
            a.or(eax, 8);              // TS
            a.mov(cr0, eax);
            a.fld1();
            a.hlt();
        });
        Assert.Equal(0x80 | 7, m.ExitCode);
        var m2 = ProtectedMode.Boot(a =>
        {
            a.mov(eax, cr0); a.or(eax, 8); a.mov(cr0, eax);
            a.clts();
            a.fld1();
            a.hlt();
        });
        Assert.True(m2.Cpu.Halted);
    }

    [Fact]
    public void BoundIntoAndInt3()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(__dword_ptr[0x500], 10);
            a.mov(__dword_ptr[0x504], 20);
            a.mov(eax, 15);
            a.bound(eax, __qword_ptr[0x500]);
            a.mov(eax, 21);
            a.bound(eax, __qword_ptr[0x500]);
            a.hlt();
        });
        Assert.Equal(0x80 | 5, m.ExitCode);
        m = ProtectedMode.Boot(a => { a.mov(al, 0x7F); a.add(al, 1); a.into(); a.hlt(); });
        Assert.Equal(0x80 | 4, m.ExitCode);
        uint after = m.Dword(ProtectedMode.EipSlot);
        Assert.Equal(0xF4, m.Ram[after]);     // INTO is a trap: saved EIP is the next instruction (HLT)
        m = ProtectedMode.Boot(a => { a.int3(); a.hlt(); });
        Assert.Equal(0x80 | 3, m.ExitCode);
    }

    [Fact]
    public void InstructionSplitAcrossPagesFaultsOnSecondPage()
    {
        // A 5-byte MOV starting 2 bytes before the end of page 0x20 (code at 0x20FFE), page 0x21 unmapped.
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(eax, 0x10000); a.mov(cr3, eax);
            a.mov(eax, cr0); a.or(eax, 0x80000000); a.mov(cr0, eax);
            a.mov(eax, 0x20FFE);
            a.jmp(eax);
        }, setup: m =>
        {
            for (uint i = 0; i < 1024; i++) BitConverter.GetBytes(i == 0x21 ? 0u : (i << 12) | 3).CopyTo(m.Ram, 0x11000 + (int)i * 4);
            BitConverter.GetBytes(0x11003u).CopyTo(m.Ram, 0x10000);
            m.Ram[0x20FFE] = 0xB8;     // mov eax, imm32 ...
        });
        Assert.Equal(0x80 | 14, m.ExitCode);
        Assert.Equal(0x21000u, m.Dword(ProtectedMode.Cr2Slot));
        Assert.Equal(0x20FFEu, m.Dword(ProtectedMode.EipSlot));
        Assert.Equal(0u, m.Dword(ProtectedMode.ErrorSlot));
    }

    [Fact]
    public void InstructionSplitAcrossPagesExecutes()
    {
        var m = new TestMachine();
        m.Load(0x1FFE, TestMachine.Assemble(16, 0x1FFE, a => { a.mov(eax, 0xCAFEF00D); a.hlt(); }));
        m.RunReal(a => { a.db(0xEA); a.dw(0x1FFE); a.dw(0); });
        Assert.True(m.Cpu.Halted);
        Assert.Equal(0xCAFEF00Du, m.Cpu.Eax);
    }

    [Fact]
    public void ControlDebugAndModelSpecificRegisters()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(eax, 0x1234);
            a.mov(dr0, eax);
            a.mov(ebx, dr0);
            a.mov(ecx, 0x174);
            a.mov(eax, 0x55); a.xor(edx, edx);
            a.wrmsr();
            a.xor(eax, eax);
            a.rdmsr();
            a.mov(esi, eax);
            a.mov(ecx, 0xDEAD);
            a.rdmsr();                   // unknown MSR -> #GP(0)
            a.hlt();
        });
        Assert.Equal(0x80 | 13, m.ExitCode);
        Assert.Equal(0x1234u, m.Cpu.Ebx);
        Assert.Equal(0x55u, m.Cpu.Esi);
    }

    [Fact]
    public void StiDelaysInterruptByOneInstruction()
    {
        var m = new TestMachine();
        m.Load(0x600, TestMachine.Assemble(16, 0x600, a => { a.mov(dx, cx); a.iret(); }));
        m.Ram[0x20] = 0x00; m.Ram[0x21] = 0x06;
        m.PendingVector = 8;
        m.RunReal(a =>
        {
            a.xor(cx, cx);
            a.sti();
            a.mov(cx, 1);        // runs in the STI shadow, before the interrupt
            a.mov(cx, 2);
            a.hlt();
        });
        Assert.Equal(1u, m.Cpu.Edx & 0xFFFF);
    }
}
