using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Emu.Block.Qcow2;

/// <summary>qcow2's legacy encryption (crypt_method 1): AES-128-CBC per 512-byte sector, IV = little-endian guest sector number.</summary>
internal sealed class Qcow2Crypto : IDisposable
{
    private readonly Aes _aes;

    public Qcow2Crypto(string passphrase)
    {
        // QEMU uses the first 16 bytes of the passphrase, zero-padded, as the key.
        var key = new byte[16];
        var bytes = Encoding.UTF8.GetBytes(passphrase);
        Array.Copy(bytes, key, Math.Min(bytes.Length, 16));
        _aes = Aes.Create();
        _aes.Key = key;
    }

    public void Encrypt(long guestOffset, Span<byte> data) => Transform(guestOffset, data, encrypt: true);

    public void Decrypt(long guestOffset, Span<byte> data) => Transform(guestOffset, data, encrypt: false);

    private void Transform(long guestOffset, Span<byte> data, bool encrypt)
    {
        if ((guestOffset & 511) != 0 || (data.Length & 511) != 0)
            throw new BlockException("Encrypted images need 512-byte aligned I/O");
        Span<byte> iv = stackalloc byte[16];
        long sector = guestOffset >> 9;
        for (int pos = 0; pos < data.Length; pos += 512, sector++)
        {
            iv.Clear();
            BinaryPrimitives.WriteInt64LittleEndian(iv, sector);
            var block = data.Slice(pos, 512);
            if (encrypt)
                _aes.EncryptCbc(block, iv, block, PaddingMode.None);
            else
                _aes.DecryptCbc(block, iv, block, PaddingMode.None);
        }
    }

    public void Dispose() => _aes.Dispose();
}
