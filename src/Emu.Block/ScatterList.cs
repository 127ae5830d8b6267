namespace Emu.Block;

/// <summary>A vectored request's buffers: consecutive byte ranges of the disk held in separate pieces of memory.</summary>
public static class ScatterList
{
    /// <summary>Total bytes of the buffers.</summary>
    public static long Length(IReadOnlyList<Memory<byte>> buffers)
    {
        long total = 0;
        for (int i = 0; i < buffers.Count; i++)
            total += buffers[i].Length;
        return total;
    }

    /// <summary>The pieces of <paramref name="buffers"/> that hold bytes [start, start + length) of their concatenation.</summary>
    public static Memory<byte>[] Slice(IReadOnlyList<Memory<byte>> buffers, long start, int length)
    {
        var pieces = new List<Memory<byte>>();
        long skip = start;
        for (int i = 0; i < buffers.Count && length > 0; i++)
        {
            var buffer = buffers[i];
            if (skip >= buffer.Length)
            {
                skip -= buffer.Length;
                continue;
            }
            int take = (int)Math.Min(buffer.Length - skip, length);
            pieces.Add(buffer.Slice((int)skip, take));
            skip = 0;
            length -= take;
        }
        if (length > 0)
            throw new ArgumentException("The range runs past the end of the scatter list");
        return [.. pieces];
    }

    /// <summary>Copies <paramref name="source"/> into the buffers in order.</summary>
    public static void Scatter(ReadOnlySpan<byte> source, IReadOnlyList<Memory<byte>> buffers)
    {
        for (int i = 0; i < buffers.Count && source.Length > 0; i++)
        {
            int n = Math.Min(buffers[i].Length, source.Length);
            source[..n].CopyTo(buffers[i].Span);
            source = source[n..];
        }
    }

    /// <summary>Copies the buffers' bytes, in order, into <paramref name="destination"/>.</summary>
    public static void Gather(IReadOnlyList<Memory<byte>> buffers, Span<byte> destination)
    {
        for (int i = 0; i < buffers.Count && destination.Length > 0; i++)
        {
            int n = Math.Min(buffers[i].Length, destination.Length);
            buffers[i].Span[..n].CopyTo(destination);
            destination = destination[n..];
        }
    }
}
