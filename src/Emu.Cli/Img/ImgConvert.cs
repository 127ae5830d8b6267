using System.Globalization;
using Emu.Block;

namespace Emu.Cli.Img;

public static partial class ImgCommand
{
    /// <summary>Opens the convert target; an encrypted one is keyed by the encrypt.key-secret given with -o, as qemu-img does.</summary>
    private static BlockDriver OpenConvertTarget(ImageArgs images, GetOpt o, string outName, string outFormat)
    {
        string? secret = null;
        foreach (var spec in o.GetAll("o"))
            secret = ImageArgs.ParseKeyValues(spec).GetValueOrDefault("encrypt.key-secret") ?? secret;
        if (secret == null || o.Has("target-image-opts"))
            return images.Open(outName, outFormat, o.Has("target-image-opts"), readOnly: false);
        return images.Open($"driver={outFormat},file.filename={outName.Replace(",", ",,")},encrypt.key-secret={secret}", null, true, readOnly: false);
    }

    private static int Convert(string[] args, TextWriter stdout)
    {
        var o = new GetOpt(args, "fOoBsltTSrm", "cpqnhWU", ["object"], ["image-opts", "force-share", "target-image-opts"]);
        if (o.Operands.Count < 2)
            throw new UsageException("Expecting at least one input and one output filename");
        string outName = o.Operands[^1];
        var inNames = o.Operands.Take(o.Operands.Count - 1).ToList();
        string outFormat = o.Get("O") ?? "raw";
        bool compress = o.Has("c");
        bool progress = o.Has("p") && !o.Has("q");
        var images = Objects(o);
        if (compress && outFormat != "qcow2")
            throw new UsageException($"Compression not supported for this file format");

        var inputs = new List<BlockDriver>();
        try
        {
            foreach (var n in inNames)
                inputs.Add(images.Open(n, o.Get("f"), o.Has("image-opts"), readOnly: true));
            long total = inputs.Sum(i => i.Size);

            if (!o.Has("n"))
            {
                var createArgs = new List<string> { "-q", "-f", outFormat };
                foreach (var spec in o.GetAll("o"))
                {
                    createArgs.Add("-o");
                    createArgs.Add(spec);
                }
                foreach (var spec in o.GetAll("object"))
                    createArgs.Add("--object=" + spec);
                if (o.Get("B") is { } backing)
                {
                    createArgs.Add("-b");
                    createArgs.Add(backing);
                }
                createArgs.Add(outName);
                createArgs.Add(total.ToString(CultureInfo.InvariantCulture));
                int rc = Create([.. createArgs], TextWriter.Null);
                if (rc != 0)
                    return rc;
            }
            using var output = OpenConvertTarget(images, o, outName, outFormat);
            bool freshZero = !o.Has("n") && output.Backing == null;
            int chunk = Math.Max(output.ClusterSize, 64 * 1024);
            if (chunk < 1 << 20 && !compress)
                chunk = 1 << 20;
            if (compress)
                chunk = output.ClusterSize;
            var buf = new byte[chunk];
            long outPos = 0;
            long done = 0;
            int lastShown = -1;
            foreach (var input in inputs)
            {
                for (long pos = 0; pos < input.Size;)
                {
                    int n = (int)Math.Min(chunk - (outPos % chunk), input.Size - pos);
                    var st = input.GetStatus(pos, n);
                    n = (int)Math.Min(n, st.Length);
                    bool zeroRange = (st.Flags & BlockStatusFlags.Zero) != 0;
                    if (!zeroRange)
                    {
                        var span = buf.AsSpan(0, n);
                        input.Read(pos, span);
                        if (span.IndexOfAnyExcept((byte)0) < 0)
                            zeroRange = true;
                        else if (compress)
                            output.WriteCompressed(outPos, span);
                        else
                            output.Write(outPos, span);
                    }
                    if (zeroRange && !freshZero)
                        output.WriteZeroes(outPos, n);
                    pos += n;
                    outPos += n;
                    done += n;
                    if (progress)
                    {
                        int pct = total == 0 ? 100 : (int)(done * 100 / total);
                        if (pct != lastShown)
                        {
                            stdout.Write($"    ({pct}.00/100%)\r");
                            lastShown = pct;
                        }
                    }
                }
            }
            output.Flush();
            if (progress)
                stdout.WriteLine("    (100.00/100%)");
            return 0;
        }
        finally
        {
            foreach (var i in inputs)
                i.Dispose();
        }
    }
}
