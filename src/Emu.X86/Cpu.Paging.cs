using System.Runtime.CompilerServices;

namespace Emu.X86;

// Linear-to-physical translation: a direct-mapped software TLB in front of the two-level page walk
// (4 KiB pages and 4 MiB PSE pages, CR0.WP, global pages, accessed/dirty bits).
public sealed partial class Cpu
{
    const int TlbBits = 10, TlbSize = 1 << TlbBits, TlbMask = TlbSize - 1;
    const byte TlbUserRead = 1, TlbSupWrite = 2, TlbUserWrite = 4, TlbDirty = 8, TlbGlobal = 16;
    // The physical page is RAM the CPU may read / write directly (no bus routing): data accesses skip the bus check.
    const byte TlbRamRead = 32, TlbRamWrite = 64;

    /// <summary>One software TLB entry: a linear page's physical page and what it permits.</summary>
    struct TlbEntry
    {
        public uint Tag;     // linear page | 1 when valid
        public uint Phys;
        public byte Rights;
    }

    readonly TlbEntry[] _tlb = new TlbEntry[TlbSize];
    bool _paging;
    uint _a20Mask = 0xFFFFFFFF;

    /// <summary>Gate A20: when false, physical address bit 20 is forced to zero.</summary>
    public bool A20Enabled
    {
        get => _a20Mask == 0xFFFFFFFF;
        set { _a20Mask = value ? 0xFFFFFFFF : 0xFFEFFFFF; FlushTlb(true); _breakBlock = true; }
    }

    /// <summary>Drops TLB entries; global ones survive unless <paramref name="includeGlobal"/>.</summary>
    void FlushTlb(bool includeGlobal)
    {
        if (includeGlobal || (_cr4 & Cr4PGE) == 0) { Array.Clear(_tlb); return; }
        for (int i = 0; i < TlbSize; i++)
            if ((_tlb[i].Rights & TlbGlobal) == 0) _tlb[i].Tag = 0;
    }

    void InvalidateTlbPage(uint lin)
    {
        ref TlbEntry e = ref _tlb[(lin >> 12) & TlbMask];
        if ((e.Tag & ~1u) == (lin & ~0xFFFu)) e.Tag = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint Translate(uint lin, bool write, bool user)
    {
        if (!_paging) return MapUnpaged(lin);
        ref TlbEntry e = ref _tlb[(lin >> 12) & TlbMask];
        if (e.Tag == ((lin & ~0xFFFu) | 1))
        {
            int need = write ? (user ? TlbUserWrite | TlbDirty : TlbSupWrite | TlbDirty) : (user ? TlbUserRead : 0);
            if ((e.Rights & need) == need) return e.Phys | (lin & 0xFFF);
        }
        return Walk(lin, write, user, false);
    }

    /// <summary>A data access that the TLB maps straight to RAM: its physical address, or false to take the
    /// full path (TLB miss, missing right, bus-routed page).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    bool TryRamAccess(uint lin, bool write, bool user, out uint phys)
    {
        ref TlbEntry e = ref _tlb[(lin >> 12) & TlbMask];
        phys = e.Phys | (lin & 0xFFF);
        int need = write ? (user ? TlbUserWrite | TlbDirty | TlbRamWrite : TlbSupWrite | TlbDirty | TlbRamWrite)
            : (user ? TlbUserRead | TlbRamRead : TlbRamRead);
        return e.Tag == ((lin & ~0xFFFu) | 1) && (e.Rights & need) == need;
    }

    /// <summary>Paging off: the linear address is physical (through A20). The page goes into the TLB with every
    /// right so the next data accesses to it take the RAM fast path, as paged ones do (firmware, boot loaders
    /// and the kernel decompressor run unpaged); turning paging on or off, A20 and bus routing flush it.</summary>
    uint MapUnpaged(uint lin)
    {
        uint page = lin & ~0xFFFu & _a20Mask;
        ref TlbEntry e = ref _tlb[(lin >> 12) & TlbMask];
        if (e.Tag != ((lin & ~0xFFFu) | 1))
        {
            byte r = TlbUserRead | TlbSupWrite | TlbUserWrite | TlbDirty;
            if (_mem.CanReadDirect(page)) r |= TlbRamRead;
            if (_mem.CanWriteDirect(page)) r |= TlbRamWrite;
            e.Tag = (lin & ~0xFFFu) | 1;
            e.Phys = page;
            e.Rights = r;
        }
        return lin & _a20Mask;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint TranslateFetch(uint lin) => Translate(lin, false, _user);

    /// <summary>An instruction fetch translation that only consults the TLB: false on a miss (nothing changes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    bool TryTranslateFetch(uint lin, out uint phys)
    {
        if (!_paging) { phys = lin & _a20Mask; return true; }
        ref TlbEntry e = ref _tlb[(lin >> 12) & TlbMask];
        phys = e.Phys | (lin & 0xFFF);
        return e.Tag == ((lin & ~0xFFFu) | 1) && (!_user || (e.Rights & TlbUserRead) != 0);
    }

    /// <summary>Walks the page tables, updates A/D bits and fills the TLB; raises #PF on failure.</summary>
    uint Walk(uint lin, bool write, bool user, bool fetch)
    {
        uint pdeAddr = (_cr3 & 0xFFFFF000) | ((lin >> 20) & 0xFFC);
        uint pde = _mem.Read32(pdeAddr & _a20Mask);
        uint err = (write ? 2u : 0) | (user ? 4u : 0);
        if ((pde & 1) == 0) return PageFault(lin, err);
        uint phys, rights;
        bool global;
        if ((pde & 0x80) != 0 && (_cr4 & Cr4PSE) != 0)
        {
            rights = pde;
            if (!Permitted(rights, write, user)) return PageFault(lin, err | 1);
            uint newPde = pde | 0x20 | (write ? 0x40u : 0);
            if (newPde != pde) _mem.Write32(pdeAddr & _a20Mask, newPde);
            phys = (pde & 0xFFC00000) | (lin & 0x003FF000);
            global = (pde & 0x100) != 0;
            pde = newPde;
            rights = pde;
        }
        else
        {
            uint pteAddr = (pde & 0xFFFFF000) | ((lin >> 10) & 0xFFC);
            uint pte = _mem.Read32(pteAddr & _a20Mask);
            if ((pte & 1) == 0) return PageFault(lin, err);
            // User and write permission are the AND of both levels.
            rights = (pde & pte & 6) | (pte & ~6u);
            if (!Permitted(rights, write, user)) return PageFault(lin, err | 1);
            if ((pde & 0x20) == 0) _mem.Write32(pdeAddr & _a20Mask, pde | 0x20);
            uint newPte = pte | 0x20 | (write ? 0x40u : 0);
            if (newPte != pte) _mem.Write32(pteAddr & _a20Mask, newPte);
            phys = pte & 0xFFFFF000;
            global = (pte & 0x100) != 0;
            rights = (rights & ~0x40u) | (newPte & 0x40);
        }
        byte r = 0;
        if ((rights & 4) != 0) r |= TlbUserRead;
        if ((rights & 4) != 0 && (rights & 2) != 0) r |= TlbUserWrite;
        if ((rights & 2) != 0 || (_cr0 & Cr0WP) == 0) r |= TlbSupWrite;
        if ((rights & 0x40) != 0) r |= TlbDirty;
        if (global && (_cr4 & Cr4PGE) != 0) r |= TlbGlobal;
        uint page = phys & _a20Mask;
        if (_mem.CanReadDirect(page)) r |= TlbRamRead;
        if (_mem.CanWriteDirect(page)) r |= TlbRamWrite;
        ref TlbEntry e = ref _tlb[(lin >> 12) & TlbMask];
        e.Tag = (lin & ~0xFFFu) | 1;
        e.Phys = page;
        e.Rights = r;
        return (phys | (lin & 0xFFF)) & _a20Mask;
    }

    bool Permitted(uint rights, bool write, bool user)
    {
        if (user)
        {
            if ((rights & 4) == 0) return false;
            return !write || (rights & 2) != 0;
        }
        return !write || (rights & 2) != 0 || (_cr0 & Cr0WP) == 0;
    }

    uint PageFault(uint lin, uint err)
    {
        // The first fault of an instruction wins: the rest of a split access must not move CR2.
        if (!_faulted) _cr2 = lin;
        RaiseFault(Vector.PF, (int)err);
        return 0;
    }
}
