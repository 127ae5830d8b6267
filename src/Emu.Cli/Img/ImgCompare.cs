using Emu.Block;

namespace Emu.Cli.Img;

public static partial class ImgCommand
{
    private static int Compare(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var o = new GetOpt(args, "fFT", "hpqsU", ["object"], ["image-opts", "force-share"]);
        string n1 = Operand(o, 0, "two filenames");
        string n2 = Operand(o, 1, "two filenames");
        bool strict = o.Has("s");
        bool quiet = o.Has("q");
        var images = Objects(o);
        BlockDriver a, b;
        try
        {
            a = images.Open(n1, o.Get("f"), o.Has("image-opts"), readOnly: true, forceShare: ImageArgs.ForceShare(o));
        }
        catch (BlockException e)
        {
            stderr.WriteLine($"emu img: {e.Message}");
            return 2;
        }
        using var _a = a;
        try
        {
            b = images.Open(n2, o.Get("F") ?? o.Get("f"), o.Has("image-opts"), readOnly: true, forceShare: ImageArgs.ForceShare(o));
        }
        catch (BlockException e)
        {
            stderr.WriteLine($"emu img: {e.Message}");
            return 2;
        }
        using var _b = b;
        if (strict && a.Size != b.Size)
        {
            if (!quiet)
                stdout.WriteLine("Strict mode: Image size mismatch!");
            return 1;
        }
        long common = Math.Min(a.Size, b.Size);
        const int chunk = 1 << 20;
        var ba = new byte[chunk];
        var bb = new byte[chunk];
        for (long pos = 0; pos < common;)
        {
            int n = (int)Math.Min(chunk, common - pos);
            var sa = a.GetStatus(pos, n);
            var sb = b.GetStatus(pos, n);
            // Two zero ranges compare equal without reading them.
            if ((sa.Flags & BlockStatusFlags.Zero) != 0 && (sb.Flags & BlockStatusFlags.Zero) != 0)
            {
                pos += Math.Min(sa.Length, sb.Length);
                continue;
            }
            a.Read(pos, ba.AsSpan(0, n));
            b.Read(pos, bb.AsSpan(0, n));
            int diff = ba.AsSpan(0, n).CommonPrefixLength(bb.AsSpan(0, n));
            if (diff < n)
            {
                if (!quiet)
                    stdout.WriteLine($"Content mismatch at offset {pos + diff}!");
                return 1;
            }
            pos += n;
        }
        var longer = a.Size > b.Size ? a : b;
        for (long pos = common; pos < longer.Size; pos += chunk)
        {
            int n = (int)Math.Min(chunk, longer.Size - pos);
            longer.Read(pos, ba.AsSpan(0, n));
            int nz = ba.AsSpan(0, n).IndexOfAnyExcept((byte)0);
            if (nz >= 0)
            {
                if (!quiet)
                    stdout.WriteLine($"Content mismatch at offset {pos + nz}!");
                return 1;
            }
        }
        if (!quiet)
            stdout.WriteLine("Images are identical.");
        return 0;
    }
}
