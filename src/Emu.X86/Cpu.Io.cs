using Iced.Intel;

namespace Emu.X86;

// IN/OUT with the protected-mode IOPL and TSS I/O permission bitmap checks.
public sealed partial class Cpu
{
    /// <summary>True if the current task may access <paramref name="size"/> ports at <paramref name="port"/>; raises #GP otherwise.</summary>
    bool IoPermitted(uint port, int size)
    {
        if (!ProtectedMode || (!V86 && _cpl <= Iopl)) return true;
        bool tss32 = (_tr.Attributes & 0xF) is 9 or 11;
        if (!tss32 || _tr.Limit < 0x67) { GP(0); return false; }
        uint mapBase = ReadSys16(_tr.Base + 0x66);
        uint byteOff = mapBase + (port >> 3);
        if (_faulted) return false;
        if (byteOff + 1 > _tr.Limit) { GP(0); return false; }
        uint bits = ReadSys16(_tr.Base + byteOff);
        if (_faulted) return false;
        uint mask = ((1u << size) - 1) << (int)(port & 7);
        if ((bits & mask) != 0) { GP(0); return false; }
        return true;
    }

    uint PortIn(ushort port, int size) => size switch
    {
        1 => _io.In8(port),
        2 => _io.In16(port),
        _ => _io.In32(port),
    };

    void PortOut(ushort port, int size, uint v)
    {
        if (size == 1) _io.Out8(port, (byte)v);
        else if (size == 2) _io.Out16(port, (ushort)v);
        else _io.Out32(port, v);
    }

    void In(ref Instruction i)
    {
        int size = RegSize(i.Op0Register);
        ushort port = (ushort)(i.Op1Kind == OpKind.Register ? R[2] : i.Immediate8);
        if (!IoPermitted(port, size)) return;
        SetReg(i.Op0Register, PortIn(port, size));
    }

    void Out(ref Instruction i)
    {
        int size = RegSize(i.Op1Register);
        ushort port = (ushort)(i.Op0Kind == OpKind.Register ? R[2] : i.Immediate8);
        if (!IoPermitted(port, size)) return;
        PortOut(port, size, GetReg(i.Op1Register));
    }
}
