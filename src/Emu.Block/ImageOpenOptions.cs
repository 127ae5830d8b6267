namespace Emu.Block;

/// <summary>Runtime open options as QEMU spells them (<c>cache=none</c>, <c>cache.direct=on</c>, ...), applied to <see cref="ImageOptions"/>.</summary>
public static class ImageOpenOptions
{
    private static readonly Dictionary<string, Func<ImageOptions, string, string, ImageOptions>> Setters = new()
    {
        ["cache"] = (o, _, v) => o with { Cache = HostCache.Parse(v) },
        ["cache.direct"] = (o, k, v) => o with { Cache = WithDirect(o.Cache, Bool(k, v)) },
        ["cache.no-flush"] = (o, k, v) => o with { Cache = Bool(k, v) ? HostCacheMode.Unsafe : o.Cache },
        ["l2-cache-size"] = (o, k, v) => o with { L2CacheBytes = Size(k, v) },
        ["refcount-cache-size"] = (o, k, v) => o with { RefcountCacheBytes = Size(k, v) },
        ["cache-clean-interval"] = (o, _, v) => o with { CacheCleanInterval = Interval(v) },
        ["lazy-refcounts"] = (o, k, v) => o with { LazyRefcounts = Bool(k, v) },
        ["locking"] = (o, _, v) => o with { Locking = Locking(v) },
        ["file.locking"] = (o, _, v) => o with { Locking = Locking(v) },
        ["force-share"] = (o, k, v) => o with { ForceShare = Bool(k, v) },
        ["overlap-check"] = (o, _, v) => o with { OverlapCheck = Qcow2.Qcow2Driver.ParseOverlapCheck(v) },
    };

    /// <summary>The runtime options <see cref="Apply"/> understands.</summary>
    public static IReadOnlyCollection<string> Keys => Setters.Keys;

    /// <summary>Returns options with every key this layer knows applied; other keys (driver, file.filename, ...) are left to the caller.</summary>
    public static ImageOptions Apply(ImageOptions options, IReadOnlyDictionary<string, string> kv)
    {
        foreach (var (key, value) in kv)
            if (Setters.TryGetValue(key, out var set))
                options = set(options, key, value);
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

    /// <summary>QEMU's locking=on|off|auto (auto locks where the host supports it, as on does here).</summary>
    private static bool Locking(string value) => value switch
    {
        "on" or "auto" => true,
        "off" => false,
        _ => throw new BlockException($"invalid parameter value: {value}"),
    };

    /// <summary>QEMU's boolean spellings.</summary>
    internal static bool Bool(string key, string value) => value switch
    {
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new BlockException($"Parameter '{key}' expects 'on' or 'off'"),
    };
}
