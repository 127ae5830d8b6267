using System.Numerics;

namespace Emu.X86;

/// <summary>Bit-exact x87 extended precision arithmetic with rounding control and precision control.</summary>
/// <remarks>Values are unpacked to a sign, a biased exponent and a 128-bit significand whose integer bit is
/// bit 127; the low 64 bits carry guard and sticky information down to the final rounding.</remarks>
public static class SoftFloat
{
    public const int RoundNearest = 0, RoundDown = 1, RoundUp = 2, RoundChop = 3;
    public const int IE = 1, DE = 2, ZE = 4, OE = 8, UE = 0x10, PE = 0x20;

    /// <summary>Exception flags raised by an operation plus whether the result was rounded away from zero (C1).</summary>
    public struct Status
    {
        public int Flags;
        public bool RoundedUp;
    }

    const int Bias = Float80.Bias;
    const ulong IntBit = 0x8000_0000_0000_0000;
    const ulong QuietBit = 0x4000_0000_0000_0000;

    // ---- helpers ----

    static UInt128 ShiftRightJam(UInt128 v, int n)
    {
        if (n <= 0) return v;
        if (n >= 128) return v != 0 ? UInt128.One : UInt128.Zero;
        UInt128 r = v >> n;
        if ((v & (((UInt128)1 << n) - 1)) != 0) r |= 1;
        return r;
    }

    /// <summary>Splits a finite nonzero value into sign, biased exponent (denormals normalized, may be &lt; 1) and a normalized significand.</summary>
    static void Unpack(Float80 a, out bool sign, out int exp, out ulong mant)
    {
        sign = a.Sign;
        exp = a.Exponent;
        mant = a.Mantissa;
        if (exp == 0)
        {
            int lz = BitOperations.LeadingZeroCount(mant);
            mant <<= lz;
            exp = 1 - lz;
        }
    }

    static Float80 Pack(bool sign, int exp, ulong mant) => new((ushort)((sign ? 0x8000 : 0) | exp), mant);

    internal static Float80 Quiet(Float80 a) => new(a.SignExp, a.Mantissa | QuietBit);

    internal static Float80 PropagateNaN(Float80 a, Float80 b, ref Status st)
    {
        if (a.IsSignalingNaN || b.IsSignalingNaN) st.Flags |= IE;
        if (a.IsNaN && b.IsNaN) return Quiet((a.Mantissa << 1) >= (b.Mantissa << 1) ? a : b);
        return Quiet(a.IsNaN ? a : b);
    }

    static Float80 Invalid(ref Status st)
    {
        st.Flags |= IE;
        return Float80.Indefinite;
    }

    /// <summary>Rounds a normalized significand to <paramref name="prec"/> bits within the exponent range [emin, emax].</summary>
    /// <returns>The biased exponent (emin with a clear integer bit for denormals) and significand; exp &gt; emax means infinity.</returns>
    static ulong RoundTo(bool sign, ref int exp, UInt128 sig, int prec, int rc, int emin, int emax, ref Status st)
    {
        if (sig == 0) { exp = 0; return 0; }
        bool tiny = false;
        if (exp < emin)
        {
            // x87 detects tininess after rounding with an unbounded exponent: a result just below the
            // smallest normal that rounds up to it is not tiny.
            tiny = exp < emin - 1 || !RoundsIntoNextBinade(sign, sig, prec, rc);
            sig = ShiftRightJam(sig, emin - exp);
            exp = emin;
        }
        int drop = 128 - prec;
        UInt128 lsb = (UInt128)1 << drop;
        UInt128 rem = sig & (lsb - 1);
        sig -= rem;
        if (rem != 0)
        {
            st.Flags |= PE;
            if (tiny) st.Flags |= UE;
            UInt128 half = lsb >> 1;
            bool inc = rc switch
            {
                RoundNearest => rem > half || (rem == half && (sig & lsb) != 0),
                RoundDown => sign,
                RoundUp => !sign,
                _ => false,
            };
            if (inc)
            {
                st.RoundedUp = true;
                sig += lsb;
                if (sig == 0) { sig = (UInt128)1 << 127; exp++; }
            }
        }
        if (exp > emax)
        {
            st.Flags |= OE | PE;
            bool toInf = rc == RoundNearest || (rc == RoundUp && !sign) || (rc == RoundDown && sign);
            if (toInf) { st.RoundedUp = true; exp = emax + 1; return IntBit; }
            exp = emax;
            st.RoundedUp = false;
            return prec == 64 ? ulong.MaxValue : ulong.MaxValue << (64 - prec);
        }
        return (ulong)(sig >> 64);
    }

    /// <summary>Whether rounding the normalized <paramref name="sig"/> to <paramref name="prec"/> bits carries into the next power of two.</summary>
    static bool RoundsIntoNextBinade(bool sign, UInt128 sig, int prec, int rc)
    {
        UInt128 lsb = (UInt128)1 << (128 - prec);
        UInt128 rem = sig & (lsb - 1);
        if (rem == 0 || (sig | (lsb - 1)) != UInt128.MaxValue) return false;
        return rc switch
        {
            RoundNearest => rem >= lsb >> 1,   // kept bits all ones, so a tie rounds up to even too
            RoundDown => sign,
            RoundUp => !sign,
            _ => false,
        };
    }

    /// <summary>Rounds to the extended format at precision <paramref name="prec"/> (24, 53 or 64 bits).</summary>
    internal static Float80 RoundPack(bool sign, int exp, UInt128 sig, int prec, int rc, ref Status st)
    {
        if (sig == 0) return Pack(sign, 0, 0);
        int lz = (int)UInt128.LeadingZeroCount(sig);
        sig <<= lz;
        exp -= lz;
        ulong m = RoundTo(sign, ref exp, sig, prec, rc, 1, 0x7FFE, ref st);
        if (exp > 0x7FFE) return Float80.Infinity(sign);
        if ((m & IntBit) == 0) exp = 0;   // denormal or zero
        return Pack(sign, exp, m);
    }

    // ---- arithmetic ----

    public static Float80 Add(Float80 a, Float80 b, int rc, int prec, ref Status st) => AddCore(a, b, rc, prec, ref st);

    public static Float80 Sub(Float80 a, Float80 b, int rc, int prec, ref Status st)
    {
        if (b.IsNaN) return PropagateNaN(a, b, ref st);
        return AddCore(a, b.Negate(), rc, prec, ref st);
    }

    static Float80 AddCore(Float80 a, Float80 b, int rc, int prec, ref Status st)
    {
        if (a.IsNaN || b.IsNaN) return PropagateNaN(a, b, ref st);
        if (a.IsUnsupported || b.IsUnsupported) return Invalid(ref st);
        if (a.IsDenormal || b.IsDenormal) st.Flags |= DE;
        if (a.IsInfinity)
        {
            if (b.IsInfinity && a.Sign != b.Sign) return Invalid(ref st);
            return a;
        }
        if (b.IsInfinity) return b;
        if (a.IsZero && b.IsZero)
        {
            bool neg = a.Sign == b.Sign ? a.Sign : rc == RoundDown;
            return Pack(neg, 0, 0);
        }
        if (a.IsZero) { Unpack(b, out bool sb0, out int eb0, out ulong mb0); return RoundPack(sb0, eb0, (UInt128)mb0 << 64, prec, rc, ref st); }
        if (b.IsZero) { Unpack(a, out bool sa0, out int ea0, out ulong ma0); return RoundPack(sa0, ea0, (UInt128)ma0 << 64, prec, rc, ref st); }

        Unpack(a, out bool sa, out int ea, out ulong ma);
        Unpack(b, out bool sb, out int eb, out ulong mb);
        // One spare top bit absorbs the carry of an addition.
        UInt128 x = (UInt128)ma << 63, y = (UInt128)mb << 63;
        int exp;
        if (ea >= eb) { y = ShiftRightJam(y, ea - eb); exp = ea; }
        else { x = ShiftRightJam(x, eb - ea); exp = eb; }
        exp += 1;
        if (sa == sb) return RoundPack(sa, exp, x + y, prec, rc, ref st);
        if (x == y) return Pack(rc == RoundDown, 0, 0);
        return x > y ? RoundPack(sa, exp, x - y, prec, rc, ref st) : RoundPack(sb, exp, y - x, prec, rc, ref st);
    }

    public static Float80 Mul(Float80 a, Float80 b, int rc, int prec, ref Status st)
    {
        if (a.IsNaN || b.IsNaN) return PropagateNaN(a, b, ref st);
        if (a.IsUnsupported || b.IsUnsupported) return Invalid(ref st);
        bool sign = a.Sign ^ b.Sign;
        if (a.IsDenormal || b.IsDenormal) st.Flags |= DE;
        if (a.IsInfinity || b.IsInfinity)
        {
            if (a.IsZero || b.IsZero) return Invalid(ref st);
            return Float80.Infinity(sign);
        }
        if (a.IsZero || b.IsZero) return Pack(sign, 0, 0);
        Unpack(a, out _, out int ea, out ulong ma);
        Unpack(b, out _, out int eb, out ulong mb);
        ulong hi = Math.BigMul(ma, mb, out ulong lo);
        UInt128 p = new(hi, lo);
        // The product of two [1,2) significands is in [1,4): its bit 126 is worth 1.
        return RoundPack(sign, ea + eb - Bias + 1, p, prec, rc, ref st);
    }

    public static Float80 Div(Float80 a, Float80 b, int rc, int prec, ref Status st)
    {
        if (a.IsNaN || b.IsNaN) return PropagateNaN(a, b, ref st);
        if (a.IsUnsupported || b.IsUnsupported) return Invalid(ref st);
        bool sign = a.Sign ^ b.Sign;
        if (a.IsInfinity)
        {
            if (b.IsInfinity) return Invalid(ref st);
            if (b.IsDenormal) st.Flags |= DE;
            return Float80.Infinity(sign);
        }
        // Zero divide outranks the denormal-operand report.
        if (b.IsZero)
        {
            if (a.IsZero) return Invalid(ref st);
            st.Flags |= ZE;
            return Float80.Infinity(sign);
        }
        if (a.IsDenormal || b.IsDenormal) st.Flags |= DE;
        if (b.IsInfinity) return Pack(sign, 0, 0);
        if (a.IsZero) return Pack(sign, 0, 0);
        Unpack(a, out _, out int ea, out ulong ma);
        Unpack(b, out _, out int eb, out ulong mb);
        int exp = ea - eb + Bias;
        UInt128 dividend;
        if (ma >= mb) dividend = (UInt128)ma << 63;
        else { dividend = (UInt128)ma << 64; exp--; }
        UInt128 q1 = dividend / mb, r1 = dividend % mb;
        UInt128 d2 = r1 << 64;
        UInt128 q2 = d2 / mb, r2 = d2 % mb;
        UInt128 sig = (q1 << 64) | q2;
        if (r2 != 0) sig |= 1;
        return RoundPack(sign, exp, sig, prec, rc, ref st);
    }

    public static Float80 Sqrt(Float80 a, int rc, int prec, ref Status st)
    {
        if (a.IsNaN) return PropagateNaN(a, a, ref st);
        if (a.IsUnsupported) return Invalid(ref st);
        if (a.IsZero) return a;
        if (a.Sign) return Invalid(ref st);
        if (a.IsInfinity) return a;
        if (a.IsDenormal) st.Flags |= DE;
        Unpack(a, out _, out int ea, out ulong ma);
        int e = ea - Bias;
        UInt128 radicand;
        int exp;
        if ((e & 1) == 0) { radicand = (UInt128)ma << 63; exp = e / 2 + Bias; }
        else { radicand = (UInt128)ma << 64; exp = (e - 1) / 2 + Bias; }
        ulong s = ISqrt(radicand, out UInt128 rem);
        // rem > s means the true root exceeds s + 1/2; an exact half is impossible.
        UInt128 sig = ((UInt128)s << 64) | (rem > s ? (UInt128)IntBit : 0) | (rem != 0 ? 1u : 0u);
        return RoundPack(false, exp, sig, prec, rc, ref st);
    }

    static ulong ISqrt(UInt128 v, out UInt128 rem)
    {
        ulong s = (ulong)Math.Sqrt((double)v);
        for (int i = 0; i < 4; i++)
        {
            if (s == 0) break;
            UInt128 next = (s + v / s) >> 1;
            s = next > ulong.MaxValue ? ulong.MaxValue : (ulong)next;
        }
        while ((UInt128)s * s > v) s--;
        while (s != ulong.MaxValue && (UInt128)(s + 1) * (s + 1) <= v) s++;
        rem = v - (UInt128)s * s;
        return s;
    }

    /// <summary>Rounds to an integral value per <paramref name="rc"/> (FRNDINT).</summary>
    public static Float80 RoundToIntegral(Float80 a, int rc, ref Status st)
    {
        if (a.IsNaN) return PropagateNaN(a, a, ref st);
        if (a.IsUnsupported) return Invalid(ref st);
        if (a.IsInfinity || a.IsZero) return a;
        if (a.IsDenormal) st.Flags |= DE;
        Unpack(a, out bool sign, out int exp, out ulong m);
        int e = exp - Bias;
        if (e >= 63) return a;
        if (e < 0)
        {
            st.Flags |= PE;
            bool up = rc switch
            {
                RoundNearest => e == -1 && m > IntBit,
                RoundDown => sign,
                RoundUp => !sign,
                _ => false,
            };
            if (up) { st.RoundedUp = true; return Pack(sign, Bias, IntBit); }
            return Pack(sign, 0, 0);
        }
        int fbits = 63 - e;
        ulong mask = (1UL << fbits) - 1;
        ulong rem = m & mask, ip = m & ~mask;
        if (rem == 0) return Pack(sign, exp, m);
        st.Flags |= PE;
        ulong half = 1UL << (fbits - 1), lsb = 1UL << fbits;
        bool inc = rc switch
        {
            RoundNearest => rem > half || (rem == half && (ip & lsb) != 0),
            RoundDown => sign,
            RoundUp => !sign,
            _ => false,
        };
        if (inc)
        {
            st.RoundedUp = true;
            ip += lsb;
            if (ip == 0) { ip = IntBit; exp++; }
        }
        return Pack(sign, exp, ip);
    }

    /// <summary>Converts to a signed integer of <paramref name="bits"/> bits; out of range gives the integer indefinite and IE.</summary>
    public static long ToInt(Float80 a, int bits, int rc, ref Status st)
    {
        long indefinite = bits == 64 ? long.MinValue : -(1L << (bits - 1));
        if (a.IsNaN || a.IsInfinity || a.IsUnsupported) { st.Flags |= IE; return indefinite; }
        // Stores do not report denormal operands.
        var rs = new Status();
        Float80 r = RoundToIntegral(a, rc, ref rs);
        st.Flags |= rs.Flags & ~DE;
        st.RoundedUp |= rs.RoundedUp;
        if (r.IsZero) return 0;
        int e = r.Exponent - Bias;
        if (e > 63) { st.Flags |= IE; st.Flags &= ~PE; return indefinite; }
        ulong mag = r.Mantissa >> (63 - e);
        ulong limit = r.Sign ? 1UL << (bits - 1) : (1UL << (bits - 1)) - 1;
        if (mag > limit) { st.Flags = (st.Flags | IE) & ~PE; st.RoundedUp = false; return indefinite; }
        return r.Sign ? -(long)mag : (long)mag;
    }

    /// <summary>Exact conversion from a signed 64-bit integer.</summary>
    public static Float80 FromInt64(long v)
    {
        if (v == 0) return Float80.Zero;
        bool sign = v < 0;
        ulong mag = sign ? (ulong)(-v) : (ulong)v;
        int lz = BitOperations.LeadingZeroCount(mag);
        return Pack(sign, Bias + 63 - lz, mag << lz);
    }

    // ---- IEEE single and double ----

    public static Float80 FromFloat64(ulong bits, ref Status st) => FromIeee(bits, 11, 52, ref st);
    public static Float80 FromFloat32(uint bits, ref Status st) => FromIeee(bits, 8, 23, ref st);

    static Float80 FromIeee(ulong bits, int expBits, int fracBits, ref Status st)
    {
        bool sign = (bits >> (expBits + fracBits)) != 0;
        int exp = (int)(bits >> fracBits) & ((1 << expBits) - 1);
        ulong frac = bits & ((1UL << fracBits) - 1);
        int bias = (1 << (expBits - 1)) - 1;
        if (exp == (1 << expBits) - 1)
        {
            if (frac == 0) return Float80.Infinity(sign);
            ulong m = IntBit | (frac << (63 - fracBits));
            if ((m & QuietBit) == 0) { st.Flags |= IE; m |= QuietBit; }
            return Pack(sign, 0x7FFF, m);
        }
        if (exp == 0)
        {
            if (frac == 0) return Pack(sign, 0, 0);
            st.Flags |= DE;
            int lz = BitOperations.LeadingZeroCount(frac) - (64 - fracBits);   // zeros within the fraction field
            return Pack(sign, Bias - bias - lz, frac << (63 - fracBits + lz + 1));
        }
        return Pack(sign, exp - bias + Bias, IntBit | (frac << (63 - fracBits)));
    }

    public static ulong ToFloat64(Float80 a, int rc, ref Status st) => ToIeee(a, 11, 52, rc, ref st);
    public static uint ToFloat32(Float80 a, int rc, ref Status st) => (uint)ToIeee(a, 8, 23, rc, ref st);

    static ulong ToIeee(Float80 a, int expBits, int fracBits, int rc, ref Status st)
    {
        ulong signBit = a.Sign ? 1UL << (expBits + fracBits) : 0;
        int maxField = (1 << expBits) - 1;
        int bias = (1 << (expBits - 1)) - 1;
        if (a.IsNaN || a.IsUnsupported)
        {
            if (a.IsSignalingNaN || a.IsUnsupported) st.Flags |= IE;
            if (a.IsUnsupported) return (1UL << (expBits + fracBits)) | ((ulong)maxField << fracBits) | (1UL << (fracBits - 1));
            ulong payload = (a.Mantissa & ~IntBit) >> (63 - fracBits);
            return signBit | ((ulong)maxField << fracBits) | payload | (1UL << (fracBits - 1));
        }
        if (a.IsInfinity) return signBit | ((ulong)maxField << fracBits);
        if (a.IsZero) return signBit;
        Unpack(a, out bool sign, out int exp, out ulong m);
        int emin = Bias - bias + 1, emax = Bias + bias;
        ulong r = RoundTo(sign, ref exp, (UInt128)m << 64, fracBits + 1, rc, emin, emax, ref st);
        if (exp > emax) return signBit | ((ulong)maxField << fracBits);
        if ((r & IntBit) == 0)
            return signBit | (r >> (63 - fracBits));           // denormal (or zero after rounding)
        int field = exp - Bias + bias;
        return signBit | ((ulong)field << fracBits) | ((r & ~IntBit) >> (63 - fracBits));
    }

    // ---- comparison ----

    /// <summary>Compares: -1 less, 0 equal, 1 greater, 2 unordered. IE for SNaN, or any NaN unless <paramref name="quiet"/>.</summary>
    public static int Compare(Float80 a, Float80 b, bool quiet, ref Status st)
    {
        if (a.IsNaN || b.IsNaN || a.IsUnsupported || b.IsUnsupported)
        {
            if (!quiet || a.IsSignalingNaN || b.IsSignalingNaN || a.IsUnsupported || b.IsUnsupported) st.Flags |= IE;
            return 2;
        }
        if (a.IsDenormal || b.IsDenormal) st.Flags |= DE;
        if (a.IsZero && b.IsZero) return 0;
        if (a.Sign != b.Sign) return a.Sign ? -1 : 1;
        int mag;
        if (a.IsZero) mag = -1;
        else if (b.IsZero) mag = 1;
        else
        {
            Unpack(a, out _, out int ea, out ulong ma);
            Unpack(b, out _, out int eb, out ulong mb);
            mag = ea != eb ? (ea < eb ? -1 : 1) : ma == mb ? 0 : ma < mb ? -1 : 1;
        }
        return a.Sign ? -mag : mag;
    }

    // ---- exponent manipulation and remainders ----

    /// <summary>FSCALE: a * 2^trunc(b).</summary>
    public static Float80 Scale(Float80 a, Float80 b, int rc, int prec, ref Status st)
    {
        if (a.IsNaN || b.IsNaN) return PropagateNaN(a, b, ref st);
        if (a.IsUnsupported || b.IsUnsupported) return Invalid(ref st);
        if (b.IsInfinity)
        {
            if (b.Sign) return a.IsInfinity ? Invalid(ref st) : Pack(a.Sign, 0, 0);
            return a.IsZero ? Invalid(ref st) : Float80.Infinity(a.Sign);
        }
        if (a.IsDenormal) st.Flags |= DE;
        if (a.IsInfinity || a.IsZero) return a;
        var tmp = new Status();
        long n = ToInt(b, 64, RoundChop, ref tmp);
        if ((tmp.Flags & IE) != 0) n = b.Sign ? -100000 : 100000;
        n = Math.Clamp(n, -100000, 100000);
        Unpack(a, out bool sign, out int ea, out ulong ma);
        return RoundPack(sign, ea + (int)n, (UInt128)ma << 64, 64, rc, ref st);
    }

    /// <summary>FXTRACT: splits into the unbiased exponent (as a value) and the significand scaled to [1,2).</summary>
    public static (Float80 Exponent, Float80 Significand) Extract(Float80 a, ref Status st)
    {
        if (a.IsNaN) { var q = PropagateNaN(a, a, ref st); return (q, q); }
        if (a.IsInfinity) return (Float80.Infinity(false), a);
        if (a.IsZero) { st.Flags |= ZE; return (Float80.Infinity(true), a); }
        if (a.IsDenormal) st.Flags |= DE;
        Unpack(a, out bool sign, out int ea, out ulong ma);
        return (FromInt64(ea - Bias), Pack(sign, Bias, ma));
    }

    /// <summary>FPREM (truncating) or FPREM1 (IEEE nearest) partial remainder; reports the low quotient bits and completion.</summary>
    public static Float80 Remainder(Float80 a, Float80 b, bool ieee, out ulong quotient, out bool incomplete, ref Status st)
    {
        quotient = 0; incomplete = false;
        if (a.IsNaN || b.IsNaN) return PropagateNaN(a, b, ref st);
        if (a.IsUnsupported || b.IsUnsupported || a.IsInfinity || b.IsZero) return Invalid(ref st);
        if (a.IsDenormal || b.IsDenormal) st.Flags |= DE;
        if (a.IsZero || b.IsInfinity) return a;
        Unpack(a, out bool sign, out int ea, out ulong ma);
        Unpack(b, out _, out int eb, out ulong mb);
        int d = ea - eb;
        if (d >= 64)
        {
            // Partial reduction by b * 2^(d - n) with n in 32..63 as the hardware picks it; the caller repeats while C2 is set.
            int n = 32 | (d & 31);
            UInt128 div = (UInt128)ma << n;
            UInt128 pr = div % mb;
            return Normalize(sign, ea - n, (ulong)pr, ref incomplete, true);
        }
        if (d < 0)
        {
            if (!ieee || d < -1 || ma <= mb) return a;
            // |a| in (|b|/2, |b|): the nearest quotient is 1.
            quotient = 1;
            ulong diff = (ulong)(((UInt128)mb << 1) - ma);     // |b| - |a| in units of a's exponent; fits as ma > mb
            return Normalize(!sign, ea, diff, ref incomplete, false);
        }
        UInt128 dividend = (UInt128)ma << d;
        UInt128 q = dividend / mb;
        ulong r = (ulong)(dividend % mb);
        if (ieee)
        {
            UInt128 twice = (UInt128)r << 1;
            if (twice > mb || (twice == mb && (q & 1) != 0))
            {
                q++;
                r = mb - r;
                sign = !sign;
            }
        }
        quotient = (ulong)q;
        return Normalize(sign, eb, r, ref incomplete, false);
    }

    /// <summary>Packs an exact remainder m * 2^(exp - bias - 63).</summary>
    static Float80 Normalize(bool sign, int exp, ulong m, ref bool incomplete, bool partial)
    {
        incomplete = partial;
        if (m == 0) return Pack(sign, 0, 0);
        UInt128 sig = (UInt128)m << 64;
        int lz = (int)UInt128.LeadingZeroCount(sig);
        sig <<= lz;
        exp -= lz;
        if (exp < 1)
        {
            sig >>= 1 - exp;
            exp = 0;
        }
        return Pack(sign, exp, (ulong)(sig >> 64));
    }
}
