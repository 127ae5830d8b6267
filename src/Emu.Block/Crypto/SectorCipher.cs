using System.Buffers.Binary;

namespace Emu.Block.Crypto;

/// <summary>How the per-sector IV is derived from the sector number (dm-crypt's "plain" and "plain64").</summary>
public enum IvGenerator { Plain, Plain64 }

/// <summary>A block cipher applied sector by sector (512 bytes), each sector with its own IV.</summary>
internal abstract class SectorCipher : IDisposable
{
    public const int SectorSize = 512;

    private readonly IvGenerator _iv;

    protected SectorCipher(IvGenerator iv) => _iv = iv;

    /// <summary>Encrypts sectors in place; <paramref name="sector"/> numbers the first one. The last sector may be
    /// short (a multiple of 16 bytes), as LUKS key material for some key sizes is.</summary>
    public void Encrypt(long sector, Span<byte> data) => Run(sector, data, encrypt: true);

    /// <summary>Decrypts sectors in place, the inverse of <see cref="Encrypt"/>.</summary>
    public void Decrypt(long sector, Span<byte> data) => Run(sector, data, encrypt: false);

    private void Run(long sector, Span<byte> data, bool encrypt)
    {
        if ((data.Length & 15) != 0)
            throw new BlockException("Encrypted data must be a whole number of 16-byte blocks");
        Span<byte> iv = stackalloc byte[16];
        for (int pos = 0; pos < data.Length; pos += SectorSize, sector++)
        {
            iv.Clear();
            // "plain" keeps only the low 32 bits of the sector number.
            BinaryPrimitives.WriteInt64LittleEndian(iv, _iv == IvGenerator.Plain ? (uint)sector : sector);
            TransformSector(iv, data.Slice(pos, Math.Min(SectorSize, data.Length - pos)), encrypt);
        }
    }

    /// <summary>Encrypts or decrypts one sector (at most 512 bytes) in place with the given 16-byte IV.</summary>
    protected abstract void TransformSector(ReadOnlySpan<byte> iv, Span<byte> sector, bool encrypt);

    public abstract void Dispose();
}
