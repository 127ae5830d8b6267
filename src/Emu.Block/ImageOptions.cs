namespace Emu.Block;

/// <summary>How to open an image: format, access, key material and backing overrides.</summary>
public sealed record ImageOptions
{
    /// <summary>Format name ("qcow2", "raw"), or null to probe the header as qemu-img does.</summary>
    public string? Format { get; init; }

    public bool ReadOnly { get; init; }

    /// <summary>Passphrase of an encrypted image (the data of the secret named by encrypt.key-secret).</summary>
    public string? EncryptionKey { get; init; }

    /// <summary>Open for metadata only (qemu-img info): encrypted images need no key, and their data cannot be read.</summary>
    public bool MetadataOnly { get; init; }

    /// <summary>Do not open the backing file (qemu-img's -U/-u style metadata-only work).</summary>
    public bool NoBacking { get; init; }

    /// <summary>How image files use the host page cache (QEMU's cache= / -t).</summary>
    public HostCacheMode Cache { get; init; }

    /// <summary>L2 cache size in bytes (QEMU's l2-cache-size); 0 for the default.</summary>
    public long L2CacheBytes { get; init; }

    /// <summary>Refcount block cache size in bytes (QEMU's refcount-cache-size); 0 for the default.</summary>
    public long RefcountCacheBytes { get; init; }

    /// <summary>Seconds after which unused cache entries are dropped (QEMU's cache-clean-interval); 0 never.</summary>
    public int CacheCleanInterval { get; init; } = 600;

    /// <summary>Overrides the image's lazy refcounts bit for this open (QEMU's lazy-refcounts); null keeps it.</summary>
    public bool? LazyRefcounts { get; init; }

    /// <summary>Metadata sections every write is checked against (QEMU's overlap-check; default cached).</summary>
    public Qcow2.Qcow2Overlap OverlapCheck { get; init; } = Qcow2.Qcow2Overlap.Cached;

    /// <summary>Open even when another process writes the image (QEMU's force-share, qemu-img's -U); read-only opens only.</summary>
    public bool ForceShare { get; init; }

    /// <summary>Lock image files against conflicting use by other processes as QEMU does (QEMU's locking=on|off).</summary>
    public bool Locking { get; init; } = true;

    /// <summary>The locks this open takes on an image file of the given format.</summary>
    internal ImageLock LockFor(bool qcow2) => Locking ? ImageLock.For(ReadOnly, ForceShare, qcow2) : ImageLock.None;

    /// <summary>Images further down the chain than this are refused (loops and absurd chains).</summary>
    public int MaxChainDepth { get; init; } = 64;
}
