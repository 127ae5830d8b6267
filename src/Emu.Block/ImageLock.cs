using System.Numerics;
using Microsoft.Win32.SafeHandles;

namespace Emu.Block;

/// <summary>Uses of an image file an opener can take or refuse to share (QEMU's block permissions, in its bit order).</summary>
[Flags]
public enum ImagePermissions
{
    None = 0,
    ConsistentRead = 1,
    Write = 2,
    WriteUnchanged = 4,
    Resize = 8,
}

/// <summary>What one open of an image file holds and what it will not share with other openers.</summary>
/// <remarks>Kept as QEMU keeps it, so emu and QEMU respect each other's opens: one shared OFD lock on byte
/// 100 + bit for each permission held and on byte 200 + bit for each one not shared. Opening checks the other
/// side (someone refusing what we take, or holding what we refuse) after taking its own bytes, so of two openers
/// racing, at least one sees the other. The locks belong to the open file description; closing drops them.</remarks>
public readonly record struct ImageLock(ImagePermissions Held, ImagePermissions Unshared)
{
    private const int HeldBase = 100, UnsharedBase = 200;
    private const ImagePermissions All = ImagePermissions.ConsistentRead | ImagePermissions.Write
        | ImagePermissions.WriteUnchanged | ImagePermissions.Resize;

    /// <summary>No locks at all (QEMU's locking=off, and short internal reads such as format probing).</summary>
    public static readonly ImageLock None = default;

    /// <summary>The locks an image file takes: readers refuse writers (unless they force sharing), a writer refuses
    /// other writers; a qcow2 file also refuses resizing, which would move the metadata under it.</summary>
    public static ImageLock For(bool readOnly, bool forceShare, bool qcow2)
    {
        var held = readOnly ? ImagePermissions.ConsistentRead
            : ImagePermissions.ConsistentRead | ImagePermissions.Write | (qcow2 ? ImagePermissions.Resize : 0);
        if (forceShare)
            return new ImageLock(held, ImagePermissions.None);
        if (!qcow2)
            return new ImageLock(held, readOnly ? ImagePermissions.None : ImagePermissions.Write);
        return new ImageLock(held, ImagePermissions.Write | ImagePermissions.Resize);
    }

    /// <summary>Takes the locks on an open file; throws <see cref="ImageLockException"/> naming the first
    /// permission another opener is in the way of. Hosts or file systems without OFD locks get no locking.</summary>
    internal void Apply(SafeFileHandle handle, string path)
    {
        if (Held == ImagePermissions.None && Unshared == ImagePermissions.None)
            return;
        foreach (int bit in Bits(Held))
            if (!Native.LockByte(handle, HeldBase + bit))
                return;
        foreach (int bit in Bits(Unshared))
            if (!Native.LockByte(handle, UnsharedBase + bit))
                return;
        foreach (int bit in Bits(Held))
            if (Native.ByteLockedByOther(handle, UnsharedBase + bit))
                throw new ImageLockException($"Failed to get \"{Name(bit)}\" lock", path);
        foreach (int bit in Bits(Unshared))
            if (Native.ByteLockedByOther(handle, HeldBase + bit))
                throw new ImageLockException($"Failed to get shared \"{Name(bit)}\" lock", path);
    }

    /// <summary>Drops the locks explicitly: closing the descriptor alone leaves them to any forked child that has not
    /// yet reached exec (the child shares the open file description), where they would refuse this process's next open.</summary>
    internal static void Release(SafeFileHandle handle) => Native.Unlock(handle, HeldBase, UnsharedBase + 100 - HeldBase);

    private static IEnumerable<int> Bits(ImagePermissions p)
    {
        for (uint v = (uint)(p & All); v != 0; v &= v - 1)
            yield return BitOperations.TrailingZeroCount(v);
    }

    private static string Name(int bit) => bit switch
    {
        0 => "consistent read",
        1 => "write",
        2 => "write unchanged",
        _ => "resize",
    };
}

/// <summary>Another process (or another open in this one) uses an image file in a way this open cannot share.</summary>
public sealed class ImageLockException(string reason, string path) : BlockException(Describe(reason, path))
{
    /// <summary>What could not be locked, e.g. <c>Failed to get "write" lock</c>.</summary>
    public string Reason => reason;

    /// <summary>The file that could not be locked.</summary>
    public string Path => path;

    /// <summary>The conflict as QEMU reports it, naming the image as the user did.</summary>
    public static string Describe(string reason, string path) => $"{reason}\nIs another process using the image [{path}]?";
}
