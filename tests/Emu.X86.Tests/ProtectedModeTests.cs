using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class ProtectedModeTests
{
    [Fact]
    public void EntersProtectedModeWithFarJump()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(ebx, 0x12345678);
            a.mov(__dword_ptr[0x500], ebx);
            a.mov(al, 0x33);
            a.@out(0xF4, al);
        });
        Assert.Equal(0x33, m.ExitCode);
        Assert.True(m.Cpu.ProtectedMode);
        Assert.Equal(ProtectedMode.Code32, m.Cpu.GetSegment(SegReg.CS).Selector);
        Assert.True(m.Cpu.GetSegment(SegReg.CS).Big);
        Assert.Equal(0xFFFFFFFFu, m.Cpu.GetSegment(SegReg.DS).Limit);
        Assert.Equal(0x12345678u, m.Dword(0x500));
        Assert.Equal(0, m.Cpu.Cpl);
        // The loaded descriptors got their accessed bit.
        Assert.Equal(0x93, m.Ram[ProtectedMode.Gdt + 2 * 8 + 5]);
    }

    [Fact]
    public void LoadingNullSsRaisesGp()
    {
        var m = ProtectedMode.Boot(a => { a.xor(eax, eax); a.mov(ss, ax); a.hlt(); });
        Assert.Equal(0x80 | 13, m.ExitCode);
        Assert.Equal(0u, m.Dword(ProtectedMode.ErrorSlot));
    }

    [Fact]
    public void SelectorBeyondGdtLimitRaisesGpWithSelector()
    {
        var m = ProtectedMode.Boot(a => { a.mov(eax, 0x100); a.mov(ds, ax); a.hlt(); });
        Assert.Equal(0x80 | 13, m.ExitCode);
        Assert.Equal(0x100u, m.Dword(ProtectedMode.ErrorSlot));
    }

    [Fact]
    public void SegmentLimitViolationRaisesGp()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(ax, 0x38);
            a.mov(ds, ax);
            a.mov(__dword_ptr[0xFC], 1);        // last valid dword
            a.mov(__dword_ptr[0xFD], 1);        // crosses the 0xFF limit
            a.hlt();
        }, setup: m => ProtectedMode.SetGdt(m, 7, ProtectedMode.Seg(0x20000, 0xFF, 0x92, 0x4)));
        Assert.Equal(0x80 | 13, m.ExitCode);
        Assert.Equal(1u, m.Dword(0x200FC));
    }

    [Fact]
    public void WriteThroughReadOnlyDataSegmentRaisesGp()
    {
        // A flat read-only segment: reads (which also bring the page into the TLB) work, the write faults and
        // changes nothing, however the page is mapped.
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(ax, 0x38);
            a.mov(ds, ax);
            a.mov(eax, __dword_ptr[0x9000]);
            a.add(eax, __dword_ptr[0x9000]);
            a.mov(__dword_ptr[0x9004], eax);
            a.hlt();
        }, setup: m =>
        {
            ProtectedMode.SetGdt(m, 7, ProtectedMode.Seg(0, 0xFFFFF, 0x90, 0xC));
            m.Load(0x9000, [0x21, 0x43, 0x65, 0x07, 0x5A, 0x5A, 0x5A, 0x5A]);
        });
        Assert.Equal(0x80 | 13, m.ExitCode);
        Assert.Equal(0x5A5A5A5Au, m.Dword(0x9004));
    }

    [Fact]
    public void RetImm16ReleasesTheCallersArguments()
    {
        var m = ProtectedMode.Boot(a =>
        {
            var sum = a.CreateLabel();
            a.push(0x11);
            a.push(0x22);
            a.call(sum);
            a.mov(__dword_ptr[0x500], esp);
            a.mov(al, 0x33);
            a.@out(0xF4, al);
            a.Label(ref sum);
            a.mov(eax, __dword_ptr[esp + 4]);
            a.add(eax, __dword_ptr[esp + 8]);
            a.mov(__dword_ptr[0x504], eax);
            a.ret(8);
        });
        Assert.Equal(0x33, m.ExitCode);
        Assert.Equal(0x9000u, m.Dword(0x500));
        Assert.Equal(0x33u, m.Dword(0x504));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NearCallOrReturnBeyondTheCodeLimitRaisesGpWithoutTouchingTheStack(bool viaRet)
    {
        // Code at 0x8800 runs in a code segment that ends at 0x8FFF; the branch goes to 0x9800.
        const uint Code = 0x8800, Target = 0x9800;
        var m = ProtectedMode.Boot(a =>
        {
            a.db(0xEA);                              // jmp far 0x38:Code
            a.dd(Code);
            a.dw(0x38);
        }, setup: m =>
        {
            ProtectedMode.SetGdt(m, 7, ProtectedMode.Seg(0, 0x8FFF, 0x9A, 0x4));
            m.Load(Code, TestMachine.Assemble(32, Code, a =>
            {
                if (viaRet)
                {
                    a.push(Target);
                    a.ret();
                }
                else a.call(Target);
            }));
        });
        Assert.Equal(0x80 | 13, m.ExitCode);
        Assert.Equal(0u, m.Dword(ProtectedMode.ErrorSlot));
        uint esp = viaRet ? 0x8FFCu : 0x9000u;
        Assert.Equal(viaRet ? Code + 5 : Code, m.Dword(ProtectedMode.EipSlot));
        // The exception frame sits right below the stack pointer the branch found: EFLAGS, then CS.
        Assert.Equal(0x38u, m.Dword(esp - 8));
        if (viaRet) Assert.Equal(Target, m.Dword(esp));
    }

    [Fact]
    public void UndefinedOpcodeInProtectedModeUsesIdt()
    {
        var m = ProtectedMode.Boot(a => { a.nop(); a.ud2(); });
        uint udAt = m.Dword(ProtectedMode.EipSlot);
        Assert.Equal(0x80 | 6, m.ExitCode);
        Assert.Equal(6u, ProtectedMode.VectorOf(m));
        Assert.True(udAt > ProtectedMode.Body && udAt < ProtectedMode.Body + 64);
        Assert.Equal(0x0F, m.Ram[udAt]);
        Assert.Equal(0x0B, m.Ram[udAt + 1]);
    }

    [Fact]
    public void RingThreeTransitionAndGpOnPrivilegedInstruction()
    {
        // IRET to ring 3, then HLT there must raise #GP(0), delivered on the ring-0 stack from the TSS.
        var m = ProtectedMode.Boot(a =>
        {
            a.push(ProtectedMode.UserData);        // SS
            a.push(0x7000);                        // ESP
            a.push(0x202);                         // EFLAGS
            a.push(ProtectedMode.UserCode);        // CS
            a.push(0x8100);                        // EIP
            a.iretd();
        }, setup: m => m.Load(0x8100, TestMachine.Assemble(32, 0x8100, a => { a.mov(eax, 0xC0DE); a.hlt(); })));
        Assert.Equal(0x80 | 13, m.ExitCode);
        Assert.Equal(0u, m.Dword(ProtectedMode.ErrorSlot));
        Assert.Equal(0x8105u, m.Dword(ProtectedMode.EipSlot));   // the HLT after the 5-byte MOV
        Assert.Equal(0, m.Cpu.Cpl);
        // Ring-0 stack from TSS.ESP0 = 0x9000; the handler popped error code and EIP, leaving CS, EFLAGS, ESP, SS.
        Assert.Equal(0x9000u - 16, m.Cpu.Esp);
        Assert.Equal((uint)ProtectedMode.UserCode, m.Dword(0x9000 - 16));
        Assert.Equal(0x7000u, m.Dword(0x9000 - 8));
    }

    [Fact]
    public void FarCallAndReturnThroughGdt()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.db(0x9A); a.dd(0x8200); a.dw(ProtectedMode.Code32);   // call far 0x08:0x8200
            a.mov(al, 0x44);
            a.@out(0xF4, al);
        }, setup: m => m.Load(0x8200, TestMachine.Assemble(32, 0x8200, a => { a.mov(ebx, 7); a.retf(); })));
        Assert.Equal(0x44, m.ExitCode);
        Assert.Equal(7u, m.Cpu.Ebx);
        Assert.Equal(0x9000u, m.Cpu.Esp);
    }
}
