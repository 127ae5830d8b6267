namespace Emu.Block;

/// <summary>How a host file uses the host page cache, as QEMU's cache= modes spell it.</summary>
public enum HostCacheMode
{
    /// <summary>Page cache on, flushes reach the disk (QEMU's default).</summary>
    WriteBack,
    /// <summary>Page cache on, every write is durable before it completes (O_DSYNC).</summary>
    WriteThrough,
    /// <summary>Page cache bypassed (O_DIRECT); flushes still make writes durable.</summary>
    None,
    /// <summary>Page cache bypassed and every write durable (O_DIRECT | O_DSYNC).</summary>
    DirectSync,
    /// <summary>Page cache on and flushes ignored.</summary>
    Unsafe,
}

/// <summary>Parsing and meaning of <see cref="HostCacheMode"/>.</summary>
public static class HostCache
{
    /// <summary>Parses "none", "writeback", "writethrough", "directsync" or "unsafe".</summary>
    public static HostCacheMode Parse(string text) => text switch
    {
        "writeback" => HostCacheMode.WriteBack,
        "writethrough" => HostCacheMode.WriteThrough,
        "none" or "off" => HostCacheMode.None,
        "directsync" => HostCacheMode.DirectSync,
        "unsafe" => HostCacheMode.Unsafe,
        _ => throw new BlockException($"Invalid cache mode: {text}"),
    };

    /// <summary>True when the mode bypasses the page cache.</summary>
    public static bool IsDirect(this HostCacheMode mode) => mode is HostCacheMode.None or HostCacheMode.DirectSync;

    /// <summary>True when every write must be durable on completion.</summary>
    public static bool IsSync(this HostCacheMode mode) => mode is HostCacheMode.WriteThrough or HostCacheMode.DirectSync;
}
