namespace Emu.X86;

/// <summary>Segment register numbers in x86 encoding order.</summary>
public enum SegReg
{
    ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5,
}
