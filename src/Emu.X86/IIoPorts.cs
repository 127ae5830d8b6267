namespace Emu.X86;

/// <summary>The x86 I/O port space as seen by IN/OUT/INS/OUTS.</summary>
public interface IIoPorts
{
    byte In8(ushort port);
    ushort In16(ushort port);
    uint In32(ushort port);
    void Out8(ushort port, byte value);
    void Out16(ushort port, ushort value);
    void Out32(ushort port, uint value);
}
