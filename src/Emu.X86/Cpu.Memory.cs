using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Emu.X86;

// Guest memory access: segment checks, linear accesses split at page boundaries, and physical
// accesses that invalidate decoded code when they hit a code page.
public sealed partial class Cpu
{
    bool _faulted;
    int _faultVector, _faultError;

    /// <summary>Records a guest fault; the executing instruction unwinds and the run loop delivers it.</summary>
    void RaiseFault(int vector, int errorCode = -1)
    {
        if (_faulted) return;   // the first fault of an instruction wins
        _faulted = true;
        _faultVector = vector;
        _faultError = errorCode;
        _breakBlock = true;
    }

    void GP(int error = 0) => RaiseFault(Vector.GP, error);
    void UD() => RaiseFault(Vector.UD);

    /// <summary>Checks an access of <paramref name="size"/> bytes at seg:offset and returns its linear address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint SegLinear(int seg, uint offset, int size, bool write)
    {
        ref Segment s = ref S[seg];
        if (offset < s.Min || offset > s.Max || s.Max - offset < (uint)(size - 1) || !(write ? s.Writable : s.Readable))
        {
            RaiseFault(seg == SS ? Vector.SS : Vector.GP, 0);
            return 0;
        }
        if (_dataBreakpoints) CheckDataBreakpoints(s.Base + offset, size, write);
        return s.Base + offset;
    }

    /// <summary>The RAM behind a data access of <paramref name="size"/> bytes at seg:offset when nothing can fault,
    /// trap or need the bus (a window from offset 0, within one page the TLB maps to RAM with the rights needed, no
    /// data breakpoints); otherwise a null reference and the caller takes the full path, which raises what the
    /// access deserves. A write is noted for the decode cache here, so the caller must then make it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    ref byte FastRam(int seg, uint offset, int size, bool write)
    {
        ref Segment s = ref S[seg];
        uint lin = s.Base + offset;
        ref TlbEntry e = ref _tlb[(lin >> 12) & TlbMask];
        int need = write ? (_user ? TlbUserWrite | TlbDirty | TlbRamWrite : TlbSupWrite | TlbDirty | TlbRamWrite)
            : (_user ? TlbUserRead | TlbRamRead : TlbRamRead);
        if ((ulong)offset + (uint)size > (write ? s.WriteEnd : s.ReadEnd) || (lin & 0xFFF) > 0x1000 - (uint)size
            || e.Tag != ((lin & ~0xFFFu) | 1) || (e.Rights & need) != need || _dataBreakpoints)
            return ref Unsafe.NullRef<byte>();
        uint phys = e.Phys | (lin & 0xFFF);
        if (write) NoteWrite(phys, size);
        return ref RamAt(phys);
    }

    // ---- physical ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void NoteWrite(uint phys, int size)
    {
        if (_codeMarks[phys >> 12] != 0) CheckCodeWrite(phys, size);
    }

    /// <summary>A RAM byte by physical address; the caller has checked it is directly accessible RAM.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    ref byte RamAt(uint phys) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_mem.Ram), (nint)phys);

    // ---- linear ----

    internal byte ReadLin8(uint lin, bool user)
    {
        if (TryRamAccess(lin, false, user, out uint ram)) return RamAt(ram);
        uint p = Translate(lin, false, user);
        return _faulted ? (byte)0 : _mem.Read8(p);
    }

    internal ushort ReadLin16(uint lin, bool user)
    {
        if ((lin & 0xFFF) == 0xFFF)
        {
            uint lo = ReadLin8(lin, user), hi = ReadLin8(lin + 1, user);
            return (ushort)(lo | hi << 8);
        }
        if (TryRamAccess(lin, false, user, out uint ram)) return Unsafe.ReadUnaligned<ushort>(ref RamAt(ram));
        uint p = Translate(lin, false, user);
        return _faulted ? (ushort)0 : _mem.Read16(p);
    }

    internal uint ReadLin32(uint lin, bool user)
    {
        if ((lin & 0xFFF) > 0xFFC)
        {
            uint v = 0;
            for (int i = 0; i < 4; i++) v |= (uint)ReadLin8(lin + (uint)i, user) << (i * 8);
            return v;
        }
        if (TryRamAccess(lin, false, user, out uint ram)) return Unsafe.ReadUnaligned<uint>(ref RamAt(ram));
        uint p = Translate(lin, false, user);
        return _faulted ? 0 : _mem.Read32(p);
    }

    internal void WriteLin8(uint lin, byte v, bool user)
    {
        if (TryRamAccess(lin, true, user, out uint ram))
        {
            NoteWrite(ram, 1);
            RamAt(ram) = v;
            return;
        }
        uint p = Translate(lin, true, user);
        if (_faulted) return;
        NoteWrite(p, 1);
        _mem.Write8(p, v);
    }

    internal void WriteLin16(uint lin, ushort v, bool user)
    {
        if ((lin & 0xFFF) == 0xFFF)
        {
            if (!ProbeWrite(lin, 2, user)) return;
            WriteLin8(lin, (byte)v, user);
            WriteLin8(lin + 1, (byte)(v >> 8), user);
            return;
        }
        if (TryRamAccess(lin, true, user, out uint ram))
        {
            NoteWrite(ram, 2);
            Unsafe.WriteUnaligned(ref RamAt(ram), v);
            return;
        }
        uint p = Translate(lin, true, user);
        if (_faulted) return;
        NoteWrite(p, 2);
        _mem.Write16(p, v);
    }

    internal void WriteLin32(uint lin, uint v, bool user)
    {
        if ((lin & 0xFFF) > 0xFFC)
        {
            if (!ProbeWrite(lin, 4, user)) return;
            for (int i = 0; i < 4; i++) WriteLin8(lin + (uint)i, (byte)(v >> (i * 8)), user);
            return;
        }
        if (TryRamAccess(lin, true, user, out uint ram))
        {
            NoteWrite(ram, 4);
            Unsafe.WriteUnaligned(ref RamAt(ram), v);
            return;
        }
        uint p = Translate(lin, true, user);
        if (_faulted) return;
        NoteWrite(p, 4);
        _mem.Write32(p, v);
    }

    /// <summary>Checks that every page of a write is writable, so a split write faults before changing anything.</summary>
    bool ProbeWrite(uint lin, int size, bool user)
    {
        Translate(lin, true, user);
        // The second page faults at its first byte, as the hardware reports it in CR2.
        if (!_faulted && ((lin + (uint)size - 1) ^ lin) >= 0x1000) Translate((lin + (uint)size - 1) & ~0xFFFu, true, user);
        return !_faulted;
    }

    uint ReadLin(uint lin, int size, bool user) => size switch
    {
        1 => ReadLin8(lin, user),
        2 => ReadLin16(lin, user),
        _ => ReadLin32(lin, user),
    };

    void WriteLin(uint lin, int size, uint v, bool user)
    {
        if (size == 1) WriteLin8(lin, (byte)v, user);
        else if (size == 2) WriteLin16(lin, (ushort)v, user);
        else WriteLin32(lin, v, user);
    }

    // ---- segmented, with the current privilege ----

    internal uint ReadMem(int seg, uint offset, int size)
    {
        uint lin = SegLinear(seg, offset, size, false);
        return _faulted ? 0 : ReadLin(lin, size, _user);
    }

    internal void WriteMem(int seg, uint offset, int size, uint value)
    {
        uint lin = SegLinear(seg, offset, size, true);
        if (!_faulted) WriteLin(lin, size, value, _user);
    }

    internal byte ReadMem8(int seg, uint offset)
    {
        ref byte m = ref FastRam(seg, offset, 1, false);
        if (!Unsafe.IsNullRef(ref m)) return m;
        uint lin = SegLinear(seg, offset, 1, false);
        return _faulted ? (byte)0 : ReadLin8(lin, _user);
    }

    internal ushort ReadMem16(int seg, uint offset)
    {
        uint lin = SegLinear(seg, offset, 2, false);
        return _faulted ? (ushort)0 : ReadLin16(lin, _user);
    }

    internal uint ReadMem32(int seg, uint offset)
    {
        ref byte m = ref FastRam(seg, offset, 4, false);
        if (!Unsafe.IsNullRef(ref m)) return Unsafe.ReadUnaligned<uint>(ref m);
        uint lin = SegLinear(seg, offset, 4, false);
        return _faulted ? 0 : ReadLin32(lin, _user);
    }

    internal void WriteMem32(int seg, uint offset, uint value)
    {
        ref byte m = ref FastRam(seg, offset, 4, true);
        if (!Unsafe.IsNullRef(ref m))
        {
            Unsafe.WriteUnaligned(ref m, value);
            return;
        }
        uint lin = SegLinear(seg, offset, 4, true);
        if (!_faulted) WriteLin32(lin, value, _user);
    }

    internal ulong ReadMem64(int seg, uint offset)
    {
        uint lin = SegLinear(seg, offset, 8, false);
        if (_faulted) return 0;
        uint lo = ReadLin32(lin, _user);
        uint hi = ReadLin32(lin + 4, _user);
        return lo | (ulong)hi << 32;
    }

    internal void WriteMem64(int seg, uint offset, ulong value)
    {
        uint lin = SegLinear(seg, offset, 8, true);
        if (_faulted || !ProbeWrite(lin, 8, _user)) return;
        WriteLin32(lin, (uint)value, _user);
        WriteLin32(lin + 4, (uint)(value >> 32), _user);
    }

    /// <summary>Validates a write of <paramref name="size"/> bytes at seg:offset without performing it.</summary>
    internal bool ProbeMemWrite(int seg, uint offset, int size)
    {
        uint lin = SegLinear(seg, offset, size, true);
        return !_faulted && ProbeWrite(lin, size, _user);
    }

    // ---- system structures (descriptor tables, TSS): always supervisor accesses ----

    uint ReadSys32(uint lin) => ReadLin32(lin, false);
    ushort ReadSys16(uint lin) => ReadLin16(lin, false);
    byte ReadSys8(uint lin) => ReadLin8(lin, false);
    void WriteSys32(uint lin, uint v) => WriteLin32(lin, v, false);
    void WriteSys16(uint lin, ushort v) => WriteLin16(lin, v, false);
    void WriteSys8(uint lin, byte v) => WriteLin8(lin, v, false);
}
