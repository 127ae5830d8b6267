using System.Numerics;

namespace Emu.X86;

/// <summary>Binary floating point with an arbitrary-size significand truncated to <see cref="Precision"/> bits:
/// the working arithmetic of the x87 transcendentals, far wider than the 64-bit result they round to.</summary>
/// <remarks>Every inexact step truncates toward zero and sets the lowest significand bit ("jamming"), and a
/// negligible addend still nudges the sum its way, so a value never looks exact when it is not and keeps the side
/// of the true value on which it lies: directed rounding of results like sin x = x - x^3/6 for tiny x comes out right.</remarks>
internal readonly struct BigFloat
{
    /// <summary>Working precision in bits; series errors stay far below the 2^-64 relative the results need.</summary>
    public const int Precision = 128;

    /// <summary>Signed significand; the value is Man * 2^Exp.</summary>
    public readonly BigInteger Man;
    public readonly int Exp;

    public BigFloat(BigInteger man, int exp)
    {
        if (man.IsZero) { Man = man; Exp = 0; return; }
        long excess = BigInteger.Abs(man).GetBitLength() - Precision;
        if (excess > 0)
        {
            // Truncate the magnitude (a signed shift would round negative values the other way), jamming lost bits.
            BigInteger mag = BigInteger.Abs(man);
            bool lost = !(mag & ((BigInteger.One << (int)excess) - 1)).IsZero;
            mag >>= (int)excess;
            if (lost) mag |= BigInteger.One;
            man = man.Sign < 0 ? -mag : mag;
            exp += (int)excess;
        }
        Man = man;
        Exp = exp;
    }

    /// <summary>A magnitude result of a truncating division or root: jams the lowest bit when something was left over.</summary>
    static BigInteger Jam(BigInteger q, bool inexact) => inexact ? (q.Sign < 0 ? -(-q | BigInteger.One) : q | BigInteger.One) : q;

    public static readonly BigFloat Zero = new(BigInteger.Zero, 0);
    public static readonly BigFloat One = new(BigInteger.One, 0);

    public bool IsZero => Man.IsZero;
    public int Sign => Man.Sign;

    /// <summary>Exponent of the leading bit: 2^TopExp &lt;= |value| &lt; 2^(TopExp+1).</summary>
    public int TopExp => Exp + (int)BigInteger.Abs(Man).GetBitLength() - 1;

    public static BigFloat FromInt(long v) => new(v, 0);

    /// <summary>The exact value of a finite extended-precision number.</summary>
    public static BigFloat From(Float80 f)
    {
        int e = f.Exponent == 0 ? 1 : f.Exponent;
        BigInteger m = f.Mantissa;
        return new(f.Sign ? -m : m, e - Float80.Bias - 63);
    }

    public BigFloat Negate() => new(-Man, Exp);
    public BigFloat Abs() => new(BigInteger.Abs(Man), Exp);

    /// <summary>Multiplies by 2^k exactly.</summary>
    public BigFloat Scale(int k) => IsZero ? this : new(Man, Exp + k);

    public static BigFloat operator +(BigFloat a, BigFloat b)
    {
        if (a.IsZero) return b;
        if (b.IsZero) return a;
        // An operand entirely below the other's working precision only nudges the sum by less than a unit, its way.
        if (a.TopExp - b.TopExp > Precision + 2) return Nudge(a, b.Sign);
        if (b.TopExp - a.TopExp > Precision + 2) return Nudge(b, a.Sign);
        int e = Math.Min(a.Exp, b.Exp);
        return new((a.Man << (a.Exp - e)) + (b.Man << (b.Exp - e)), e);
    }

    static BigFloat Nudge(BigFloat a, int direction)
    {
        int k = Precision + 2 - (int)BigInteger.Abs(a.Man).GetBitLength();
        return new((a.Man << k) + direction, a.Exp - k);
    }

    public static BigFloat operator -(BigFloat a, BigFloat b) => a + b.Negate();

    public static BigFloat operator *(BigFloat a, BigFloat b) => new(a.Man * b.Man, a.Exp + b.Exp);

    public static BigFloat operator /(BigFloat a, BigFloat b)
    {
        if (b.IsZero) throw new DivideByZeroException();
        if (a.IsZero) return a;
        int shift = Precision + 2 + (int)(BigInteger.Abs(b.Man).GetBitLength() - BigInteger.Abs(a.Man).GetBitLength());
        shift = Math.Max(shift, 0);
        BigInteger q = BigInteger.DivRem(a.Man << shift, b.Man, out BigInteger rem);
        return new(Jam(q, !rem.IsZero), a.Exp - shift - b.Exp);
    }

    public static BigFloat operator /(BigFloat a, long b) => a / FromInt(b);

    /// <summary>Square root of a nonnegative value (Newton's method on the integer significand).</summary>
    public BigFloat Sqrt()
    {
        if (Sign < 0) throw new ArgumentOutOfRangeException(nameof(Man));
        if (IsZero) return this;
        int shift = 2 * Precision - (int)Man.GetBitLength();
        if (((Exp - shift) & 1) != 0) shift++;
        BigInteger n = Man << shift;
        BigInteger x = BigInteger.One << (int)((n.GetBitLength() + 1) / 2);
        while (true)
        {
            BigInteger y = (x + n / x) >> 1;
            if (y >= x) break;
            x = y;
        }
        return new(Jam(x, x * x != n), (Exp - shift) / 2);
    }

    public int CompareTo(BigFloat b) => (this - b).Sign;

    /// <summary>True when the sum of a series can no longer change: |term| is below 2^-(Precision+4) of |sum|.</summary>
    public static bool Negligible(BigFloat term, BigFloat sum) => term.IsZero || (!sum.IsZero && term.TopExp < sum.TopExp - Precision - 4);

    /// <summary>Rounds to an extended-precision value with the given precision control and rounding mode, reporting PE/UE/OE and the rounding direction.</summary>
    public Float80 Round(int prec, int rc, ref SoftFloat.Status st)
    {
        if (IsZero) return new Float80((ushort)(Sign < 0 ? 0x8000 : 0), 0);
        BigInteger mag = BigInteger.Abs(Man);
        int len = (int)mag.GetBitLength();
        UInt128 sig;
        int exp;
        if (len > 128)
        {
            BigInteger top = mag >> (len - 128);
            sig = (UInt128)top;
            // Bits below the 128 kept make the value inexact even when they sit past the rounding point.
            if (!(mag & ((BigInteger.One << (len - 128)) - 1)).IsZero) sig |= 1;
            exp = Exp + len - 128;
        }
        else
        {
            sig = (UInt128)mag << (128 - len);
            exp = Exp - (128 - len);
        }
        // sig * 2^exp: the significand's top bit is bit 127, so the biased exponent is exp + 127 + Bias.
        long biased = (long)exp + 127 + Float80.Bias;
        int be = (int)Math.Clamp(biased, -100_000, 100_000);
        return SoftFloat.RoundPack(Sign < 0, be, sig, prec, rc, ref st);
    }
}
