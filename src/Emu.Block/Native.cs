using System.Runtime.InteropServices;

namespace Emu.Block;

/// <summary>The few host calls .NET does not expose: st_blocks and hole punching.</summary>
internal static partial class Native
{
    [StructLayout(LayoutKind.Sequential)]
    private struct StatX
    {
        public uint Mask, BlkSize;
        public ulong Attributes;
        public uint Nlink, Uid, Gid;
        public ushort Mode, Spare0;
        public ulong Ino, Size, Blocks, AttributesMask;
        public unsafe fixed byte Rest[192];
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, out StatX buf);

    private const int AtFdCwd = -100;
    private const uint StatxBlocks = 0x400;

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(int fd, long offset, int whence);

    private const int SeekData = 3;

    /// <summary>Offset of the first byte at or after offset that is not in a hole (file end when there is none), or -1 if unknown.</summary>
    public static long NextData(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, long fileLength)
    {
        long r = LSeek((int)handle.DangerousGetHandle(), offset, SeekData);
        if (r >= 0)
            return r;
        // ENXIO: no data after offset.
        return Marshal.GetLastPInvokeError() == 6 ? fileLength : -1;
    }

    /// <summary>Allocated size of a file in bytes (st_blocks * 512).</summary>
    public static long AllocatedBytes(string path)
    {
        if (Statx(AtFdCwd, path, 0, StatxBlocks, out var st) != 0)
            throw new IOException("statx failed");
        return (long)st.Blocks * 512;
    }
}
