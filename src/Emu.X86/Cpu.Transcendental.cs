using Iced.Intel;

namespace Emu.X86;

// x87 transcendental instructions: special operands (zeros, infinities, NaNs, unsupported encodings, domain errors)
// as the hardware answers them; finite operands through X87Math in wide precision, rounded once to 64 bits.
// Precision control does not apply to these instructions; rounding control does.
public sealed partial class Cpu
{
    void FpuTranscendental(Mnemonic m)
    {
        bool two = m is Mnemonic.Fpatan or Mnemonic.Fyl2x or Mnemonic.Fyl2xp1;
        if (_fpu.IsEmpty(0) || (two && _fpu.IsEmpty(1))) { if (FpuUnderflow()) _fpu.Set(0, Float80.Indefinite); return; }
        _fpu.Status &= unchecked((ushort)~(X87.C1 | X87.C2));
        switch (m)
        {
            case Mnemonic.F2xm1: FpuF2xm1(); break;
            case Mnemonic.Fpatan or Mnemonic.Fyl2x or Mnemonic.Fyl2xp1: FpuBinaryTranscendental(m); break;
            default: FpuTrig(m); break;
        }
    }

    /// <summary>FSIN, FCOS, FSINCOS, FPTAN: |x| &gt;= 2^63 leaves the stack alone and sets C2.</summary>
    void FpuTrig(Mnemonic m)
    {
        Float80 x = _fpu.St(0);
        var st = new SoftFloat.Status();
        Float80 first, second = Float80.One;   // ST(0) result, then the pushed one for FSINCOS (cos) and FPTAN (1.0)
        if (x.IsUnsupported || x.IsInfinity) { st.Flags |= SoftFloat.IE; first = second = Float80.Indefinite; }
        else if (x.IsNaN)
        {
            if (x.IsSignalingNaN) st.Flags |= SoftFloat.IE;
            first = second = SoftFloat.Quiet(x);
        }
        else if (x.IsZero)
        {
            first = m == Mnemonic.Fcos ? Float80.One : x;
        }
        else
        {
            if (x.Exponent >= Float80.Bias + 63)
            {
                _fpu.Status |= X87.C2;
                return;
            }
            if (x.IsDenormal) st.Flags |= SoftFloat.DE;
            int rc = _fpu.RoundingControl;
            X87Math.SinCos(BigFloat.From(x), out BigFloat sin, out BigFloat cos);
            switch (m)
            {
                case Mnemonic.Fsin: first = sin.Round(64, rc, ref st); break;
                case Mnemonic.Fcos: first = cos.Round(64, rc, ref st); break;
                case Mnemonic.Fptan: first = X87Math.Tan(BigFloat.From(x)).Round(64, rc, ref st); break;
                default:
                    var sinStatus = new SoftFloat.Status();
                    first = sin.Round(64, rc, ref sinStatus);
                    second = cos.Round(64, rc, ref st);
                    st.Flags |= sinStatus.Flags;
                    break;
            }
        }
        if (!FpuReport(st)) return;
        _fpu.Set(0, first);
        if (m is Mnemonic.Fsincos or Mnemonic.Fptan)
        {
            ushort c1 = (ushort)(_fpu.Status & X87.C1);
            FpuPush(second);
            _fpu.Status |= c1;
        }
    }

    /// <summary>F2XM1: 2^x - 1, defined by Intel for -1 &lt;= x &lt;= 1 (computed for any finite x here).</summary>
    void FpuF2xm1()
    {
        Float80 x = _fpu.St(0);
        var st = new SoftFloat.Status();
        Float80 r;
        if (x.IsUnsupported) { st.Flags |= SoftFloat.IE; r = Float80.Indefinite; }
        else if (x.IsNaN)
        {
            if (x.IsSignalingNaN) st.Flags |= SoftFloat.IE;
            r = SoftFloat.Quiet(x);
        }
        else if (x.IsInfinity) r = x.Sign ? Float80.One.Negate() : x;
        else if (x.IsZero) r = x;
        else
        {
            if (x.IsDenormal) st.Flags |= SoftFloat.DE;
            r = X87Math.Exp2M1(BigFloat.From(x)).Round(64, _fpu.RoundingControl, ref st);
            // The hardware reports every finite nonzero result inexact, even the exact -0.5 and 1 at x = ±1.
            st.Flags |= SoftFloat.PE;
        }
        if (!FpuReport(st)) return;
        _fpu.Set(0, r);
    }

    /// <summary>FPATAN (atan2(ST1, ST0)), FYL2X (ST1 * log2 ST0), FYL2XP1 (ST1 * log2(ST0 + 1)): the result replaces ST(1), then ST(0) pops.</summary>
    void FpuBinaryTranscendental(Mnemonic m)
    {
        Float80 x = _fpu.St(0), y = _fpu.St(1);
        var st = new SoftFloat.Status();
        Float80 r;
        if (x.IsUnsupported || y.IsUnsupported) { st.Flags |= SoftFloat.IE; r = Float80.Indefinite; }
        else if (x.IsNaN || y.IsNaN) r = SoftFloat.PropagateNaN(x, y, ref st);
        else
        {
            if (x.IsDenormal || y.IsDenormal) st.Flags |= SoftFloat.DE;
            int rc = _fpu.RoundingControl;
            BigFloat? exact = m switch
            {
                Mnemonic.Fpatan => Atan2Value(x, y, out r),
                Mnemonic.Fyl2x => Yl2xValue(x, y, ref st, out r),
                _ => Yl2xp1Value(x, y, ref st, out r),
            };
            if (exact is { } v) r = v.Round(64, rc, ref st);
            if ((st.Flags & (SoftFloat.IE | SoftFloat.ZE)) != 0) st.Flags &= ~SoftFloat.DE;
        }
        if (!FpuReport(st)) return;
        _fpu.Pop();
        _fpu.Set(0, r);
    }

    /// <summary>FPATAN: a signed zero result sets <paramref name="zero"/> and returns null; otherwise the wide angle
    /// (multiples of π/4 for the infinite and zero operands, as atan2 defines them).</summary>
    static BigFloat? Atan2Value(Float80 x, Float80 y, out Float80 zero)
    {
        zero = new Float80((ushort)(y.Sign ? 0x8000 : 0), 0);
        BigFloat pi = X87Math.Pi;
        BigFloat sign(BigFloat v) => y.Sign ? v.Negate() : v;
        if (y.IsZero) return x.Sign ? sign(pi) : null;
        if (y.IsInfinity)
        {
            if (!x.IsInfinity) return sign(pi.Scale(-1));
            return sign(x.Sign ? pi.Scale(-2) * BigFloat.FromInt(3) : pi.Scale(-2));
        }
        if (x.IsInfinity) return x.Sign ? sign(pi) : null;
        if (x.IsZero) return sign(pi.Scale(-1));
        return X87Math.Atan2(BigFloat.From(y), BigFloat.From(x));
    }

    /// <summary>y · log2 of zero (FYL2X at x = 0, FYL2XP1 at x = -1): infinity of the opposite sign to y, raising
    /// divide-by-zero for a finite y; 0 · log2(0) is invalid.</summary>
    static BigFloat? LogOfZero(Float80 y, ref SoftFloat.Status st, out Float80 special)
    {
        if (y.IsZero) return Invalid(ref st, out special);
        if (!y.IsInfinity) st.Flags |= SoftFloat.ZE;
        special = Float80.Infinity(!y.Sign);
        return null;
    }

    /// <summary>y · log2 of +infinity: infinity with y's sign; 0 · infinity is invalid.</summary>
    static BigFloat? LogOfInfinity(Float80 y, ref SoftFloat.Status st, out Float80 special)
    {
        if (y.IsZero) return Invalid(ref st, out special);
        special = Float80.Infinity(y.Sign);
        return null;
    }

    /// <summary>FYL2X special cases set <paramref name="special"/> and return null; otherwise the wide result.</summary>
    static BigFloat? Yl2xValue(Float80 x, Float80 y, ref SoftFloat.Status st, out Float80 special)
    {
        special = default;
        if (x.Sign && !x.IsZero) return Invalid(ref st, out special);
        if (x.IsZero) return LogOfZero(y, ref st, out special);
        if (x.IsInfinity) return LogOfInfinity(y, ref st, out special);
        int cmpOne = x.Exponent == Float80.Bias && x.Mantissa == Float80.One.Mantissa ? 0 : x.Exponent >= Float80.Bias ? 1 : -1;
        if (y.IsInfinity)
        {
            if (cmpOne == 0) return Invalid(ref st, out special);
            special = Float80.Infinity(y.Sign ^ (cmpOne < 0));
            return null;
        }
        if (y.IsZero || cmpOne == 0)
        {
            special = new Float80((ushort)(y.Sign ^ (cmpOne < 0) ? 0x8000 : 0), 0);
            return null;
        }
        return BigFloat.From(y) * X87Math.Log2(BigFloat.From(x));
    }

    /// <summary>FYL2XP1 special cases set <paramref name="special"/> and return null; otherwise the wide result.</summary>
    static BigFloat? Yl2xp1Value(Float80 x, Float80 y, ref SoftFloat.Status st, out Float80 special)
    {
        special = default;
        var bx = BigFloat.From(x.IsInfinity ? Float80.Zero : x);
        int cmpMinusOne = x.IsInfinity ? (x.Sign ? -1 : 1) : bx.CompareTo(BigFloat.FromInt(-1));
        if (cmpMinusOne < 0) return Invalid(ref st, out special);
        if (cmpMinusOne == 0) return LogOfZero(y, ref st, out special);
        if (x.IsInfinity) return LogOfInfinity(y, ref st, out special);
        if (x.IsZero)
        {
            if (y.IsInfinity) return Invalid(ref st, out special);
            special = new Float80((ushort)(y.Sign ^ x.Sign ? 0x8000 : 0), 0);
            return null;
        }
        if (y.IsInfinity)
        {
            special = Float80.Infinity(y.Sign ^ x.Sign);
            return null;
        }
        if (y.IsZero)
        {
            special = new Float80((ushort)(y.Sign ^ x.Sign ? 0x8000 : 0), 0);
            return null;
        }
        return BigFloat.From(y) * X87Math.Log2P1(bx);
    }

    static BigFloat? Invalid(ref SoftFloat.Status st, out Float80 special)
    {
        st.Flags |= SoftFloat.IE;
        special = Float80.Indefinite;
        return null;
    }
}
