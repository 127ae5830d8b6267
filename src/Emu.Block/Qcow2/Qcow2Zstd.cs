using System.Buffers;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace Emu.Block.Qcow2;

/// <summary>qcow2's zstd compression (compression_type=zstd): one zstd frame per cluster, as QEMU writes it.</summary>
internal static class Qcow2Zstd
{
    // Contexts are costly to build; one per thread keeps the cluster path allocation-free.
    [ThreadStatic] private static Compressor? t_compressor;
    [ThreadStatic] private static Decompressor? t_decompressor;

    /// <summary>Decompresses into output; true when exactly output.Length bytes came out.</summary>
    /// <remarks>The stored range is rounded up to whole sectors, so bytes after the frame are ignored once the
    /// cluster is full. The decoder's window is capped near the cluster size, so a frame that claims a huge
    /// window or content size is refused instead of allocated.</remarks>
    public static bool Decompress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        var d = t_decompressor ??= new Decompressor();
        try
        {
            d.ResetStream();
            int windowLog = Math.Max(10, System.Numerics.BitOperations.Log2((uint)Math.Max(1, output.Length)) + 1);
            d.SetParameter(ZSTD_dParameter.ZSTD_d_windowLogMax, windowLog);
            int written = 0;
            while (written < output.Length)
            {
                var status = d.UnwrapStream(input, output[written..], out int consumed, out int produced);
                input = input[consumed..];
                written += produced;
                if (consumed == 0 && produced == 0)
                    break;
                if (status == OperationStatus.InvalidData)
                    return false;
            }
            return written == output.Length;
        }
        catch (ZstdException)
        {
            return false;
        }
    }

    /// <summary>Compresses a cluster into one frame; returns the compressed length, or -1 when it does not shrink.</summary>
    public static int Compress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        var c = t_compressor ??= new Compressor(Compressor.DefaultCompressionLevel);
        var room = output[..Math.Min(output.Length, input.Length - 1)];
        try
        {
            return c.TryWrap(input, room, out int size) ? size : -1;
        }
        catch (ZstdException)
        {
            return -1;
        }
    }
}
