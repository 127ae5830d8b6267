using Emu.Block;
using Emu.Block.Crypto;
using Emu.Block.Qcow2;
using Emu.Block.Raw;

namespace Emu.Cli.Img;

public static partial class ImgCommand
{
    private static readonly string[] Qcow2CreateKeys =
    [
        "size", "compat", "cluster_size", "backing_file", "backing_fmt", "lazy_refcounts", "refcount_bits",
        "encryption", "encrypt.format", "encrypt.key-secret", "encrypt.cipher-alg", "encrypt.cipher-mode",
        "encrypt.ivgen-alg", "encrypt.ivgen-hash-alg", "encrypt.hash-alg", "encrypt.iter-time", "extended_l2", "compression_type", "preallocation",
        "data_file", "data_file_raw",
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
            string? rawPre = opts.GetValueOrDefault("preallocation");
            if (!quiet)
                stdout.WriteLine($"Formatting '{file}', fmt=raw size={size}" + (rawPre != null ? $" preallocation={rawPre}" : ""));
            var rawMode = rawPre == null ? Preallocation.Off
                : PreallocationModes.Parse(rawPre) ?? throw new UsageException($"{file}: invalid parameter value: {rawPre}");
            if (rawMode == Preallocation.Metadata)
                throw new UsageException($"{file}: Unsupported preallocation mode: metadata");
            RawDriver.Create(file, (size.Value + 511) & ~511L, rawMode);
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
        bool lazy = opts.TryGetValue("lazy_refcounts", out var lz) && ImageArgs.OnOff("lazy_refcounts", lz);
        bool extendedL2 = opts.TryGetValue("extended_l2", out var el2) && ImageArgs.OnOff("extended_l2", el2);
        string compression = opts.GetValueOrDefault("compression_type") ?? "zlib";
        string? pre = opts.GetValueOrDefault("preallocation");

        string? aesKey = null, luksKey = null;
        bool encrypt = (opts.TryGetValue("encryption", out var enc) && ImageArgs.OnOff("encryption", enc)) || opts.ContainsKey("encrypt.format");
        string encryptFormat = opts.GetValueOrDefault("encrypt.format") ?? "aes";
        if (encrypt)
        {
            if (encryptFormat is not ("aes" or "luks"))
                throw new UsageException($"Invalid encrypt.format: '{encryptFormat}'");
            if (encryptFormat == "aes" && opts.Keys.FirstOrDefault(k => k.StartsWith("encrypt.") && k is not ("encrypt.format" or "encrypt.key-secret")) is { } extra)
                throw new UsageException($"Invalid parameter '{extra}' for encrypt.format=aes");
            string secretId = opts.GetValueOrDefault("encrypt.key-secret")
                ?? throw new UsageException("Parameter 'encrypt.key-secret' is required for cipher");
            if (encryptFormat == "aes")
                aesKey = images.Secret(secretId);
            else
                luksKey = images.Secret(secretId);
        }
        var luks = LuksOptions(opts);

        string? dataFile = opts.GetValueOrDefault("data_file");
        bool dataFileRaw = opts.TryGetValue("data_file_raw", out var dfr) && ImageArgs.OnOff("data_file_raw", dfr);
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
                foreach (var k in Qcow2CreateKeys.Where(k => k.StartsWith("encrypt.")))
                    if (k == "encrypt.format" || opts.ContainsKey(k))
                        line += $" {k}={(k == "encrypt.format" ? encryptFormat : opts[k])}";
            line += $" cluster_size={clusterSize} extended_l2={(extendedL2 ? "on" : "off")}";
            if (pre != null)
                line += $" preallocation={pre}";
            line += $" compression_type={compression} size={size}";
            if (compat != null)
                line += $" compat={compat}";
            if (backing != null)
                line += $" backing_file={backing}";
            if (backingFmt != null)
                line += $" backing_fmt={backingFmt}";
            if (dataFile != null)
                line += $" data_file={dataFile}";
            if (dataFileRaw)
                line += " data_file_raw=on";
            line += $" lazy_refcounts={(lazy ? "on" : "off")} refcount_bits={refcountBits}";
            stdout.WriteLine(line);
        }
        byte compressionType = compression switch
        {
            "zlib" => Qcow2Header.CompressionZlib,
            "zstd" => Qcow2Header.CompressionZstd,
            _ => throw new UsageException($"{file}: Parameter 'compression-type' does not accept value '{compression}'"),
        };
        if (compressionType != Qcow2Header.CompressionZlib && version < 3)
            throw new UsageException($"{file}: Non-zlib compression type is only supported with compatibility level 1.1 and above (use version=v3 or greater)");
        var mode = ParsePreallocation(file, pre);
        if (backing != null && mode != Preallocation.Off)
            throw new UsageException($"{file}: Backing file and preallocation can only be used at the same time if extended_l2 is on");
        Qcow2Creator.Create(file, new Qcow2CreateOptions
        {
            CompressionType = compressionType,
            Size = (size.Value + 511) & ~511L,
            Version = version,
            ClusterSize = clusterSize,
            RefcountBits = refcountBits,
            LazyRefcounts = lazy,
            ExtendedL2 = extendedL2,
            BackingFile = backing,
            BackingFormat = backingFmt,
            AesKey = aesKey,
            DataFile = dataFile,
            DataFileRaw = dataFileRaw,
            LuksKey = luksKey,
            Luks = luks,
        });
        if (mode != Preallocation.Off)
        {
            using var q = (Qcow2Driver)ImageOpener.Open(file, new ImageOptions { Format = "qcow2", NoBacking = true, EncryptionKey = aesKey ?? luksKey });
            q.Preallocate(mode);
        }
        return 0;
    }

    private static Preallocation ParsePreallocation(string file, string? name) =>
        name == null ? Preallocation.Off
            : PreallocationModes.Parse(name) ?? throw new UsageException($"{file}: Parameter 'preallocation' does not accept value '{name}'");
    /// <summary>The encrypt.* options of a LUKS image, QEMU's defaults where not given.</summary>
    private static LuksFormatOptions LuksOptions(Dictionary<string, string> opts)
    {
        var l = new LuksFormatOptions();
        int iterTime = l.IterTimeMs;
        if (opts.TryGetValue("encrypt.iter-time", out var it) && (!int.TryParse(it, out iterTime) || iterTime <= 0))
            throw new UsageException($"Parameter 'iter-time' expects a positive number of milliseconds, not '{it}'");
        if (opts.TryGetValue("encrypt.ivgen-hash-alg", out var ivh))
            throw new UsageException($"encrypt.ivgen-hash-alg={ivh} is not supported (only the plain and plain64 IV generators are)");
        return l with
        {
            CipherAlg = opts.GetValueOrDefault("encrypt.cipher-alg") ?? l.CipherAlg,
            CipherMode = opts.GetValueOrDefault("encrypt.cipher-mode") ?? l.CipherMode,
            IvGenAlg = opts.GetValueOrDefault("encrypt.ivgen-alg") ?? l.IvGenAlg,
            HashAlg = opts.GetValueOrDefault("encrypt.hash-alg") ?? l.HashAlg,
            IterTimeMs = iterTime,
        };
    }
}
