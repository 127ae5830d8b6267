using Emu.Block;
using Emu.Block.Qcow2;
using Emu.Block.Raw;

namespace Emu.Cli.Img;

public static partial class ImgCommand
{
    private static readonly string[] Qcow2CreateKeys =
    [
        "size", "compat", "cluster_size", "backing_file", "backing_fmt", "lazy_refcounts", "refcount_bits",
        "encryption", "encrypt.format", "encrypt.key-secret", "extended_l2", "compression_type", "preallocation",
    ];

    private static int Create(string[] args, TextWriter stdout)
    {
        var o = new GetOpt(args, "fFbo", "quh", ["object"]);
        string format = o.Get("f") ?? "raw";
        string file = Operand(o, 0, "filename");
        var opts = CreateOptions(o);
        if (o.Get("b") is { } b)
            opts["backing_file"] = b;
        if (o.Get("F") is { } f)
            opts["backing_fmt"] = f;
        long? size = o.Operands.Count > 1 ? Units.ParseSize(o.Operands[1], "image size") : null;
        if (opts.TryGetValue("size", out var sizeOpt))
            size = Units.ParseSize(sizeOpt, "image size");
        var images = Objects(o);
        bool quiet = o.Has("q");

        if (format == "raw")
        {
            foreach (var k in opts.Keys)
                if (k is not ("size" or "preallocation"))
                    throw new UsageException($"Invalid parameter '{k}'\nemu img: {file}: Invalid options for file format 'raw'");
            if (size == null)
                throw new UsageException("Image creation needs a size parameter");
            if (!quiet)
                stdout.WriteLine($"Formatting '{file}', fmt=raw size={size}");
            RawDriver.Create(file, size.Value);
            return 0;
        }
        if (format != "qcow2")
            throw new UsageException($"Unknown file format '{format}'");
        foreach (var k in opts.Keys)
            if (!Qcow2CreateKeys.Contains(k))
                throw new UsageException($"Invalid parameter '{k}'\nemu img: {file}: Invalid options for file format 'qcow2'");

        int version = 3;
        if (opts.TryGetValue("compat", out var compat))
            version = compat switch
            {
                "0.10" or "v2" => 2,
                "1.1" or "v3" => 3,
                _ => throw new UsageException($"Invalid compatibility level: '{compat}'"),
            };
        int clusterSize = opts.TryGetValue("cluster_size", out var cs) ? (int)Units.ParseSize(cs, "cluster size") : 65536;
        int refcountBits = opts.TryGetValue("refcount_bits", out var rb) && int.TryParse(rb, out int rbv) ? rbv
            : opts.ContainsKey("refcount_bits") ? throw new UsageException($"Invalid refcount_bits: '{rb}'") : 16;
        bool lazy = opts.TryGetValue("lazy_refcounts", out var lz) && OnOff("lazy_refcounts", lz);
        bool extendedL2 = opts.TryGetValue("extended_l2", out var el2) && OnOff("extended_l2", el2);
        if (opts.TryGetValue("compression_type", out var ct) && ct != "zlib")
            throw new UsageException(ct == "zstd" ? "compression_type=zstd is not supported yet" : $"Invalid compression_type: '{ct}'");
        if (opts.TryGetValue("preallocation", out var pre) && pre != "off")
            throw new UsageException($"preallocation={pre} is not supported yet");

        string? aesKey = null;
        bool encrypt = (opts.TryGetValue("encryption", out var enc) && OnOff("encryption", enc)) || opts.ContainsKey("encrypt.format");
        if (encrypt)
        {
            string fmt = opts.GetValueOrDefault("encrypt.format") ?? "aes";
            if (fmt == "luks")
                throw new UsageException("encrypt.format=luks is not supported yet");
            if (fmt != "aes")
                throw new UsageException($"Invalid encrypt.format: '{fmt}'");
            string secretId = opts.GetValueOrDefault("encrypt.key-secret")
                ?? throw new UsageException("Parameter 'encrypt.key-secret' is required for cipher");
            aesKey = images.Secret(secretId);
        }

        string? backing = opts.GetValueOrDefault("backing_file");
        string? backingFmt = opts.GetValueOrDefault("backing_fmt");
        if (backing != null)
        {
            string resolved = ImageOpener.ResolveBacking(file, backing);
            if (o.Has("u"))
            {
                if (size == null)
                    throw new UsageException("Image creation needs a size parameter");
            }
            else
            {
                backingFmt ??= ImageOpener.Probe(resolved);
                using var bd = ImageOpener.Open(resolved, new ImageOptions { Format = backingFmt, ReadOnly = true });
                size ??= bd.Size;
            }
        }
        if (size == null)
            throw new UsageException("Image creation needs a size parameter");

        if (!quiet)
        {
            var line = $"Formatting '{file}', fmt=qcow2";
            if (encrypt)
                line += " encrypt.format=aes encrypt.key-secret=" + opts["encrypt.key-secret"];
            line += $" cluster_size={clusterSize}";
            if (compat != null)
                line += $" compat={compat}";
            line += $" extended_l2={(extendedL2 ? "on" : "off")} compression_type=zlib size={size}";
            if (backing != null)
                line += $" backing_file={backing}";
            if (backingFmt != null)
                line += $" backing_fmt={backingFmt}";
            line += $" lazy_refcounts={(lazy ? "on" : "off")} refcount_bits={refcountBits}";
            stdout.WriteLine(line);
        }
        Qcow2Creator.Create(file, new Qcow2CreateOptions
        {
            Size = size.Value,
            Version = version,
            ClusterSize = clusterSize,
            RefcountBits = refcountBits,
            LazyRefcounts = lazy,
            ExtendedL2 = extendedL2,
            BackingFile = backing,
            BackingFormat = backingFmt,
            AesKey = aesKey,
        });
        return 0;
    }
}
