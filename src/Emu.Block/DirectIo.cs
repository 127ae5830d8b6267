using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Emu.Block;

/// <summary>Positional I/O on a file opened with O_DIRECT: offsets, lengths and memory must be block aligned,
/// so unaligned requests go through pooled aligned bounce buffers (read-modify-write for partial blocks).</summary>
internal static unsafe class DirectIo
{
    /// <summary>Alignment of memory, offsets and lengths; 4096 satisfies every common logical block size.</summary>
    public const int Alignment = 4096;
    private const int Mask = Alignment - 1;
    private const int BounceBytes = 256 << 10;

    private static readonly object PoolGate = new();
    private static readonly nint[] Pool = new nint[64];
    private static int _pooled;

    private static nint Rent()
    {
        lock (PoolGate)
        {
            if (_pooled > 0)
                return Pool[--_pooled];
        }
        return (nint)NativeMemory.AlignedAlloc(BounceBytes, Alignment);
    }

    private static void Return(nint buffer)
    {
        lock (PoolGate)
        {
            if (_pooled < Pool.Length)
            {
                Pool[_pooled++] = buffer;
                return;
            }
        }
        NativeMemory.AlignedFree((void*)buffer);
    }

    private static bool Aligned(long offset, int length, void* memory) => ((offset | (long)length | (long)(nint)memory) & Mask) == 0;

    /// <summary>Reads buffer.Length bytes at offset; bytes past the end of the file read as zeroes.</summary>
    public static void Read(SafeFileHandle handle, long offset, Span<byte> dest)
    {
        fixed (byte* p = dest)
        {
            if (Aligned(offset, dest.Length, p))
            {
                int got = ReadUpTo(handle, offset, dest);
                dest[got..].Clear();
                return;
            }
        }
        nint buffer = Rent();
        try
        {
            var bounce = new Span<byte>((void*)buffer, BounceBytes);
            while (dest.Length > 0)
            {
                long start = offset & ~(long)Mask;
                int head = (int)(offset - start);
                int n = Math.Min(dest.Length, BounceBytes - head);
                int span = (head + n + Mask) & ~Mask;
                int got = ReadUpTo(handle, start, bounce[..span]);
                bounce[got..span].Clear();
                bounce.Slice(head, n).CopyTo(dest);
                dest = dest[n..];
                offset += n;
            }
        }
        finally
        {
            Return(buffer);
        }
    }

    /// <summary>Reads an aligned range until it is full or the file ends; returns the bytes read.</summary>
    private static int ReadUpTo(SafeFileHandle handle, long offset, Span<byte> dest)
    {
        int total = 0;
        while (total < dest.Length)
        {
            int n = RandomAccess.Read(handle, dest[total..], offset + total);
            if (n <= 0)
                break;
            total += n;
            if ((total & Mask) != 0)
                break; // A short, unaligned count only happens at the end of the file.
        }
        return total;
    }

    /// <summary>Writes data at offset; partial blocks are merged with their current contents under rmwLock.</summary>
    public static void Write(SafeFileHandle handle, long offset, ReadOnlySpan<byte> data, object rmwLock)
    {
        fixed (byte* p = data)
        {
            if (Aligned(offset, data.Length, p))
            {
                RandomAccess.Write(handle, data, offset);
                return;
            }
        }
        if (((offset | (long)data.Length) & Mask) == 0)
        {
            WriteBounced(handle, offset, data);
            return;
        }
        // Read-modify-write of shared edge blocks: serialise so that neighbouring writes do not undo each other.
        lock (rmwLock)
        {
            long end = offset + data.Length;
            long oldLength = RandomAccess.GetLength(handle);
            WriteBounced(handle, offset, data);
            // The last block was written whole; give back what it added beyond the request.
            long wanted = Math.Max(oldLength, end);
            if (RandomAccess.GetLength(handle) > wanted)
                RandomAccess.SetLength(handle, wanted);
        }
    }

    private static void WriteBounced(SafeFileHandle handle, long offset, ReadOnlySpan<byte> data)
    {
        nint buffer = Rent();
        try
        {
            var bounce = new Span<byte>((void*)buffer, BounceBytes);
            while (data.Length > 0)
            {
                long start = offset & ~(long)Mask;
                int head = (int)(offset - start);
                int n = Math.Min(data.Length, BounceBytes - head);
                int span = (head + n + Mask) & ~Mask;
                if (head != 0)
                    FillBlock(handle, start, bounce[..Alignment]);
                bool tailPartial = ((head + n) & Mask) != 0;
                if (tailPartial && !(head != 0 && span == Alignment))
                    FillBlock(handle, start + span - Alignment, bounce.Slice(span - Alignment, Alignment));
                data[..n].CopyTo(bounce[head..]);
                RandomAccess.Write(handle, bounce[..span], start);
                data = data[n..];
                offset += n;
            }
        }
        finally
        {
            Return(buffer);
        }
    }

    private static void FillBlock(SafeFileHandle handle, long offset, Span<byte> block)
    {
        int got = ReadUpTo(handle, offset, block);
        block[got..].Clear();
    }
}
