using System.Runtime.InteropServices;

namespace Emu.Block;

/// <summary>The few host calls .NET does not expose: st_blocks, hole punching and OFD byte locks.</summary>
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

    private const int SeekData = 3, SeekHole = 4;

    /// <summary>Offset of the first byte at or after offset that is not in a hole (file end when there is none), or -1 if unknown.</summary>
    public static long NextData(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, long fileLength)
    {
        long r = LSeek((int)handle.DangerousGetHandle(), offset, SeekData);
        if (r >= 0)
            return r;
        // ENXIO: no data after offset.
        return Marshal.GetLastPInvokeError() == 6 ? fileLength : -1;
    }

    /// <summary>Offset of the first hole at or after offset (the file end counts as one), or -1 if unknown.</summary>
    public static long NextHole(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset) =>
        LSeek((int)handle.DangerousGetHandle(), offset, SeekHole);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int OpenFile(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int FAllocate(int fd, int mode, long offset, long length);

    private const int ORdWr = 2, ODSync = 0x1000, OCloExec = 0x80000;
    private const int FallocKeepSize = 1, FallocPunchHole = 2, FallocZeroRange = 0x10;

    // O_DIRECT is one of the few flags whose value differs between Linux architectures.
    private static int ODirect => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x10000 : 0x4000;

    /// <summary>Opens a file bypassing the page cache (O_DIRECT, plus O_DSYNC when sync); throws IOException with the host's reason.</summary>
    public static Microsoft.Win32.SafeHandles.SafeFileHandle OpenDirect(string path, bool readOnly, bool sync)
    {
        int flags = (readOnly ? 0 : ORdWr) | ODirect | OCloExec | (sync ? ODSync : 0);
        int fd = OpenFile(path, flags, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(Marshal.GetPInvokeErrorMessage(errno), errno);
        }
        return new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Deallocates [offset, offset+length) keeping the file size (reads return zeroes); false when the host cannot.</summary>
    public static bool PunchHole(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, long length)
    {
        return WithFd(handle, fd => FAllocate(fd, FallocPunchHole | FallocKeepSize, offset, length)) == 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Flock
    {
        public short Type, Whence;
        public long Start, Length;
        public int Pid;
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int cmd, ref Flock lk);

    private const int FOfdGetLk = 36, FOfdSetLk = 37;
    private const short FRdLck = 0, FWrLck = 1, FUnLck = 2;

    /// <summary>Takes a shared OFD lock on one byte; false when the host or file system has no OFD locks.</summary>
    /// <remarks>Nobody takes exclusive locks on these bytes, so a shared lock is always granted where locks exist.</remarks>
    public static bool LockByte(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset)
    {
        var lk = new Flock { Type = FRdLck, Start = offset, Length = 1 };
        return WithFd(handle, fd => Fcntl(fd, FOfdSetLk, ref lk)) == 0;
    }

    /// <summary>Drops this handle's OFD locks on [offset, offset + length).</summary>
    public static void Unlock(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, long length)
    {
        var lk = new Flock { Type = FUnLck, Start = offset, Length = length };
        WithFd(handle, fd => Fcntl(fd, FOfdSetLk, ref lk));
    }

    /// <summary>True when an open file description other than this handle's holds a lock on the byte.</summary>
    public static bool ByteLockedByOther(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset)
    {
        // An exclusive lock would conflict with any other holder's lock; our own never conflict with ourselves.
        var lk = new Flock { Type = FWrLck, Start = offset, Length = 1 };
        return WithFd(handle, fd => Fcntl(fd, FOfdGetLk, ref lk)) == 0 && lk.Type != FUnLck;
    }

    private delegate int FdCall(int fd);

    private static int WithFd(Microsoft.Win32.SafeHandles.SafeFileHandle handle, FdCall call)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            return call((int)handle.DangerousGetHandle());
        }
        finally
        {
            if (added)
                handle.DangerousRelease();
        }
    }

    /// <summary>Allocates [offset, offset+length) as zeroes (unwritten extents, growing the file if needed); false when
    /// the host cannot.</summary>
    public static bool ZeroRange(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, long length) =>
        WithFd(handle, fd => FAllocate(fd, FallocZeroRange, offset, length)) == 0;

    /// <summary>Allocated size of a file in bytes (st_blocks * 512).</summary>
    public static long AllocatedBytes(string path)
    {
        if (Statx(AtFdCwd, path, 0, StatxBlocks, out var st) != 0)
            throw new IOException("statx failed");
        return (long)st.Blocks * 512;
    }
}
