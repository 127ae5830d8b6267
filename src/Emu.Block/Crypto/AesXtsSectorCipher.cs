using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Emu.Block.Crypto;

/// <summary>AES-XTS (IEEE 1619) per 512-byte sector, built on AES-ECB: the key is two AES keys, data then tweak.</summary>
internal sealed class AesXtsSectorCipher : SectorCipher
{
    private const int Block = 16;
    private readonly Aes _data;
    private readonly Aes _tweak;

    public AesXtsSectorCipher(ReadOnlySpan<byte> key, IvGenerator iv) : base(iv)
    {
        if (key.Length is not (32 or 48 or 64))
            throw new BlockException($"AES-XTS needs a 32, 48 or 64-byte key, not {key.Length}");
        int half = key.Length / 2;
        _data = Aes.Create();
        _data.Key = key[..half].ToArray();
        _tweak = Aes.Create();
        _tweak.Key = key[half..].ToArray();
    }

    protected override void TransformSector(ReadOnlySpan<byte> iv, Span<byte> sector, bool encrypt)
    {
        // All tweaks of the sector up front, so the sector goes through AES in one ECB call.
        Span<byte> tweaks = stackalloc byte[SectorSize];
        tweaks = tweaks[..sector.Length];
        _tweak.EncryptEcb(iv, tweaks[..Block], PaddingMode.None);
        ulong lo = BinaryPrimitives.ReadUInt64LittleEndian(tweaks);
        ulong hi = BinaryPrimitives.ReadUInt64LittleEndian(tweaks[8..]);
        for (int off = Block; off < tweaks.Length; off += Block)
        {
            // Multiply by x in GF(2^128), little-endian, reducing with x^128 = x^7 + x^2 + x + 1.
            ulong carry = hi >> 63;
            hi = (hi << 1) | (lo >> 63);
            lo = (lo << 1) ^ (carry * 0x87);
            BinaryPrimitives.WriteUInt64LittleEndian(tweaks[off..], lo);
            BinaryPrimitives.WriteUInt64LittleEndian(tweaks[(off + 8)..], hi);
        }
        Xor(sector, tweaks);
        if (encrypt)
            _data.EncryptEcb(sector, sector, PaddingMode.None);
        else
            _data.DecryptEcb(sector, sector, PaddingMode.None);
        Xor(sector, tweaks);
    }

    private static void Xor(Span<byte> data, ReadOnlySpan<byte> mask)
    {
        var d = MemoryMarshal.Cast<byte, ulong>(data);
        var m = MemoryMarshal.Cast<byte, ulong>(mask);
        for (int i = 0; i < d.Length; i++)
            d[i] ^= m[i];
    }

    public override void Dispose()
    {
        _data.Dispose();
        _tweak.Dispose();
    }
}
