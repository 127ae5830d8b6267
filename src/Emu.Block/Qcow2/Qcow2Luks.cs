using Emu.Block.Crypto;

namespace Emu.Block.Qcow2;

/// <summary>LUKS inside qcow2 (crypt_method 2): the LUKS header area lives in clusters named by the crypto header
/// extension; its payload offset is unused, since data clusters are encrypted where the L2 tables put them.</summary>
internal static class Qcow2Luks
{
    public static LuksHeader ReadHeader(HostFile file, Qcow2Header h)
    {
        if (h.CryptoHeaderLength < LuksHeader.Size)
            throw new BlockException($"Crypto header of {h.CryptoHeaderLength} bytes is too short for a LUKS header");
        var buf = new byte[LuksHeader.Size];
        file.Read(h.CryptoHeaderOffset, buf);
        return LuksHeader.Parse(buf, h.CryptoHeaderLength);
    }

    public static Qcow2Crypto Unlock(HostFile file, Qcow2Header h, LuksHeader luks, string password)
    {
        var key = LuksVolume.Unlock(luks, password, (offset, dest) => file.Read(h.CryptoHeaderOffset + offset, dest));
        return Qcow2Crypto.Luks(luks, key);
    }
}
