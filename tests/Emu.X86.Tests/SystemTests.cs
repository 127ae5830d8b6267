using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class SystemTests
{
    [Fact]
    public void FaultDuringFaultDeliveryBecomesDoubleFault()
    {
        var m = ProtectedMode.Boot(a => { a.xor(eax, eax); a.mov(ss, ax); a.hlt(); },
            setup: m => m.Ram[ProtectedMode.Idt + 13 * 8 + 5] &= 0x7F);   // #GP gate not present -> #NP
        Assert.Equal(0x80 | 8, m.ExitCode);
        Assert.Equal(0u, m.Dword(ProtectedMode.ErrorSlot));
    }

    [Fact]
    public void TripleFaultRequestsShutdown()
    {
        var m = new TestMachine();
        int shutdowns = 0;
        m.Cpu.ShutdownRequested += () => shutdowns++;
        BitConverter.GetBytes((ushort)0).CopyTo(m.Ram, 0x500);   // IDTR limit 0: nothing deliverable
        m.RunReal(a => { a.lidt(__fword_ptr[0x500]); a.ud2(); });
        Assert.True(m.Cpu.InShutdown);
        Assert.Equal(1, shutdowns);
        m.Cpu.Reset();
        Assert.False(m.Cpu.InShutdown);
    }

    [Fact]
    public void NmiIsDeliveredThroughVector2()
    {
        var m = new TestMachine();
        m.Load(0x600, TestMachine.Assemble(16, 0x600, a => { a.mov(bx, 0x4E4D); a.iret(); }));
        m.Ram[8] = 0x00; m.Ram[9] = 0x06;
        m.RunReal(a => { a.cli(); a.hlt(); a.mov(al, 9); a.@out(0xF4, al); });
        Assert.True(m.Cpu.Halted);
        m.Cpu.RaiseNmi();    // not maskable by IF
        m.Run();
        Assert.Equal(9, m.ExitCode);
        Assert.Equal(0x4E4Du, m.Cpu.Ebx & 0xFFFF);
    }

    [Fact]
    public void ProtectedModeExternalInterruptUsesInterruptGate()
    {
        var m = ProtectedMode.Boot(a => { a.sti(); a.hlt(); a.mov(al, 0x21); a.@out(0xF4, al); }, setup: m =>
        {
            m.Load(0xB000, TestMachine.Assemble(32, 0xB000, a =>
            {
                a.pushfd(); a.pop(ebx);        // IF must be clear inside an interrupt gate
                a.iretd();
            }));
            ProtectedMode.SetIdt(m, 0x30, ProtectedMode.Gate(ProtectedMode.Code32, 0xB000, 0x8E));
        });
        Assert.True(m.Cpu.Halted);
        m.PendingVector = 0x30;
        m.Run();
        Assert.Equal(0x21, m.ExitCode);
        Assert.Equal(0u, m.Cpu.Ebx & Flags.IF);
        Assert.Equal(0x9000u, m.Cpu.Esp);
    }

    [Fact]
    public void IoPermissionBitmapGatesRingThreePorts()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.push(ProtectedMode.UserData); a.push(0x7000); a.push(0x2); a.push(ProtectedMode.UserCode); a.push(0x8100);
            a.iretd();
        }, setup: m =>
        {
            // TSS limit covers a bitmap at 0x68 for ports 0..255; port 0x80 is denied, 0xE9 allowed.
            ProtectedMode.SetGdt(m, 6, ProtectedMode.Seg(ProtectedMode.Tss, 0x68 + 32, 0x89, 0));
            m.Ram[ProtectedMode.Tss + 0x68 + 0x80 / 8] = 1;
            m.Load(0x8100, TestMachine.Assemble(32, 0x8100, a =>
            {
                a.mov(al, (byte)'u'); a.@out(0xE9, al);
                a.@out(0x80, al);
            }));
        });
        Assert.Equal("u", m.Output.ToString());
        Assert.Equal(0x80 | 13, m.ExitCode);
        Assert.Equal(0u, m.Dword(ProtectedMode.ErrorSlot));
    }

    [Fact]
    public void CallGateSwitchesToInnerStack()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.push(ProtectedMode.UserData); a.push(0x7000); a.push(0x2); a.push(ProtectedMode.UserCode); a.push(0x8100);
            a.iretd();
        }, setup: m =>
        {
            // Call gate 0x48 (DPL 3) -> ring 0 code at 0x8300 with one dword parameter.
            ProtectedMode.SetGdt(m, 9, ProtectedMode.Gate(ProtectedMode.Code32, 0x8300, 0xEC) | (1UL << 32));
            m.Load(0x8100, TestMachine.Assemble(32, 0x8100, a =>
            {
                a.push(0x600D);
                a.db(0x9A); a.dd(0); a.dw(0x4B);        // call far 0x4B:0 through the gate
                a.hlt();
            }));
            m.Load(0x8300, TestMachine.Assemble(32, 0x8300, a =>
            {
                a.mov(eax, __dword_ptr[esp + 8]);       // the copied parameter
                a.mov(ebx, cs);
                a.mov(ecx, esp);
                a.mov(dl, 0x47);
                a.mov(al, dl);
                a.@out(0xF4, al);
            }));
        });
        Assert.Equal(0x47, m.ExitCode);
        Assert.Equal(0x08u, m.Cpu.Ebx & 0xFFFF);
        Assert.Equal(0x9000u - 20, m.Cpu.Ecx);                   // SS, ESP, param, CS, EIP
        Assert.Equal(0x600Du, m.Dword(0x9000 - 12));
        Assert.Equal(0x7000u - 4, m.Dword(0x9000 - 8));
    }

    [Fact]
    public void TaskSwitchByCallAndBackByIret()
    {
        const uint Tss2 = 0x3100;
        var m = ProtectedMode.Boot(a =>
        {
            a.db(0x9A); a.dd(0); a.dw(0x40);             // call far 0x40:0 -> task switch
            a.mov(al, 0x66);
            a.@out(0xF4, al);
        }, setup: m =>
        {
            ProtectedMode.SetGdt(m, 8, ProtectedMode.Seg(Tss2, 0x67, 0x89, 0));
            BitConverter.GetBytes(0x8400u).CopyTo(m.Ram, Tss2 + 0x20);          // EIP
            BitConverter.GetBytes(0x2u).CopyTo(m.Ram, Tss2 + 0x24);             // EFLAGS
            BitConverter.GetBytes(0x8800u).CopyTo(m.Ram, Tss2 + 0x38);          // ESP
            BitConverter.GetBytes(0xAAu).CopyTo(m.Ram, Tss2 + 0x28);            // EAX
            ushort[] segs = { ProtectedMode.Data32, ProtectedMode.Code32, ProtectedMode.Data32, ProtectedMode.Data32, 0, 0 };
            for (int s = 0; s < 6; s++) BitConverter.GetBytes((uint)segs[s]).CopyTo(m.Ram, Tss2 + 0x48 + s * 4);
            m.Load(0x8400, TestMachine.Assemble(32, 0x8400, a =>
            {
                a.mov(__dword_ptr[0x500], eax);
                a.str(bx);
                a.mov(__word_ptr[0x504], bx);
                a.pushfd(); a.pop(__dword_ptr[0x508]);
                a.iretd();                                // NT set: returns to the calling task
            }));
        });
        Assert.Equal(0x66, m.ExitCode);
        Assert.Equal(0xAAu, m.Dword(0x500));
        Assert.Equal(0x40, m.Word(0x504));
        Assert.Equal(Flags.NT, m.Dword(0x508) & Flags.NT);
        Assert.Equal(ProtectedMode.TssSel, m.Word(Tss2));              // back link
        Assert.Equal(ProtectedMode.TssSel, m.Cpu.Tr.Selector);
        Assert.Equal(0x89, m.Ram[ProtectedMode.Gdt + 8 * 8 + 5]);       // callee no longer busy
        Assert.Equal(0x8B, m.Ram[ProtectedMode.Gdt + 6 * 8 + 5]);       // caller busy again
        Assert.Equal(0x9000u, m.Cpu.Esp);
    }

    [Fact]
    public void Virtual8086ModeRunsRealModeCodeAndTrapsHlt()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.push(0x0);            // GS
            a.push(0x0);            // FS
            a.push(0x2345);         // DS
            a.push(0x0);            // ES
            a.push(0x6000);         // SS
            a.push(0x0100);         // ESP
            a.push(0x20002);        // EFLAGS: VM
            a.push(0x5000);         // CS
            a.push(0x0010);         // EIP
            a.iretd();
        }, setup: m => m.Load(0x50010, TestMachine.Assemble(16, 0x10, a =>
        {
            a.mov(ax, 0x1234);
            a.push(ax);              // lands at 6000:00FE
            a.mov(bx, ds);
            a.hlt();                 // privileged at CPL 3 -> #GP(0) to the ring-0 monitor
        })));
        Assert.Equal(0x80 | 13, m.ExitCode);
        Assert.Equal(0x1234, m.Word(0x600FE));
        Assert.Equal(0x2345u, m.Cpu.Ebx & 0xFFFF);
        uint frame = 0x9000;
        Assert.Equal(0x2345u, m.Dword(frame - 12));        // DS saved by the v8086 exit
        Assert.Equal(0x5000u, m.Dword(frame - 32));        // CS
        Assert.Equal(Flags.VM, m.Dword(frame - 28) & Flags.VM);
        Assert.Equal(0x00FEu, m.Dword(frame - 24));        // ESP
        Assert.False(m.Cpu.V86);
        Assert.Equal(0, m.Cpu.GetSegment(SegReg.DS).Selector);
    }
}
