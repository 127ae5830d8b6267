namespace Emu.Block;

/// <summary>Runtime open options as QEMU spells them (<c>cache=none</c>, <c>cache.direct=on</c>, ...), applied to <see cref="ImageOptions"/>.</summary>
public static class ImageOpenOptions
{
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

    /// <summary>QEMU's boolean spellings.</summary>
    internal static bool Bool(string key, string value) => value switch
    {
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new BlockException($"Parameter '{key}' expects 'on' or 'off'"),
    };
}
