using Emu.Block.Qcow2;
using Emu.Block.Raw;

namespace Emu.Block;

/// <summary>Opens images by probing their format (or as told) and wires up backing chains.</summary>
public static class ImageOpener
{
    /// <summary>Guesses the format from the first bytes, as qemu-img does: qcow2 by magic, else raw.</summary>
    public static string Probe(string path)
    {
        using var f = HostFile.Open(path, true);
        Span<byte> magic = stackalloc byte[4];
        if (f.Length < 4)
            return "raw";
        f.Read(0, magic);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(magic) == Qcow2Header.Magic ? "qcow2" : "raw";
    }

    public static BlockDriver Open(string path, ImageOptions? options = null) =>
        Open(path, options ?? new ImageOptions(), 0, new HashSet<string>());

    internal static BlockDriver Open(string path, ImageOptions options, int depth, HashSet<string> chain)
    {
        if (options.ForceShare && !options.ReadOnly)
            throw new BlockException($"Could not open '{path}': force-share=on can only be used with read-only images");
        if (depth > options.MaxChainDepth)
            throw new BlockException($"Backing chain of '{path}' is too deep (more than {options.MaxChainDepth} images)");
        if (path.Length == 0)
            throw new BlockException("Could not open '': The 'file' block driver requires a file name");
        string full = Path.GetFullPath(path);
        if (!chain.Add(full))
            throw new BlockException($"Backing chain loops: '{path}' is its own backing file");
        if (!File.Exists(full))
            throw new BlockException($"Could not open '{path}': No such file or directory");
        string format = options.Format ?? Probe(full);
        try
        {
            return format switch
            {
                "raw" => new RawDriver(HostFile.Open(full, options.ReadOnly, options.Cache, options.LockFor(qcow2: false))),
                "qcow2" => Qcow2Driver.Open(full, options, depth, chain),
                _ => throw new BlockException($"Could not open '{path}': Unknown driver '{format}'"),
            };
        }
        catch (ImageLockException e)
        {
            throw new BlockException($"Could not open '{path}': {ImageLockException.Describe(e.Reason, path)}", e);
        }
    }

    /// <summary>Resolves a backing file name relative to the folder of the image naming it, as QEMU does.</summary>
    public static string ResolveBacking(string imagePath, string backing)
    {
        if (Path.IsPathRooted(backing))
            return backing;
        string dir = Path.GetDirectoryName(Path.GetFullPath(imagePath)) ?? ".";
        return Path.Combine(dir, backing);
    }
}
