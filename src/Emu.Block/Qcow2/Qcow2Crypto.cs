using System.Text;
using Emu.Block.Crypto;

namespace Emu.Block.Qcow2;

/// <summary>Encryption of qcow2 data clusters: legacy AES (crypt_method 1) or LUKS (crypt_method 2).
/// Legacy AES numbers 512-byte sectors by guest offset, LUKS (like QEMU) by host file offset, so that two guest
/// sectors never share an IV. A locked instance (opened without its key) refuses data I/O.</summary>
internal sealed class Qcow2Crypto : IDisposable
{
    private readonly SectorCipher? _cipher;
    private readonly bool _physicalSectors;

    private Qcow2Crypto(SectorCipher? cipher, bool physicalSectors)
    {
        _cipher = cipher;
        _physicalSectors = physicalSectors;
    }

    /// <summary>Legacy AES-128-CBC with IV = little-endian sector number, keyed by the passphrase itself.</summary>
    public static Qcow2Crypto Legacy(string passphrase)
    {
        // QEMU uses the first 16 bytes of the passphrase, zero-padded, as the key.
        var key = new byte[16];
        var bytes = Encoding.UTF8.GetBytes(passphrase);
        Array.Copy(bytes, key, Math.Min(bytes.Length, 16));
        return new Qcow2Crypto(new AesCbcSectorCipher(key, IvGenerator.Plain64), physicalSectors: false);
    }

    /// <summary>LUKS payload encryption with the unlocked master key.</summary>
    public static Qcow2Crypto Luks(LuksHeader header, byte[] masterKey) => new(LuksVolume.CreateCipher(header, masterKey), physicalSectors: true);

    /// <summary>An image opened for metadata only (like qemu-img info): any data I/O is refused.</summary>
    public static Qcow2Crypto Locked() => new(null, false);

    /// <summary>Encrypts data in place that will be stored at hostOffset for guest offset guestOffset.</summary>
    public void Encrypt(long hostOffset, long guestOffset, Span<byte> data) =>
        Cipher(data).Encrypt(Sector(hostOffset, guestOffset), data);

    /// <summary>Decrypts data in place that was read from hostOffset for guest offset guestOffset.</summary>
    public void Decrypt(long hostOffset, long guestOffset, Span<byte> data) =>
        Cipher(data).Decrypt(Sector(hostOffset, guestOffset), data);

    private long Sector(long hostOffset, long guestOffset)
    {
        long offset = _physicalSectors ? hostOffset : guestOffset;
        if ((offset & 511) != 0)
            throw new BlockException("Encrypted images need 512-byte aligned I/O");
        return offset >> 9;
    }

    private SectorCipher Cipher(Span<byte> data)
    {
        if (_cipher == null)
            throw new BlockException("The image is encrypted and was opened without its key (encrypt.key-secret)");
        if ((data.Length & 511) != 0)
            throw new BlockException("Encrypted images need 512-byte aligned I/O");
        return _cipher;
    }

    public void Dispose() => _cipher?.Dispose();
}
