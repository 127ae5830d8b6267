using System.Security.Cryptography;

namespace Emu.Block.Crypto;

/// <summary>AES-CBC per sector: qcow2's legacy encryption and LUKS "cbc-plain64".</summary>
internal sealed class AesCbcSectorCipher : SectorCipher
{
    private readonly Aes _aes;

    public AesCbcSectorCipher(ReadOnlySpan<byte> key, IvGenerator iv) : base(iv)
    {
        _aes = Aes.Create();
        _aes.Key = key.ToArray();
    }

    protected override void TransformSector(ReadOnlySpan<byte> iv, Span<byte> sector, bool encrypt)
    {
        if (encrypt)
            _aes.EncryptCbc(sector, iv, sector, PaddingMode.None);
        else
            _aes.DecryptCbc(sector, iv, sector, PaddingMode.None);
    }

    public override void Dispose() => _aes.Dispose();
}
