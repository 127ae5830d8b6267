using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class DebugTests(ITestOutputHelper o)
{
    const uint PageDir = 0x10000;
    [Fact]
    public void Dbg()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(eax, PageDir); a.mov(cr3, eax); a.mov(eax, cr0); a.or(eax, 0x80000000); a.mov(cr0, eax);
            a.push(ProtectedMode.UserData);
            a.push(0x7000);
            a.push(0x2);
            a.push(ProtectedMode.UserCode);
            a.push(0x8400);
            a.iretd();
        }, setup: m =>
        {
            var pte = new uint[1024];
            for (uint i = 0; i < 1024; i++) pte[i] = (i << 12) | 7;
            pte[0x300] = 0x300000 | 3;
            for (int i = 0; i < 1024; i++) BitConverter.GetBytes(pte[i]).CopyTo(m.Ram, 0x11000 + i * 4);
            BitConverter.GetBytes(0x11000u | 7).CopyTo(m.Ram, 0x10000);
            m.Load(0x8400, TestMachine.Assemble(32, 0x8400, a => { a.mov(eax, __dword_ptr[0x300004]); a.hlt(); }));
        }, ram: 4 << 20);
        var c = m.Cpu;
        o.WriteLine($"exit={m.ExitCode} halted={c.Halted} shut={c.InShutdown} eip={c.Eip:X} cs={c.GetSegment(SegReg.CS).Selector:X} vec={m.Dword(0x600):X} err={m.Dword(0x604):X} eipslot={m.Dword(0x608):X} eax={c.Eax:X}");
    }
}
