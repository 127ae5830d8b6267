namespace Emu.Block;

/// <summary>Runtime open options as QEMU spells them (<c>cache=none</c>, <c>cache.direct=on</c>, ...), applied to <see cref="ImageOptions"/>.</summary>
public static class ImageOpenOptions
{
    /// <summary>The runtime options <see cref="Apply"/> understands.</summary>
    public static readonly IReadOnlySet<string> Keys = new HashSet<string>
    {
        "cache", "cache.direct", "cache.no-flush", "l2-cache-size", "refcount-cache-size", "cache-clean-interval",
        "lazy-refcounts", "overlap-check",
    };

    /// <summary>Returns options with every key this layer knows applied; other keys (driver, file.filename, ...) are left to the caller.</summary>

    public static ImageOptions Apply(ImageOptions options, IReadOnlyDictionary<string, string> kv)
    {
        foreach (var (key, value) in kv)
        {
            options = key switch
            {
                "cache" => options with { Cache = HostCache.Parse(value) },
                "cache.direct" => options with { Cache = WithDirect(options.Cache, Bool(key, value)) },
                "cache.no-flush" => options with { Cache = Bool(key, value) ? HostCacheMode.Unsafe : options.Cache },
                "l2-cache-size" => options with { L2CacheBytes = Size(key, value) },
                "refcount-cache-size" => options with { RefcountCacheBytes = Size(key, value) },
                "cache-clean-interval" => options with { CacheCleanInterval = Interval(value) },
                "lazy-refcounts" => options with { LazyRefcounts = Bool(key, value) },
                "overlap-check" => options with { OverlapCheck = Qcow2.Qcow2Driver.ParseOverlapCheck(value) },
                _ => options,
            };
        }
        return options;
    }

    private static HostCacheMode WithDirect(HostCacheMode mode, bool direct) => (direct, mode) switch
    {
        (true, HostCacheMode.WriteThrough) => HostCacheMode.DirectSync,
        (true, _) => HostCacheMode.None,
        (false, HostCacheMode.DirectSync) => HostCacheMode.WriteThrough,
        (false, HostCacheMode.None) => HostCacheMode.WriteBack,
        _ => mode,
    };

    /// <summary>A byte count with an optional binary suffix (k, M, G, T), bounded to what a cache can sensibly hold.</summary>
    private static long Size(string key, string value)
    {
        long unit = 1;
        string digits = value;
        if (value.Length > 0 && "kKmMgGtT".Contains(value[^1]))
        {
            unit = char.ToUpperInvariant(value[^1]) switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1L << 40 };
            digits = value[..^1];
        }
        if (!long.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n) || n > (1L << 42) / unit)
            throw new BlockException($"Parameter '{key}' expects a size");
        return n * unit;
    }

    private static int Interval(string value)
    {
        if (!long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n))
            throw new BlockException("Parameter 'cache-clean-interval' expects a number of seconds");
        if (n > int.MaxValue / 1000)
            throw new BlockException("Cache clean interval too big");
        return (int)n;
    }

    /// <summary>QEMU's boolean spellings.</summary>
    internal static bool Bool(string key, string value) => value switch
    {
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new BlockException($"Parameter '{key}' expects 'on' or 'off'"),
    };
}
