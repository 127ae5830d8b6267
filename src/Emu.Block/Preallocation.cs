using System.Runtime.InteropServices;

namespace Emu.Block;

/// <summary>qemu-img's preallocation modes: nothing, metadata only, data space reserved, or data written as zeroes.</summary>
public enum Preallocation { Off, Metadata, Falloc, Full }

/// <summary>Parsing of preallocation mode names and reserving host space for them.</summary>
public static partial class PreallocationModes
{
    /// <summary>The mode named as in <c>-o preallocation=NAME</c>, or null for an unknown name.</summary>
    public static Preallocation? Parse(string name) => name switch
    {
        "off" => Preallocation.Off,
        "metadata" => Preallocation.Metadata,
        "falloc" => Preallocation.Falloc,
        "full" => Preallocation.Full,
        _ => null,
    };

    /// <summary>Grows the file to newLength: the new range is reserved (falloc), written with zeroes (full) or left a hole.</summary>
    public static void Extend(HostFile file, long newLength, Preallocation mode)
    {
        long old = file.Length;
        if (newLength <= old)
            return;
        switch (mode)
        {
            case Preallocation.Falloc:
                int rc = PosixFallocate((int)file.Handle.DangerousGetHandle(), old, newLength - old);
                if (rc != 0)
                    throw new BlockException($"Could not preallocate new data: error {rc}");
                break;
            case Preallocation.Full:
                var zeroes = new byte[1 << 20];
                for (long pos = old; pos < newLength; pos += zeroes.Length)
                    file.Write(pos, zeroes.AsSpan(0, (int)Math.Min(zeroes.Length, newLength - pos)));
                break;
            default:
                file.SetLength(newLength);
                break;
        }
    }

    [LibraryImport("libc", EntryPoint = "posix_fallocate")]
    private static partial int PosixFallocate(int fd, long offset, long length);
}
