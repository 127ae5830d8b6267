using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class PagingTests
{
    const uint PageDir = 0x10000, PageTable = 0x11000;

    /// <summary>Identity-maps the first 4 MiB with 4 KiB pages (present, writable, supervisor), then applies <paramref name="tweak"/>.</summary>
    static void BuildTables(TestMachine m, Action<uint[]> tweak)
    {
        var pte = new uint[1024];
        for (uint i = 0; i < 1024; i++) pte[i] = (i << 12) | 3;
        tweak(pte);
        for (int i = 0; i < 1024; i++) BitConverter.GetBytes(pte[i]).CopyTo(m.Ram, PageTable + i * 4);
        BitConverter.GetBytes(PageTable | 3).CopyTo(m.Ram, PageDir);
    }

    static void EnablePaging(Iced.Intel.Assembler a, uint extraCr0 = 0)
    {
        a.mov(eax, PageDir);
        a.mov(cr3, eax);
        a.mov(eax, cr0);
        a.or(eax, 0x80000000 | extraCr0);
        a.mov(cr0, eax);
    }

    [Fact]
    public void RoutingAPageToTheBusTakesEffectForTranslationsAlreadyCached()
    {
        // The TLB remembers that a page is plain RAM so data accesses skip the bus check; rerouting the page
        // (as the chipset does for shadow RAM) in the middle of a block must reach the very next access.
        var m = ProtectedMode.Boot(a =>
        {
            EnablePaging(a);
            a.mov(eax, __dword_ptr[0x80000]);
            a.mov(__dword_ptr[0x700], eax);
            a.mov(dx, 0x99);
            a.@out(dx, al);
            a.mov(eax, __dword_ptr[0x80000]);
            a.mov(__dword_ptr[0x704], eax);
            a.mov(__dword_ptr[0x80000], 0x12345678);
            a.hlt();
        }, setup: m =>
        {
            BuildTables(m, _ => { });
            BitConverter.GetBytes(0xCAFEBABEu).CopyTo(m.Ram, 0x80000);
            m.OnOut = (port, _) => { if (port == 0x99) m.Memory.SetBusRouting(0x80000, 4096, true, true); };
        });
        Assert.Null(m.ExitCode);
        Assert.Equal(0xCAFEBABEu, m.Dword(0x700));
        Assert.Equal(0xFFFFFFFFu, m.Dword(0x704));   // the bus answers reads outside its ROM with all ones
        Assert.Equal(0xCAFEBABEu, m.Dword(0x80000));  // and drops the write
    }

    [Fact]
    public void UnpagedAccessesSeeReroutingA20AndPagingThatChangeAfterThem()
    {
        // With paging off the TLB also remembers pages (for the RAM fast path): each of these changes must reach
        // the very next access to a page already cached.
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(eax, __dword_ptr[0x80000]);
            a.mov(__dword_ptr[0x700], eax);
            a.mov(eax, __dword_ptr[0x100000]);
            a.mov(__dword_ptr[0x704], eax);
            a.mov(dx, 0x99);
            a.@out(dx, al);                            // A20 off
            a.mov(eax, __dword_ptr[0x100000]);         // wraps to 0
            a.mov(__dword_ptr[0x708], eax);
            a.mov(dx, 0x9A);
            a.@out(dx, al);                            // 0x80000 to the bus
            a.mov(eax, __dword_ptr[0x80000]);
            a.mov(__dword_ptr[0x70C], eax);
            a.mov(eax, PageDir);
            a.mov(cr3, eax);
            a.mov(eax, __dword_ptr[0x90000]);          // cache the identity page
            a.mov(eax, cr0);
            a.or(eax, 0x80000000);
            a.mov(cr0, eax);
            a.mov(eax, __dword_ptr[0x90000]);          // now through the page table: physical 0x60000
            a.mov(__dword_ptr[0x710], eax);
            a.hlt();
        }, setup: m =>
        {
            BuildTables(m, pte => pte[0x90] = 0x60000 | 3);
            BitConverter.GetBytes(0xCAFEBABEu).CopyTo(m.Ram, 0x80000);
            BitConverter.GetBytes(0x11111111u).CopyTo(m.Ram, 0x100000);
            BitConverter.GetBytes(0x22222222u).CopyTo(m.Ram, 0x90000);
            BitConverter.GetBytes(0x33333333u).CopyTo(m.Ram, 0x60000);
            m.OnOut = (port, _) =>
            {
                if (port == 0x99) m.Cpu.A20Enabled = false;
                if (port == 0x9A) m.Memory.SetBusRouting(0x80000, 4096, true, true);
            };
        }, ram: 2 << 20);
        Assert.Null(m.ExitCode);
        Assert.Equal(0xCAFEBABEu, m.Dword(0x700));
        Assert.Equal(0x11111111u, m.Dword(0x704));
        Assert.Equal(m.Dword(0), m.Dword(0x708));
        Assert.Equal(0xFFFFFFFFu, m.Dword(0x70C));     // the bus answers reads outside its ROM with all ones
        Assert.Equal(0x33333333u, m.Dword(0x710));
    }

    [Fact]
    public void NotPresentReadFaultsWithCr2AndErrorCode()
    {
        var m = ProtectedMode.Boot(a =>
        {
            EnablePaging(a);
            a.mov(eax, __dword_ptr[0x300010]);
            a.hlt();
        }, setup: m => BuildTables(m, pte => pte[0x300] = 0));
        Assert.Equal(0x80 | 14, m.ExitCode);
        Assert.Equal(0x300010u, m.Dword(ProtectedMode.Cr2Slot));
        Assert.Equal(0u, m.Dword(ProtectedMode.ErrorSlot));
        uint eip = m.Dword(ProtectedMode.EipSlot);
        Assert.Equal(0xA1, m.Ram[eip]);   // saved EIP is the faulting MOV EAX, moffs32
    }

    [Fact]
    public void NotPresentWriteSetsWriteBit()
    {
        var m = ProtectedMode.Boot(a =>
        {
            EnablePaging(a);
            a.mov(__dword_ptr[0x300FFE], eax);   // straddles into the unmapped page 0x301
            a.hlt();
        }, setup: m => BuildTables(m, pte => pte[0x301] = 0));
        Assert.Equal(0x80 | 14, m.ExitCode);
        Assert.Equal(0x301000u, m.Dword(ProtectedMode.Cr2Slot));
        Assert.Equal(2u, m.Dword(ProtectedMode.ErrorSlot));
    }

    [Fact]
    public void SplitReadReportsTheFirstByteOfTheMissingPageInCr2()
    {
        // Found against QEMU: the remaining bytes of a page-crossing read moved CR2 past the page start.
        var m = ProtectedMode.Boot(a =>
        {
            EnablePaging(a);
            a.mov(eax, __dword_ptr[0x300FFE]);
            a.hlt();
        }, setup: m => BuildTables(m, pte => pte[0x301] = 0));
        Assert.Equal(0x80 | 14, m.ExitCode);
        Assert.Equal(0x301000u, m.Dword(ProtectedMode.Cr2Slot));
        Assert.Equal(0u, m.Dword(ProtectedMode.ErrorSlot));
    }

    [Fact]
    public void WriteProtectFaultsSupervisorOnlyWithWp()
    {
        // Without CR0.WP the supervisor may write a read-only page.
        var m = ProtectedMode.Boot(a =>
        {
            EnablePaging(a);
            a.mov(__dword_ptr[0x300000], 0x55);
            a.mov(al, 1);
            a.@out(0xF4, al);
        }, setup: m => BuildTables(m, pte => pte[0x300] = 0x300000 | 1), ram: 4 << 20);
        Assert.Equal(1, m.ExitCode);
        Assert.Equal(0x55u, m.Dword(0x300000));

        m = ProtectedMode.Boot(a =>
        {
            EnablePaging(a, 0x10000);
            a.mov(__dword_ptr[0x300000], 0x55);
            a.hlt();
        }, setup: m => BuildTables(m, pte => pte[0x300] = 0x300000 | 1), ram: 4 << 20);
        Assert.Equal(0x80 | 14, m.ExitCode);
        Assert.Equal(3u, m.Dword(ProtectedMode.ErrorSlot));
        Assert.Equal(0x300000u, m.Dword(ProtectedMode.Cr2Slot));
    }

    [Fact]
    public void UserAccessToSupervisorPageFaults()
    {
        var m = ProtectedMode.Boot(a =>
        {
            EnablePaging(a);
            a.push(ProtectedMode.UserData);
            a.push(0x7000);
            a.push(0x2);
            a.push(ProtectedMode.UserCode);
            a.push(0x8400);
            a.iretd();
        }, setup: m =>
        {
            // Everything user-accessible except page 0x300; PDE must allow user too.
            BuildTables(m, pte => { for (int i = 0; i < 1024; i++) pte[i] |= 4; pte[0x300] = 0x300000 | 3; });
            BitConverter.GetBytes(PageTable | 7).CopyTo(m.Ram, PageDir);
            // The privilege drop nulled DS (DPL 0), so ring 3 loads its own data segment first.
            m.Load(0x8400, TestMachine.Assemble(32, 0x8400, a =>
            {
                a.mov(ax, ProtectedMode.UserData);
                a.mov(ds, ax);
                a.mov(eax, __dword_ptr[0x300004]);
                a.hlt();
            }));
        }, ram: 4 << 20);
        Assert.Equal(0x80 | 14, m.ExitCode);
        Assert.Equal(5u, m.Dword(ProtectedMode.ErrorSlot));   // present | user, read
        Assert.Equal(0x300004u, m.Dword(ProtectedMode.Cr2Slot));
    }

    [Fact]
    public void AccessedAndDirtyBitsAreSet()
    {
        var m = ProtectedMode.Boot(a =>
        {
            EnablePaging(a);
            a.mov(eax, __dword_ptr[0x50000]);
            a.mov(__dword_ptr[0x60000], eax);
            a.hlt();
        }, setup: m => BuildTables(m, _ => { }));
        Assert.True(m.Cpu.Halted);
        Assert.Equal(0x20u, m.Dword(PageTable + 0x50 * 4) & 0x60);
        Assert.Equal(0x60u, m.Dword(PageTable + 0x60 * 4) & 0x60);
        Assert.Equal(0x20u, m.Dword(PageDir) & 0x20);
    }

    [Fact]
    public void LargePagesMapFourMegabytes()
    {
        var m = ProtectedMode.Boot(a =>
        {
            a.mov(eax, cr4);
            a.or(eax, 0x10);           // PSE
            a.mov(cr4, eax);
            EnablePaging(a);
            a.mov(eax, __dword_ptr[0x800000 + 0x1234]);   // 4 MiB page at 8 MiB -> physical 0
            a.mov(__dword_ptr[0x800000 + 0x2000], 0xABCD);
            a.hlt();
        }, setup: m =>
        {
            BuildTables(m, _ => { });
            BitConverter.GetBytes(0x00000083u).CopyTo(m.Ram, PageDir + 2 * 4);
            BitConverter.GetBytes(0xCAFEBABEu).CopyTo(m.Ram, 0x1234);
        });
        Assert.True(m.Cpu.Halted);
        Assert.Equal(0xCAFEBABEu, m.Cpu.Eax);
        Assert.Equal(0xABCDu, m.Dword(0x2000));
        Assert.Equal(0xE3u, m.Dword(PageDir + 8) & 0xFF);   // accessed and dirty in the PDE
    }

    [Fact]
    public void InvlpgDropsStaleTranslation()
    {
        var m = ProtectedMode.Boot(a =>
        {
            EnablePaging(a);
            a.mov(eax, __dword_ptr[0x300000]);          // caches 0x300 -> 0x300000
            a.mov(__dword_ptr[PageTable + 0x300 * 4], 0x50000 | 3);   // remap to 0x50000
            a.mov(ebx, __dword_ptr[0x300000]);          // stale TLB: still old page
            a.invlpg(__byte_ptr[0x300000]);
            a.mov(ecx, __dword_ptr[0x300000]);          // new mapping
            a.hlt();
        }, setup: m =>
        {
            BuildTables(m, _ => { });
            BitConverter.GetBytes(0x11111111u).CopyTo(m.Ram, 0x300000 % m.Ram.Length);
            BitConverter.GetBytes(0x22222222u).CopyTo(m.Ram, 0x50000);
        }, ram: 4 << 20);
        Assert.True(m.Cpu.Halted);
        Assert.Equal(0x11111111u, m.Cpu.Ebx);
        Assert.Equal(0x22222222u, m.Cpu.Ecx);
    }
}
