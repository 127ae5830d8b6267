using System.Globalization;

namespace Emu.Block;

/// <summary>Sizes printed as QEMU prints them.</summary>
public static class SizeFormat
{
    /// <summary>QEMU's size_to_str: "64 MiB", "336 KiB", "1.5 GiB", "0 B".</summary>
    public static string ToHuman(long value)
    {
        string[] suffixes = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        int i = 0;
        double v = value;
        // Like QEMU, switch unit once the value reaches 1000 of the smaller one.
        while (i < suffixes.Length - 1 && v >= 1000)
        {
            v /= 1024;
            i++;
        }
        return $"{v.ToString("G3", CultureInfo.InvariantCulture)} {suffixes[i]}";
    }
}
