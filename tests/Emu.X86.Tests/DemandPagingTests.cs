using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

/// <summary>End-to-end: a ring-3 REP MOVSD into unmapped pages is restarted after each #PF that a ring-0 handler resolves.</summary>
public class DemandPagingTests
{
    const uint PageDir = 0x10000, PageTable = 0x11000, Src = 0x100000, Dst = 0x200010, Counter = 0x700;

    [Fact]
    public void RepMovsResumesAfterEachPageFault()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(eax, PageDir); a.mov(cr3, eax);
            a.mov(eax, cr0); a.or(eax, 0x80010000); a.mov(cr0, eax);   // PG + WP
            a.push(ProtectedMode.UserData); a.push(0x7000); a.push(0x202); a.push(ProtectedMode.UserCode); a.push(0x8100);
            a.iretd();
        }, setup: m =>
        {
            for (uint i = 0; i < 1024; i++)
            {
                bool hole = i is 0x200 or 0x201 or 0x202;
                BitConverter.GetBytes((i << 12) | (hole ? 6u : 7u)).CopyTo(m.Ram, PageTable + (int)i * 4);
            }
            BitConverter.GetBytes(PageTable | 7).CopyTo(m.Ram, PageDir);
            for (int i = 0; i < 12000; i++) m.Ram[Src + i] = (byte)(i * 13 + 1);
            ProtectedMode.InstallPageMapper(m, PageTable, Counter);
            // INT 0x80 from ring 3 (DPL 3 trap gate): report ECX and exit.
            m.Load(0xB100, TestMachine.Assemble(32, 0xB100, a => { a.mov(al, 0x42); a.@out(0xF4, al); }));
            ProtectedMode.SetIdt(m, 0x80, ProtectedMode.Gate(ProtectedMode.Code32, 0xB100, 0xEF));
            m.Load(0x8100, TestMachine.Assemble(32, 0x8100, a =>
            {
                a.mov(ax, ProtectedMode.UserData); a.mov(ds, ax); a.mov(es, ax);
                a.cld();
                a.mov(esi, Src); a.mov(edi, Dst); a.mov(ecx, 3000);
                a.rep.movsd();
                a.@int(0x80);
            }));
        }, ram: 4 << 20);
        Assert.Equal(0x42, m.ExitCode);
        Assert.Equal(3u, m.Dword(Counter));
        Assert.Equal(m.Ram.AsSpan((int)Src, 12000).ToArray(), m.Ram.AsSpan((int)Dst, 12000).ToArray());
        Assert.Equal(0u, m.Cpu.Ecx);
        Assert.Equal(0x7u, m.Dword(PageTable + 0x201 * 4) & 7);
        Assert.Equal(0x40u, m.Dword(PageTable + 0x201 * 4) & 0x40);   // dirty
    }
}
