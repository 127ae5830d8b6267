using System.IO.Compression;
using System.Runtime.InteropServices;

namespace Emu.Block.Qcow2;

/// <summary>qcow2's zlib compression: raw deflate with a 4 KiB (12-bit) window, as QEMU reads and writes it.</summary>
internal static unsafe partial class Qcow2Compression
{
    /// <summary>Inflates input into output; true when exactly output.Length bytes came out.</summary>
    /// <remarks>Output is bounded by the cluster size, so a decompression bomb costs nothing.</remarks>
    public static bool Inflate(byte[] input, byte[] output)
    {
        try
        {
            using var ms = new MemoryStream(input, false);
            using var inflater = new DeflateStream(ms, CompressionMode.Decompress);
            int total = 0;
            while (total < output.Length)
            {
                int n = inflater.Read(output, total, output.Length - total);
                if (n == 0)
                    break;
                total += n;
            }
            return total == output.Length;
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }

    /// <summary>Deflates a cluster with a 12-bit window; returns the compressed length, or -1 when it does not shrink.</summary>
    public static int Deflate(ReadOnlySpan<byte> input, byte[] output)
    {
        var stream = new ZStream();
        fixed (byte* version = "1.2.11\0"u8)
        {
            int rc = DeflateInit2(ref stream, -1, 8, -12, 9, 0, version, sizeof(ZStream));
            if (rc != 0)
                throw new BlockException($"zlib deflateInit2 failed ({rc})");
        }
        try
        {
            fixed (byte* inp = input)
            fixed (byte* outp = output)
            {
                stream.NextIn = inp;
                stream.AvailIn = (uint)input.Length;
                stream.NextOut = outp;
                stream.AvailOut = (uint)output.Length;
                int rc = DeflateCall(ref stream, 4);
                if (rc != 1)
                    return -1;
                int size = output.Length - (int)stream.AvailOut;
                return size < input.Length ? size : -1;
            }
        }
        finally
        {
            DeflateEnd(ref stream);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ZStream
    {
        public byte* NextIn;
        public uint AvailIn;
        public nuint TotalIn;
        public byte* NextOut;
        public uint AvailOut;
        public nuint TotalOut;
        public byte* Msg;
        public void* State;
        public void* ZAlloc;
        public void* ZFree;
        public void* Opaque;
        public int DataType;
        public nuint Adler;
        public nuint Reserved;
    }

    [LibraryImport("libz.so.1", EntryPoint = "deflateInit2_")]
    private static partial int DeflateInit2(ref ZStream stream, int level, int method, int windowBits, int memLevel, int strategy, byte* version, int streamSize);

    [LibraryImport("libz.so.1", EntryPoint = "deflate")]
    private static partial int DeflateCall(ref ZStream stream, int flush);

    [LibraryImport("libz.so.1", EntryPoint = "deflateEnd")]
    private static partial int DeflateEnd(ref ZStream stream);
}
