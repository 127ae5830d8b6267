using Emu.Block.Qcow2;

namespace Emu.Cli.Img;

// amend: change compat level, refcount width, lazy refcounts (and size) of an existing qcow2 image.
public static partial class ImgCommand
{
    private static readonly string[] CreateOnlyKeys =
        ["cluster_size", "extended_l2", "preallocation", "compression_type", "encryption", "encrypt.format"];

    private static int Amend(string[] args, TextWriter stdout)
    {
        var o = new GetOpt(args, "fot", "hqp", ["object"], ["image-opts", "force"]);
        if (!o.GetAll("o").Any())
            throw new UsageException("Must specify options (-o)\nTry 'emu img --help' for more information");
        string name = Operand(o, 0, "filename");
        var opts = CreateOptions(o);
        foreach (var k in opts.Keys)
        {
            if (CreateOnlyKeys.Contains(k))
                throw new UsageException($"Invalid parameter '{k}'\nThis option is only supported for image creation");
            if (!Qcow2CreateKeys.Contains(k))
                throw new UsageException($"Invalid parameter '{k}'");
        }
        int? version = opts.GetValueOrDefault("compat") switch
        {
            null => null,
            "0.10" or "v2" => 2,
            "1.1" or "v3" => 3,
            var c => throw new UsageException($"Unknown compatibility level {c}"),
        };
        int? refcountBits = null;
        if (opts.TryGetValue("refcount_bits", out var rb))
        {
            if (!int.TryParse(rb, out int bits) || bits <= 0 || bits > 64 || (bits & (bits - 1)) != 0)
                throw new UsageException("Refcount width must be a power of two and may not exceed 64 bits");
            refcountBits = bits;
        }
        bool? lazy = opts.TryGetValue("lazy_refcounts", out var lz) ? ImageArgs.OnOff("lazy_refcounts", lz) : null;
        long? size = opts.TryGetValue("size", out var sz) ? Units.ParseSize(sz, "image size") : null;
        bool? dataFileRaw = opts.TryGetValue("data_file_raw", out var dfr) ? ImageArgs.OnOff("data_file_raw", dfr) : null;

        using var d = Objects(o).Open(name, o.Get("f"), o.Has("image-opts"), readOnly: false, noBacking: true);
        if (d is not Qcow2Driver q)
            throw new UsageException($"Format driver '{d.Format}' does not support option amendment");
        if ((opts.ContainsKey("backing_file") && opts["backing_file"] != q.Header.BackingFile)
            || (opts.ContainsKey("backing_fmt") && opts["backing_fmt"] != q.Header.BackingFormat))
            throw new UsageException("Cannot amend the backing file\nYou can use 'emu img rebase' instead.");
        q.Amend(new Qcow2AmendOptions
        {
            Version = version,
            RefcountBits = refcountBits,
            LazyRefcounts = lazy,
            DataFile = opts.GetValueOrDefault("data_file"),
            DataFileRaw = dataFileRaw,
            Size = size,
        });
        q.Flush();
        return 0;
    }
}
