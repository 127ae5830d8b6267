namespace Emu.X86;

/// <summary>An 80-bit x87 extended precision value: sign, 15-bit exponent, 64-bit significand with explicit integer bit.</summary>
public struct Float80
{
    public ulong Mantissa;
    /// <summary>Sign in bit 15, biased exponent in bits 0-14.</summary>
    public ushort SignExp;
}
