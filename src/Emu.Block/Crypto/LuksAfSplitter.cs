using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Emu.Block.Crypto;

/// <summary>LUKS's anti-forensic splitter: spreads a key over many stripes so that losing any stripe destroys it.</summary>
internal static class LuksAfSplitter
{
    /// <summary>Splits key into stripes * key.Length bytes: random stripes, the last one folding in the key.</summary>
    public static byte[] Split(ReadOnlySpan<byte> key, int stripes, HashAlgorithmName hash)
    {
        var output = new byte[key.Length * stripes];
        var mix = new byte[key.Length];
        RandomNumberGenerator.Fill(output.AsSpan(0, key.Length * (stripes - 1)));
        for (int i = 0; i < stripes - 1; i++)
        {
            Xor(mix, output.AsSpan(i * key.Length, key.Length));
            Diffuse(mix, hash);
        }
        var last = output.AsSpan((stripes - 1) * key.Length, key.Length);
        key.CopyTo(last);
        Xor(last, mix);
        return output;
    }

    /// <summary>Recovers the key from its stripes (the inverse of <see cref="Split"/>).</summary>
    public static byte[] Merge(ReadOnlySpan<byte> split, int keyLength, int stripes, HashAlgorithmName hash)
    {
        var mix = new byte[keyLength];
        for (int i = 0; i < stripes - 1; i++)
        {
            Xor(mix, split.Slice(i * keyLength, keyLength));
            Diffuse(mix, hash);
        }
        Xor(mix, split.Slice((stripes - 1) * keyLength, keyLength));
        return mix;
    }

    private static void Xor(Span<byte> into, ReadOnlySpan<byte> other)
    {
        for (int i = 0; i < into.Length; i++)
            into[i] ^= other[i];
    }

    /// <summary>Replaces each digest-sized piece with the hash of (big-endian piece index, piece), truncated to fit.</summary>
    private static void Diffuse(Span<byte> data, HashAlgorithmName hash)
    {
        int digest = LuksHash.DigestLength(hash);
        Span<byte> input = stackalloc byte[4 + digest];
        Span<byte> output = stackalloc byte[digest];
        for (int piece = 0, pos = 0; pos < data.Length; piece++, pos += digest)
        {
            int len = Math.Min(digest, data.Length - pos);
            BinaryPrimitives.WriteUInt32BigEndian(input, (uint)piece);
            data.Slice(pos, len).CopyTo(input[4..]);
            CryptographicOperations.HashData(hash, input[..(4 + len)], output);
            output[..len].CopyTo(data.Slice(pos, len));
        }
    }
}
