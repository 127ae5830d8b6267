using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class StateTests
{
    [Fact]
    public void SaveAndLoadStateResumesExecution()
    {
        // Boot into protected mode with paging-free flat segments and stop halfway through a loop.
        Action<Iced.Intel.Assembler> body = a =>
        {
            var top = a.CreateLabel();
            a.fldpi();
            a.mov(ecx, 1000);
            a.xor(eax, eax);
            a.Label(ref top);
            a.add(eax, ecx);
            a.dec(ecx);
            a.jnz(top);
            a.fistp(__dword_ptr[0x500]);
            a.mov(__dword_ptr[0x504], eax);
            a.mov(al, 0x5A);
            a.@out(0xF4, al);
        };
        var reference = ProtectedMode.Boot(body);
        Assert.Equal(0x5A, reference.ExitCode);

        var first = new TestMachine();
        var seed = ProtectedMode.Boot(body);   // same image; we only need its RAM layout
        seed.Ram.CopyTo(first.Ram, 0);
        first.Ram[ProtectedMode.Gdt + 6 * 8 + 5] = 0x89;   // the seed run left its TSS busy; LTR needs it available
        first.Cpu.Reset();
        first.Cpu.SetSegmentReal(SegReg.CS, 0);
        first.Cpu.Eip = TestMachine.CodeBase;
        first.Cpu.Run(60);                       // somewhere inside the loop
        Assert.Null(first.ExitCode);

        var ms = new MemoryStream();
        first.Cpu.SaveState().Write(new BinaryWriter(ms));
        ms.Position = 0;
        var second = new TestMachine();
        first.Ram.CopyTo(second.Ram, 0);
        second.Cpu.LoadState(CpuState.Read(new BinaryReader(ms)));
        second.Run();
        Assert.Equal(0x5A, second.ExitCode);
        Assert.Equal(3u, second.Dword(0x500));
        Assert.Equal(500500u, second.Dword(0x504));
        Assert.True(second.Cpu.ProtectedMode);
    }
}

public class RegisterDumpTests
{
    [Fact]
    public void ResetStateFormatsLikeQemu()
    {
        var m = new TestMachine();
        string dump = m.Cpu.FormatRegisters();
        Assert.Contains("EAX=00000000 EBX=00000000 ECX=00000000 EDX=00000619", dump);
        Assert.Contains("EIP=0000fff0 EFL=00000002 [-------] CPL=0", dump);
        Assert.Contains("CS =f000 ffff0000 0000ffff 00009b00", dump);
        Assert.Contains("CR0=60000010", dump);
        Assert.Contains("DR6=ffff0ff0 DR7=00000400", dump);
    }
}
