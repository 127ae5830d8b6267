using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Emu.X86;

// Operand access for decoded instructions: registers by Iced register, effective addresses, and
// read/modify/write of operand 0 with the write permission checked before anything changes.
public sealed partial class Cpu
{
    static readonly byte[] MemSize = BuildMemSizeTable();
    uint _rmwLin, _rmwPhys;   // the pending read-modify-write target
    bool _rmwSplit;           // it crosses a page: write through the linear path

    static byte[] BuildMemSizeTable()
    {
        var t = new byte[Enum.GetValues<MemorySize>().Length + 1];
        foreach (MemorySize m in Enum.GetValues<MemorySize>()) t[(int)m] = (byte)Math.Min(255, m.GetSize());
        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int RegSize(Register r)
    {
        if ((uint)(r - Register.EAX) < 8) return 4;
        if ((uint)(r - Register.AX) < 8) return 2;
        return 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint GetReg(Register r)
    {
        uint i = (uint)(r - Register.EAX);
        if (i < 8) return R[(int)i];
        i = (uint)(r - Register.AX);
        if (i < 8) return (ushort)R[(int)i];
        i = (uint)(r - Register.AL);
        if (i < 8) return GetReg8((int)i);
        i = (uint)(r - Register.ES);
        if (i < 6) return S[i].Selector;
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void SetReg(Register r, uint v)
    {
        uint i = (uint)(r - Register.EAX);
        if (i < 8) { R[(int)i] = v; return; }
        i = (uint)(r - Register.AX);
        if (i < 8) { SetReg16((int)i, v); return; }
        i = (uint)(r - Register.AL);
        if (i < 8) SetReg8((int)i, v);
    }

    /// <summary>A byte register by number: AL, CL, DL, BL, AH, CH, DH, BH = 0..7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint GetReg8(int n) => n < 4 ? (byte)R[n] : (byte)(R[n - 4] >> 8);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void SetReg8(int n, uint v)
    {
        if (n < 4) R[n] = (R[n] & 0xFFFFFF00) | (v & 0xFF);
        else R[n - 4] = (R[n - 4] & 0xFFFF00FF) | ((v & 0xFF) << 8);
    }

    /// <summary>Writes the low word of a general register (AX = 0 .. DI = 7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void SetReg16(int n, uint v) => R[n] = (R[n] & 0xFFFF0000) | (v & 0xFFFF);

    /// <summary>Size in bytes of operand 0 (register or memory).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int OpSize(in Instruction i) => i.Op0Kind == OpKind.Register ? RegSize(i.Op0Register) : MemSize[(int)i.MemorySize];

    /// <summary>True when the memory operand uses 16-bit addressing.</summary>
    static bool Addr16(in Instruction i)
    {
        Register b = i.MemoryBase;
        if (b == Register.None) b = i.MemoryIndex;
        if (b == Register.None) return i.MemoryDisplSize == 2;
        return (uint)(b - Register.AX) < 8;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint EffAddr(in Instruction i)
    {
        uint ea = i.MemoryDisplacement32;
        Register b = i.MemoryBase;
        uint bi = (uint)(b - Register.EAX);
        if (bi < 8)
        {
            ea += R[(int)bi];
            Register x = i.MemoryIndex;
            if (x != Register.None) ea += GetReg(x) * (uint)i.MemoryIndexScale;
            return ea;
        }
        bi = (uint)(b - Register.AX);
        if (bi < 8)
        {
            // 16-bit addressing: [BX/BP + SI/DI + disp] wraps at 64 KiB.
            ea += R[(int)bi];
            Register x = i.MemoryIndex;
            if (x != Register.None) ea += GetReg(x);
            return ea & 0xFFFF;
        }
        return EffAddrSlow(i, ea);
    }

    /// <summary>The offset a decoded form's memory operand addresses.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint EffAddr(in OpForm f)
    {
        uint ea = f.Disp;
        int b = f.Base, x = f.Index;
        if ((b & OpForm.NoRegister) == 0) ea += R[b & 7];
        if (x != OpForm.NoRegister) ea += R[x & 7] << (x >> 3);
        return b < OpForm.Addr16Bit ? ea : ea & 0xFFFF;
    }

    uint EffAddrSlow(in Instruction i, uint ea)
    {
        Register b = i.MemoryBase, x = i.MemoryIndex;
        if (b != Register.None) ea += GetReg(b);
        if (x != Register.None) ea += GetReg(x) * (uint)i.MemoryIndexScale;
        return Addr16(i) ? ea & 0xFFFF : ea;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int MemSeg(in Instruction i) => i.MemorySegment - Register.ES;

    uint ReadOp(in Instruction i, int n, int size)
    {
        switch (i.GetOpKind(n))
        {
            case OpKind.Register: return GetReg(i.GetOpRegister(n));
            case OpKind.Memory: return ReadMem(MemSeg(i), EffAddr(i), size);
            case OpKind.Immediate8: return i.Immediate8;
            case OpKind.Immediate16: return i.Immediate16;
            case OpKind.Immediate32: return i.Immediate32;
            case OpKind.Immediate8to16: return (ushort)i.Immediate8to16;
            case OpKind.Immediate8to32: return (uint)i.Immediate8to32;
            case OpKind.Immediate8_2nd: return i.Immediate8_2nd;
            default: return 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint ReadOp1(in Instruction i, int size)
    {
        if (i.Op1Kind == OpKind.Register) return GetReg(i.Op1Register);
        return ReadOp(i, 1, size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint ReadOp0(in Instruction i, int size)
    {
        if (i.Op0Kind == OpKind.Register) return GetReg(i.Op0Register);
        return ReadMem(MemSeg(i), EffAddr(i), size);
    }

    void WriteOp0(in Instruction i, int size, uint v)
    {
        if (i.Op0Kind == OpKind.Register) SetReg(i.Op0Register, v);
        else WriteMem(MemSeg(i), EffAddr(i), size, v);
    }

    /// <summary>Reads operand 0 for a read-modify-write, checking that the later write cannot fault.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint ReadOp0Rmw(in Instruction i, int size)
    {
        if (i.Op0Kind == OpKind.Register) return GetReg(i.Op0Register);
        return ReadRmwMem(MemSeg(i), EffAddr(i), size);
    }

    uint ReadRmwMem(int seg, uint offset, int size)
    {
        uint lin = SegLinear(seg, offset, size, true);
        if (_faulted) return 0;
        _rmwLin = lin;
        if (((lin + (uint)size - 1) ^ lin) < 0x1000)
        {
            // Within one page: translate once with write intent and keep the physical address for the write.
            uint p = Translate(lin, true, _user);
            if (_faulted) return 0;
            _rmwPhys = p;
            _rmwSplit = false;
            return size == 4 ? _mem.Read32(p) : size == 2 ? _mem.Read16(p) : _mem.Read8(p);
        }
        if (!ProbeWrite(lin, size, _user)) return 0;
        _rmwSplit = true;
        return ReadLin(lin, size, _user);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void WriteOp0Rmw(in Instruction i, int size, uint v)
    {
        if (i.Op0Kind == OpKind.Register) SetReg(i.Op0Register, v);
        else WriteRmwMem(size, v);
    }

    /// <summary>Completes a read-modify-write started by <see cref="ReadRmwMem"/>.</summary>
    void WriteRmwMem(int size, uint v)
    {
        if (_rmwSplit) { WriteLin(_rmwLin, size, v, _user); return; }
        uint p = _rmwPhys;
        NoteWrite(p, size);
        if (size == 4) _mem.Write32(p, v);
        else if (size == 2) _mem.Write16(p, (ushort)v);
        else _mem.Write8(p, (byte)v);
    }

    /// <summary>Relative branch target of a near branch decoded at a page offset, rebased on the current EIP.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint BranchTarget(in Instruction i)
    {
        uint t = _eip + ((uint)i.NearBranchTarget - (uint)i.NextIP);
        return i.Op0Kind == OpKind.NearBranch32 ? t : t & 0xFFFF;
    }
}
