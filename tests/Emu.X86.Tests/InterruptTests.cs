using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class InterruptTests
{
    static void SetVector(TestMachine m, int vector, ushort seg, ushort off)
    {
        m.Ram[vector * 4] = (byte)off; m.Ram[vector * 4 + 1] = (byte)(off >> 8);
        m.Ram[vector * 4 + 2] = (byte)seg; m.Ram[vector * 4 + 3] = (byte)(seg >> 8);
    }

    [Fact]
    public void InvalidOpcodeRaisesUdThroughIvt()
    {
        var m = new TestMachine();
        m.Load(0x600, TestMachine.Assemble(16, 0x600, a =>
        {
            a.pop(bx);                      // faulting IP
            a.mov(__word_ptr[0x500], bx);
            a.mov(al, 6);
            a.@out(0xF4, al);
        }));
        SetVector(m, 6, 0, 0x600);
        m.RunReal(a => { a.mov(ax, 1); a.ud2(); a.mov(al, 0xFF); a.@out(0xF4, al); });
        Assert.Equal(6, m.ExitCode);
        Assert.Equal(TestMachine.CodeBase + 3, m.Word(0x500));
    }

    [Fact]
    public void UndecodableBytesRaiseUd()
    {
        var m = new TestMachine();
        m.Load(0x600, TestMachine.Assemble(16, 0x600, a => { a.mov(al, 6); a.@out(0xF4, al); }));
        SetVector(m, 6, 0, 0x600);
        m.RunReal(a => { a.db(0x0F, 0xFF); a.mov(al, 0xFF); a.@out(0xF4, al); });
        Assert.Equal(6, m.ExitCode);
    }

    [Fact]
    public void SoftwareInterruptAndIret()
    {
        var m = new TestMachine();
        m.Load(0x600, TestMachine.Assemble(16, 0x600, a => { a.add(ax, 0x100); a.iret(); }));
        SetVector(m, 0x21, 0, 0x600);
        m.RunReal(a => { a.mov(ax, 1); a.@int(0x21); a.@int(0x21); a.hlt(); });
        Assert.Equal(0x201u, m.Cpu.Eax & 0xFFFF);
        Assert.Equal(0x7000u, m.Cpu.Esp & 0xFFFF);
    }

    [Fact]
    public void ExternalInterruptWakesHlt()
    {
        var m = new TestMachine();
        m.Load(0x600, TestMachine.Assemble(16, 0x600, a => { a.mov(bx, 0x1234); a.iret(); }));
        SetVector(m, 0x08, 0, 0x600);
        m.RunReal(a => { a.cli(); a.hlt(); });
        Assert.True(m.Cpu.Halted);
        // Masked: a pending interrupt does not wake a CLI'd HLT.
        m.PendingVector = 0x08;
        m.Cpu.Run(100);
        Assert.True(m.Cpu.Halted);

        var m2 = new TestMachine();
        m2.Load(0x600, TestMachine.Assemble(16, 0x600, a => { a.mov(bx, 0x1234); a.iret(); }));
        SetVector(m2, 0x08, 0, 0x600);
        m2.RunReal(a => { a.sti(); a.hlt(); a.mov(al, 3); a.@out(0xF4, al); });
        Assert.True(m2.Cpu.Halted);
        m2.PendingVector = 0x08;
        m2.Run();
        Assert.Equal(3, m2.ExitCode);
        Assert.Equal(0x1234u, m2.Cpu.Ebx & 0xFFFF);
    }

    [Fact]
    public void TrapFlagSingleSteps()
    {
        var m = new TestMachine();
        // #DB handler counts steps in SI.
        m.Load(0x600, TestMachine.Assemble(16, 0x600, a => { a.inc(si); a.iret(); }));
        SetVector(m, 1, 0, 0x600);
        m.RunReal(a =>
        {
            a.xor(si, si);
            a.pushf(); a.pop(ax); a.or(ax, 0x100); a.push(ax);
            a.popf();            // TF on: the trap comes after the next instruction
            a.nop(); a.nop(); a.nop();
            a.pushf(); a.pop(ax); a.and(ax, 0xFEFF); a.push(ax);
            a.popf();
            a.hlt();
        });
        // Traps after: nop, nop, nop, pushf, pop, and, push, popf = 8.
        Assert.Equal(8u, m.Cpu.Esi & 0xFFFF);
    }

    [Fact]
    public void SelfModifyingCodeIsSeen()
    {
        var m = new TestMachine().RunReal(a =>
        {
            a.xor(ax, ax);                               // 2 bytes
            a.mov(__byte_ptr[TestMachine.CodeBase + 8], 0x40);   // 5 bytes: patch the immediate below
            a.db(0xB0, 0x11);                            // mov al, 0x11 at offset 7
            a.hlt();
        });
        Assert.Equal(0x40u, m.Cpu.Eax & 0xFF);
    }

    [Fact]
    public void BlockEndsFollowWhicheverWayTheyGo()
    {
        // The JZ and the LOOP end blocks that go one way, then the other: a block end remembers where it went
        // last, and must not go there when the branch goes elsewhere.
        var m = new TestMachine().RunReal(a =>
        {
            var top = a.CreateLabel();
            var even = a.CreateLabel();
            var next = a.CreateLabel();
            a.mov(cx, 7);
            a.xor(bx, bx);
            a.xor(dx, dx);
            a.Label(ref top);
            a.test(cl, 1);
            a.jz(even);
            a.inc(bx);
            a.jmp(next);
            a.Label(ref even);
            a.inc(dx);
            a.Label(ref next);
            a.loop(top);
            a.hlt();
        });
        Assert.True(m.Cpu.Halted);
        Assert.Equal(4u, m.Cpu.Ebx & 0xFFFF);
        Assert.Equal(3u, m.Cpu.Edx & 0xFFFF);
    }

    [Fact]
    public void CodeRewrittenBetweenRunsIsRedecoded()
    {
        var m = new TestMachine();
        m.RunReal(a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.mov(al, 1);
            a.@out(0xF4, al);
            a.jmp(top);
        });
        Assert.Equal(1, m.ExitCode);
        m.Ram[TestMachine.CodeBase + 1] = 2;   // a device-style write the CPU did not see
        m.Cpu.InvalidateCode(TestMachine.CodeBase, 1);
        m.ExitCode = null;
        m.Run();
        Assert.Equal(2, m.ExitCode);
    }
}

public class DecodeCacheTests
{
    [Fact]
    public void DataWritesNextToCodeKeepDecodedBlocks()
    {
        // A loop that updates a variable in its own code page must not re-decode itself every iteration.
        var m = new TestMachine().RunReal(a =>
        {
            var top = a.CreateLabel();
            a.xor(ax, ax); a.mov(ds, ax);
            a.mov(cx, 1000);
            a.Label(ref top);
            a.inc(__word_ptr[TestMachine.CodeBase + 0x200]);
            a.loop(top);
            a.hlt();
        });
        Assert.Equal(1000, m.Word(TestMachine.CodeBase + 0x200));
        Assert.True(m.Cpu.BlocksDecoded < 10, $"decoded {m.Cpu.BlocksDecoded} blocks");
    }
}

public class BreakpointTests
{
    [Fact]
    public void DataBreakpointTrapsAfterTheWrite()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(eax, 0x5000); a.mov(dr0, eax);
            a.mov(eax, 0x000D0001);         // L0, R/W = 01 (write), LEN = 11 (4 bytes)
            a.mov(dr7, eax);
            a.mov(__dword_ptr[0x4000], 1);   // no hit
            a.mov(__byte_ptr[0x5002], 2);    // hit inside the dword
            a.nop();
            a.hlt();
        });
        Assert.Equal(0x80 | 1, m.ExitCode);
        Assert.Equal(2, m.Ram[0x5002]);                       // trap: the write completed
        uint eip = m.Dword(ProtectedMode.EipSlot);
        Assert.Equal(0x90, m.Ram[eip]);                       // saved EIP is the following NOP
        Assert.Equal(1u, m.Cpu.GetDebugRegister(6) & 0xF);
    }

    [Fact]
    public void InstructionBreakpointFaultsBeforeExecution()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(eax, 0x8200); a.mov(dr1, eax);
            a.mov(eax, 0x00000004);         // L1, execute
            a.mov(dr7, eax);
            a.mov(eax, 0x8200);
            a.jmp(eax);
        }, setup: m => m.Load(0x8200, TestMachine.Assemble(32, 0x8200, a => { a.mov(ebx, 1); a.hlt(); })));
        Assert.Equal(0x80 | 1, m.ExitCode);
        Assert.Equal(0x8200u, m.Dword(ProtectedMode.EipSlot));
        Assert.Equal(2u, m.Cpu.GetDebugRegister(6) & 0xF);
        Assert.NotEqual(1u, m.Cpu.Ebx);
    }
}
