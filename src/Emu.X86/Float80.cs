namespace Emu.X86;

/// <summary>An 80-bit x87 extended precision value: sign, 15-bit biased exponent, 64-bit significand with explicit integer bit.</summary>
public struct Float80 : IEquatable<Float80>
{
    public const int Bias = 16383;
    public const ushort MaxExp = 0x7FFF;

    public ulong Mantissa;
    /// <summary>Sign in bit 15, biased exponent in bits 0-14.</summary>
    public ushort SignExp;

    public Float80(ushort signExp, ulong mantissa) { SignExp = signExp; Mantissa = mantissa; }

    public readonly bool Sign => (SignExp & 0x8000) != 0;
    public readonly int Exponent => SignExp & 0x7FFF;
    public readonly bool IsZero => Exponent == 0 && Mantissa == 0;
    public readonly bool IsNaN => Exponent == MaxExp && (Mantissa << 1) != 0;
    public readonly bool IsSignalingNaN => IsNaN && (Mantissa & 0x4000_0000_0000_0000) == 0;
    public readonly bool IsInfinity => Exponent == MaxExp && (Mantissa << 1) == 0;
    public readonly bool IsDenormal => Exponent == 0 && Mantissa != 0;
    /// <summary>A nonzero exponent without the integer bit: invalid operand on 387 and later.</summary>
    public readonly bool IsUnsupported => Exponent != 0 && (Mantissa & 0x8000_0000_0000_0000) == 0;

    public static readonly Float80 Zero = new(0, 0);
    public static readonly Float80 One = new(Bias, 0x8000_0000_0000_0000);
    /// <summary>The "real indefinite" QNaN produced by masked invalid operations.</summary>
    public static readonly Float80 Indefinite = new(0xFFFF, 0xC000_0000_0000_0000);

    public static Float80 Infinity(bool negative) => new((ushort)(negative ? 0xFFFF : 0x7FFF), 0x8000_0000_0000_0000);

    public readonly Float80 Negate() => new((ushort)(SignExp ^ 0x8000), Mantissa);
    public readonly Float80 Abs() => new((ushort)(SignExp & 0x7FFF), Mantissa);

    public readonly bool Equals(Float80 other) => Mantissa == other.Mantissa && SignExp == other.SignExp;
    public override readonly bool Equals(object? obj) => obj is Float80 f && Equals(f);
    public override readonly int GetHashCode() => HashCode.Combine(Mantissa, SignExp);
    public override readonly string ToString() => $"{SignExp:X4}:{Mantissa:X16}";

    /// <summary>Converts to a double (rounding to nearest) — for transcendental approximations and debugging only.</summary>
    public readonly double ToDouble()
    {
        var st = new SoftFloat.Status();
        return BitConverter.UInt64BitsToDouble(SoftFloat.ToFloat64(this, SoftFloat.RoundNearest, ref st));
    }

    /// <summary>Exact conversion from a double.</summary>
    public static Float80 FromDouble(double d)
    {
        var st = new SoftFloat.Status();
        return SoftFloat.FromFloat64(BitConverter.DoubleToUInt64Bits(d), ref st);
    }
}
