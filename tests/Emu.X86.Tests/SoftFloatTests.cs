namespace Emu.X86.Tests;

public class SoftFloatTests
{
    static Float80 D(double d) => Float80.FromDouble(d);

    [Fact]
    public void AdditionKeepsAll64Bits()
    {
        var st = new SoftFloat.Status();
        // 2^63 + 1 is exact in extended precision but not in double.
        Float80 big = SoftFloat.FromInt64(long.MinValue).Negate();
        Float80 r = SoftFloat.Add(big, Float80.One, SoftFloat.RoundNearest, 64, ref st);
        Assert.Equal(new Float80(16383 + 63, 0x8000000000000001), r);
        Assert.Equal(0, st.Flags & SoftFloat.PE);
        // 2^64 + 1 is not: rounds to even (2^64) with PE.
        Float80 big2 = SoftFloat.Add(big, big, SoftFloat.RoundNearest, 64, ref st);
        r = SoftFloat.Add(big2, Float80.One, SoftFloat.RoundNearest, 64, ref st);
        Assert.Equal(big2, r);
        Assert.NotEqual(0, st.Flags & SoftFloat.PE);
    }

    [Fact]
    public void CancellationIsExact()
    {
        var st = new SoftFloat.Status();
        Float80 a = new(16383, 0x8000000000000001), b = Float80.One;
        Assert.Equal(new Float80(16383 - 63, 0x8000000000000000), SoftFloat.Sub(a, b, 0, 64, ref st));
        Assert.Equal(Float80.Zero, SoftFloat.Sub(b, b, SoftFloat.RoundNearest, 64, ref st));
        Assert.Equal(Float80.Zero.Negate(), SoftFloat.Sub(b, b, SoftFloat.RoundDown, 64, ref st));
    }

    [Fact]
    public void MultiplyAndDivideAgreeWithDoubleWhereExact()
    {
        var st = new SoftFloat.Status();
        Assert.Equal(D(1.5 * 2.25), SoftFloat.Mul(D(1.5), D(2.25), 0, 64, ref st));
        Assert.Equal(D(-7.0 / 8.0), SoftFloat.Div(D(-7), D(8), 0, 64, ref st));
        Assert.Equal(0, st.Flags);
    }

    [Fact]
    public void OverflowAndUnderflow()
    {
        var st = new SoftFloat.Status();
        Float80 max = new(0x7FFE, ulong.MaxValue);
        Assert.True(SoftFloat.Mul(max, D(2), SoftFloat.RoundNearest, 64, ref st).IsInfinity);
        Assert.NotEqual(0, st.Flags & SoftFloat.OE);
        st = new SoftFloat.Status();
        Assert.Equal(max, SoftFloat.Mul(max, D(2), SoftFloat.RoundChop, 64, ref st));
        st = new SoftFloat.Status();
        Float80 min = new(1, 0x8000000000000000);
        Float80 half = SoftFloat.Div(min, D(2), SoftFloat.RoundNearest, 64, ref st);
        Assert.Equal(new Float80(0, 0x4000000000000000), half);   // exact denormal: no underflow flag
        Assert.Equal(0, st.Flags & SoftFloat.UE);
        Float80 third = SoftFloat.Div(min, D(3), SoftFloat.RoundNearest, 64, ref st);
        Assert.Equal(0, third.Exponent);
        Assert.NotEqual(0, st.Flags & SoftFloat.UE);
    }

    [Fact]
    public void TininessIsDetectedAfterRounding()
    {
        // smallest normal minus the smallest denormal: just below 2^-16382. At 53-bit precision it
        // rounds up to the smallest normal, so it is not tiny and UE stays clear (found against QEMU).
        Float80 min = new(1, 0x8000000000000000), denormal = new(0, 1);
        var st = new SoftFloat.Status();
        Assert.Equal(min, SoftFloat.Sub(min, denormal, SoftFloat.RoundNearest, 53, ref st));
        Assert.NotEqual(0, st.Flags & SoftFloat.PE);
        Assert.Equal(0, st.Flags & SoftFloat.UE);
        // Chopped, the same difference stays below 2^-16382: tiny and inexact.
        st = new SoftFloat.Status();
        Float80 r = SoftFloat.Sub(min, denormal, SoftFloat.RoundChop, 53, ref st);
        Assert.Equal(0, r.Exponent);
        Assert.NotEqual(0, st.Flags & SoftFloat.UE);
    }

    [Fact]
    public void DoubleConversionRoundTripsAndRounds()
    {
        var st = new SoftFloat.Status();
        foreach (double d in new[] { 0.1, -3.75, 1e-310, double.MaxValue, double.Epsilon, 123456789.125 })
            Assert.Equal(BitConverter.DoubleToUInt64Bits(d), SoftFloat.ToFloat64(D(d), SoftFloat.RoundNearest, ref st));
        // 1 + 2^-60 rounds to 1.0 in double unless rounding up.
        Float80 x = new(16383, 0x8000000000000008);
        Assert.Equal(BitConverter.DoubleToUInt64Bits(1.0), SoftFloat.ToFloat64(x, SoftFloat.RoundNearest, ref st));
        Assert.Equal(BitConverter.DoubleToUInt64Bits(Math.BitIncrement(1.0)), SoftFloat.ToFloat64(x, SoftFloat.RoundUp, ref st));
    }

    [Fact]
    public void InvalidOperationsGiveIndefinite()
    {
        var st = new SoftFloat.Status();
        Assert.Equal(Float80.Indefinite, SoftFloat.Sqrt(D(-1), 0, 64, ref st));
        Assert.Equal(Float80.Indefinite, SoftFloat.Sub(Float80.Infinity(false), Float80.Infinity(false), 0, 64, ref st));
        Assert.Equal(Float80.Indefinite, SoftFloat.Div(Float80.Zero, Float80.Zero, 0, 64, ref st));
        Assert.NotEqual(0, st.Flags & SoftFloat.IE);
    }
}
