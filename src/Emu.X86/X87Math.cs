using System.Numerics;

namespace Emu.X86;

/// <summary>The functions behind FSIN, FCOS, FPTAN, FPATAN, F2XM1, FYL2X and FYL2XP1 on finite operands, in
/// <see cref="BigFloat"/> working precision so that rounding the result to 64 bits is (almost always) correct.</summary>
internal static class X87Math
{
    /// <summary>π/2 as the x87 reduces arguments with it: the 66-bit π (π * 2^64 rounded to an integer) times 2^-65.
    /// FSIN/FCOS/FPTAN are accurate against this value, not the true π, which matters near multiples of π/2.</summary>
    static readonly BigInteger HardwarePi66 = BigInteger.Parse("03243F6A8885A308D3", System.Globalization.NumberStyles.HexNumber);
    const int HardwarePiScale = 65;

    /// <summary>π to working precision (Machin: 16 atan(1/5) - 4 atan(1/239)).</summary>
    public static readonly BigFloat Pi = AtanSeries(BigFloat.One / 5).Scale(4) - AtanSeries(BigFloat.One / 239).Scale(2);

    /// <summary>ln 2 to working precision (2 atanh(1/3)).</summary>
    public static readonly BigFloat Ln2 = AtanhSeries(BigFloat.One / 3).Scale(1);

    /// <summary>atan(t) = t - t^3/3 + t^5/5 - ... for small |t|, written t * (1 - t^2/3 + ...) to keep relative precision.</summary>
    static BigFloat AtanSeries(BigFloat t) => t * OddSeries(t * t, alternate: true);

    /// <summary>atanh(s) = s + s^3/3 + s^5/5 + ... for small |s|.</summary>
    static BigFloat AtanhSeries(BigFloat s) => s * OddSeries(s * s, alternate: false);

    /// <summary>1 ± q/3 + q^2/5 ± ... (signs alternate when asked).</summary>
    static BigFloat OddSeries(BigFloat q, bool alternate)
    {
        BigFloat sum = BigFloat.One, power = BigFloat.One;
        for (long n = 1; n < 10_000; n++)
        {
            power = power * q;
            if (alternate) power = power.Negate();
            BigFloat term = power / (2 * n + 1);
            bool last = BigFloat.Negligible(term, sum);
            sum += term;
            if (last) break;
        }
        return sum;
    }

    /// <summary>sin r and cos r for |r| &lt;= π/4 by their Taylor series.</summary>
    static void SinCosSmall(BigFloat r, out BigFloat sin, out BigFloat cos)
    {
        BigFloat q = r * r;
        BigFloat s = BigFloat.One, c = BigFloat.One, termS = BigFloat.One, termC = BigFloat.One;
        for (long n = 1; n < 10_000; n++)
        {
            termC = (termC * q / ((2 * n - 1) * (2 * n))).Negate();
            termS = (termS * q / ((2 * n) * (2 * n + 1))).Negate();
            bool doneC = BigFloat.Negligible(termC, c), doneS = BigFloat.Negligible(termS, s);
            c += termC;
            s += termS;
            if (doneC && doneS) break;
        }
        sin = r * s;
        cos = c;
    }

    /// <summary>Reduces |x| &lt; 2^63 by the hardware's π/2: x = k * π66/2 + r exactly, k the nearest integer.</summary>
    static BigFloat Reduce(BigFloat x, out int quadrant)
    {
        quadrant = 0;
        BigFloat ax = x.Abs();
        int shift = ax.Exp + HardwarePiScale;
        if (shift < 0 && ax.TopExp < -2) return x;   // far below π/4: k = 0
        BigInteger num = shift >= 0 ? ax.Man << shift : ax.Man;
        BigInteger den = shift >= 0 ? HardwarePi66 : HardwarePi66 << -shift;
        BigInteger k = (2 * num + den) / (2 * den);
        quadrant = (int)(k & 3);
        // r = (num - k * den) * 2^-(HardwarePiScale + max(0, -shift)); exact.
        var r = new BigFloat(num - k * den, -HardwarePiScale - Math.Max(0, -shift));
        return x.Sign < 0 ? r.Negate() : r;
    }

    /// <summary>sin x and cos x for finite |x| &lt; 2^63, with the hardware's argument reduction.</summary>
    public static void SinCos(BigFloat x, out BigFloat sin, out BigFloat cos)
    {
        BigFloat r = Reduce(x, out int q);
        // A negative x reduces to -r with the same quadrant: sin flips sign, cos does not.
        bool negative = x.Sign < 0;
        SinCosSmall(negative ? r.Negate() : r, out BigFloat s, out BigFloat c);
        (sin, cos) = q switch
        {
            0 => (s, c),
            1 => (c, s.Negate()),
            2 => (s.Negate(), c.Negate()),
            _ => (c.Negate(), s),
        };
        if (negative) sin = sin.Negate();
    }

    /// <summary>tan x for finite |x| &lt; 2^63, with the hardware's argument reduction.</summary>
    public static BigFloat Tan(BigFloat x)
    {
        BigFloat r = Reduce(x, out int q);
        // Where r^3/3 is far below the working precision, r + r^3/3 (a nudge above |r|) keeps the side of r the
        // true value lies on; a quotient of two nudged series would not.
        if ((q & 1) == 0 && r.TopExp < -BigFloat.Precision)
            return r + r * r * r / 3;
        SinCosSmall(r, out BigFloat s, out BigFloat c);
        return (q & 1) == 0 ? s / c : (c / s).Negate();
    }

    /// <summary>atan(t) for t &gt;= 0: two half-angle steps t / (1 + sqrt(1 + t^2)) bring t below tan(π/16), then the series.</summary>
    static BigFloat Atan(BigFloat t)
    {
        for (int i = 0; i < 2; i++)
            t = t / (BigFloat.One + (BigFloat.One + t * t).Sqrt());
        return AtanSeries(t).Scale(2);
    }

    /// <summary>atan2(y, x) for finite nonzero y and x: the angle of (x, y) in (-π, π].</summary>
    public static BigFloat Atan2(BigFloat y, BigFloat x)
    {
        BigFloat ay = y.Abs(), ax = x.Abs();
        BigFloat a = ay.CompareTo(ax) <= 0 ? Atan(ay / ax) : Pi.Scale(-1) - Atan(ax / ay);
        if (x.Sign < 0) a = Pi - a;
        return y.Sign < 0 ? a.Negate() : a;
    }

    /// <summary>log2 x for x &gt; 0: x = 2^e * m with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m - 1) / (m + 1)).</summary>
    public static BigFloat Log2(BigFloat x)
    {
        int e = x.TopExp;
        BigFloat m = x.Scale(-e);
        // m in [1, 2): past sqrt(2) (181/128 is close enough: the series converges either way) use m/2.
        if (m.CompareTo(new BigFloat(181, -7)) > 0) { m = m.Scale(-1); e++; }
        BigFloat lnM = AtanhSeries((m - BigFloat.One) / (m + BigFloat.One)).Scale(1);
        return BigFloat.FromInt(e) + lnM / Ln2;
    }

    /// <summary>log2(1 + x) for x &gt; -1, keeping relative precision for small x: ln(1 + x) = 2 atanh(x / (2 + x)).</summary>
    public static BigFloat Log2P1(BigFloat x)
    {
        if (x.Abs().CompareTo(new BigFloat(1, -2)) >= 0) return Log2(BigFloat.One + x);
        return AtanhSeries(x / (BigFloat.FromInt(2) + x)).Scale(1) / Ln2;
    }

    /// <summary>2^x - 1 for finite x, keeping relative precision for small x: e^z - 1 = z (1 + z/2! + z^2/3! + ...), z = x ln 2.</summary>
    public static BigFloat Exp2M1(BigFloat x)
    {
        // Split off an integer n beyond ±1/2 so the series argument stays small; clamp n far past the exponent range.
        int n = 0;
        if (x.Abs().CompareTo(new BigFloat(1, -1)) > 0)
        {
            BigFloat nearest = x + new BigFloat(x.Sign, -1);
            // Far outside the exponent range: overflow, or -1 from just above.
            if (nearest.TopExp > 20) return x.Sign > 0 ? BigFloat.One.Scale(1 << 20) : BigFloat.FromInt(-1) + BigFloat.One.Scale(-(1 << 20));
            n = (int)IntegerPart(nearest);
            x -= BigFloat.FromInt(n);
        }
        BigFloat z = x * Ln2;
        BigFloat sum = BigFloat.One, term = BigFloat.One;
        for (long k = 2; k < 10_000; k++)
        {
            term = term * z / k;
            bool last = BigFloat.Negligible(term, sum);
            sum += term;
            if (last) break;
        }
        BigFloat expm1 = z * sum;
        return n == 0 ? expm1 : (expm1 + BigFloat.One).Scale(n) - BigFloat.One;
    }

    /// <summary>The integer part (toward zero) of a value below 2^21 in magnitude.</summary>
    static long IntegerPart(BigFloat v) => (long)(v.Exp >= 0 ? v.Man << v.Exp : BigInteger.Divide(v.Man, BigInteger.One << -v.Exp));
}
