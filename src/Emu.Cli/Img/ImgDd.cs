using System.Globalization;
using Emu.Block;

namespace Emu.Cli.Img;

public static partial class ImgCommand
{
    private const string SuffixHelp = "You may use k, M, G, T, P or E suffixes for\nemu img: kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.";

    /// <summary>qemu-img dd: copies the input from block <c>skip</c> up to block <c>count</c> (both counted from the
    /// start of the input, in <c>bs</c>-byte blocks) into a newly created output image.</summary>
    private static int Dd(string[] args, TextWriter stderr)
    {
        var o = new GetOpt(args, "fO", "U", ["object"], ["image-opts", "force-share"]);
        string? inName = null, outName = null;
        long bs = 512, count = -1, skip = 0;
        foreach (string operand in o.Operands)
        {
            int eq = operand.IndexOf('=');
            string key = eq < 0 ? operand : operand[..eq], value = eq < 0 ? "" : operand[(eq + 1)..];
            switch (eq < 0 ? "" : key)
            {
                case "if": inName = value; break;
                case "of": outName = value; break;
                case "bs":
                    bs = DdNumber("bs", value, stderr);
                    if (bs is < 1 or > int.MaxValue)
                        throw new UsageException("Invalid bs specified. Must be between 1 and 2147483647.");
                    break;
                case "count": count = DdNumber("count", value, stderr); break;
                case "skip": skip = DdNumber("skip", value, stderr); break;
                default: throw new UsageException($"unrecognized operand {key}");
            }
        }
        if (inName == null || outName == null)
            throw new UsageException("Must specify both input and output files");
        string outFormat = o.Get("O") ?? "raw";
        if (outFormat is not ("raw" or "qcow2"))
            throw new UsageException("Unknown file format");

        var images = Objects(o);
        using var input = images.Open(inName, o.Get("f"), o.Has("image-opts"), readOnly: true, forceShare: ImageArgs.ForceShare(o));
        long end = input.Size;
        if (count >= 0 && count < end / bs + 1 && count * bs < end)
            end = count * bs;
        long start = skip * bs;
        if (skip > end / bs || start > end)
        {
            // As qemu-img: said, but not a failure; the output is created empty.
            stderr.WriteLine($"emu img: {inName}: cannot skip to specified offset");
            start = end;
        }
        try
        {
            Create(["-q", "-f", outFormat, outName, (end - start).ToString(CultureInfo.InvariantCulture)], TextWriter.Null);
        }
        catch (BlockException e)
        {
            throw new BlockException($"{outName}: error while creating output image: {e.Message}");
        }
        using var output = images.Open(outName, outFormat, false, readOnly: false,
            defaults: new ImageOptions { Cache = ParseCache("unsafe") });
        // The output is new and reads as zeroes: output clusters that would only get zeroes are left unwritten
        // (sparse), which reads the same.
        int granule = Math.Max(output.ClusterSize, 4096);
        var buffer = new byte[1 << 20];
        for (long pos = start; pos < end;)
        {
            int n = (int)Math.Min(buffer.Length, end - pos);
            input.Read(pos, buffer.AsSpan(0, n));
            for (int at = 0; at < n;)
            {
                long outAt = pos - start + at;
                int len = (int)Math.Min(n - at, granule - outAt % granule);
                var piece = buffer.AsSpan(at, len);
                if (piece.ContainsAnyExcept((byte)0))
                    output.Write(outAt, piece);
                at += len;
            }
            pos += n;
        }
        output.Flush();
        return 0;
    }

    /// <summary>A dd operand's number as qemu-img reads it: decimal or 0x hex, with an optional k..E suffix (a
    /// fraction only with a suffix, a suffix on hex deprecated), at most 2^63 - 1.</summary>
    private static long DdNumber(string name, string text, TextWriter stderr)
    {
        string t = text.Trim();
        if (t.StartsWith('+'))
            t = t[1..];
        bool hex = t.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        ulong mult = 1;
        if (t.Length > 0 && char.IsAsciiLetter(t[^1]) && !(hex && char.IsAsciiHexDigit(t[^1])))
        {
            mult = Units.SuffixMultiplier(t[^1]);
            if (mult == 0)
                throw new UsageException($"Invalid {name} specified. {SuffixHelp}");
            if (hex)
                stderr.WriteLine($"emu img: warning: Using a multiplier suffix on hex numbers is deprecated: {text}");
            t = t[..^1];
        }
        string digits = hex ? t[2..] : t;
        int dot = hex ? -1 : digits.IndexOf('.');
        string whole = dot < 0 ? digits : digits[..dot], fraction = dot < 0 ? "" : digits[(dot + 1)..];
        bool ok = whole.Length > 0 && (hex ? whole.All(char.IsAsciiHexDigit) : whole.All(char.IsAsciiDigit))
            && fraction.All(char.IsAsciiDigit) && (dot < 0 || mult > 1);
        if (!ok)
            throw new UsageException($"Invalid {name} specified. {SuffixHelp}");
        var range = new UsageException(name == "bs" ? "Invalid bs specified. Must be between 1 and 2147483647."
            : $"Invalid {name} specified. Must be between 0 and {long.MaxValue}.");
        if (!ulong.TryParse(whole, hex ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture, out ulong w))
            throw range;
        ulong bytes;
        try
        {
            bytes = checked(w * mult + (ulong)(double.Parse("0." + fraction + "0", CultureInfo.InvariantCulture) * mult));
        }
        catch (OverflowException)
        {
            throw range;
        }
        return bytes <= long.MaxValue ? (long)bytes : throw range;
    }
}
