using Emu.Block;

namespace Emu.Cli.Img;

public static partial class ImgCommand
{
    private static int Map(string[] args, TextWriter stdout)
    {
        var o = new GetOpt(args, "f", "hU", ["output", "object", "start-offset", "max-length"], ["image-opts", "force-share"]);
        string name = Operand(o, 0, "filename");
        string output = o.Get("output") ?? "human";
        var images = Objects(o);
        using var d = images.Open(name, o.Get("f"), o.Has("image-opts"), readOnly: true, forceShare: ImageArgs.ForceShare(o));
        long start = o.Get("start-offset") is { } so ? Units.ParseSize(so, "offset") : 0;
        long end = o.Get("max-length") is { } ml ? Math.Min(d.Size, start + Units.ParseSize(ml, "length")) : d.Size;

        var names = new List<string>();
        for (var c = d; c != null; c = c.Backing)
            names.Add(c.FileName == d.FileName ? name : c.FileName);

        var entries = new List<(long Start, long Length, BlockStatus S)>();
        for (long pos = start; pos < end;)
        {
            var s = d.GetStatus(pos, Math.Min(end - pos, 1L << 30));
            if (entries.Count > 0)
            {
                var (ps, pl, p) = entries[^1];
                bool sameKind = p.Flags == s.Flags && p.Depth == s.Depth;
                bool contiguous = (p.Flags & BlockStatusFlags.OffsetValid) == 0 || p.HostOffset + pl == s.HostOffset;
                if (sameKind && contiguous)
                {
                    entries[^1] = (ps, pl + s.Length, p);
                    pos += s.Length;
                    continue;
                }
            }
            entries.Add((pos, s.Length, s));
            pos += s.Length;
        }

        if (output == "json")
        {
            stdout.Write("[");
            for (int i = 0; i < entries.Count; i++)
            {
                var (es, el, s) = entries[i];
                if (i > 0)
                    stdout.Write(",\n");
                bool present = (s.Flags & BlockStatusFlags.Allocated) != 0;
                bool zero = (s.Flags & BlockStatusFlags.Zero) != 0;
                bool data = (s.Flags & BlockStatusFlags.Data) != 0;
                stdout.Write($"{{ \"start\": {es}, \"length\": {el}, \"depth\": {s.Depth}, \"present\": {Bool(present)}, \"zero\": {Bool(zero)}, \"data\": {Bool(data)}");
                if ((s.Flags & BlockStatusFlags.OffsetValid) != 0)
                    stdout.Write($", \"offset\": {s.HostOffset}");
                stdout.Write("}");
            }
            stdout.WriteLine("]");
            return 0;
        }
        if (output != "human")
            throw new UsageException("--output must be used with human or json as argument.");
        stdout.WriteLine($"{"Offset",-16}{"Length",-16}{"Mapped to",-16}File");
        foreach (var (es, el, s) in entries)
        {
            if ((s.Flags & BlockStatusFlags.Data) == 0)
                continue;
            if ((s.Flags & BlockStatusFlags.OffsetValid) == 0)
                throw new BlockException("File contains external, encrypted or compressed clusters.");
            stdout.WriteLine($"{Hex(es),-16}{Hex(el),-16}{Hex(s.HostOffset),-16}{names[Math.Min(s.Depth, names.Count - 1)]}");
        }
        return 0;
    }

    private static string Hex(long v) => v == 0 ? "0" : $"0x{v:x}";
}
