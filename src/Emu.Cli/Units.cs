using System.Globalization;

namespace Emu.Cli;

/// <summary>Sizes as QEMU's tools parse and print them.</summary>
public static class Units
{
    /// <summary>Parses "512", "64k", "1.5G" (binary suffixes k/K, M, G, T, P, E; "b" bytes).</summary>
    public static long ParseSize(string text, string what = "size")
    {
        string t = text.Trim();
        long mult = 1;
        if (t.Length > 0 && char.IsLetter(t[^1]))
        {
            mult = (long)SuffixMultiplier(t[^1]);
            if (mult == 0)
                throw new UsageException($"Invalid {what} specified: '{text}'");
            t = t[..^1];
        }
        if (!double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double v) || v < 0)
            throw new UsageException($"Invalid {what} specified: '{text}'");
        double bytes = v * mult;
        if (bytes >= 9.2e18)
            throw new UsageException($"Invalid {what} specified: '{text}' is too large");
        return (long)bytes;
    }

    /// <summary>What a size suffix multiplies by (b/B bytes, k/K .. E binary), 0 for any other letter.</summary>
    public static ulong SuffixMultiplier(char suffix) => char.ToUpperInvariant(suffix) switch
    {
        'B' => 1,
        'K' => 1UL << 10,
        'M' => 1UL << 20,
        'G' => 1UL << 30,
        'T' => 1UL << 40,
        'P' => 1UL << 50,
        'E' => 1UL << 60,
        _ => 0,
    };

    /// <summary>QEMU's size_to_str: "64 MiB", "336 KiB", "1.5 GiB", "0 B".</summary>
    public static string SizeToStr(long value) => Emu.Block.SizeFormat.ToHuman(value);

    /// <summary>qemu-io's cvtstr: "64 KiB", "1.500 MiB", "512 bytes".</summary>
    public static string CvtStr(double value)
    {
        (double div, string suffix) = value switch
        {
            >= 1L << 60 => ((double)(1L << 60), " EiB"),
            >= 1L << 50 => ((double)(1L << 50), " PiB"),
            >= 1L << 40 => ((double)(1L << 40), " TiB"),
            >= 1L << 30 => ((double)(1L << 30), " GiB"),
            >= 1L << 20 => ((double)(1L << 20), " MiB"),
            >= 1L << 10 => ((double)(1L << 10), " KiB"),
            _ => (1.0, " bytes"),
        };
        string s = (value / div).ToString("F3", CultureInfo.InvariantCulture);
        if (s.EndsWith(".000"))
            s = s[..^4];
        return s + suffix;
    }
}
