using System.Security.Cryptography;

namespace Emu.Block.Crypto;

/// <summary>The hash algorithms a LUKS header may name (for PBKDF2 and the AF splitter) that .NET provides.</summary>
internal static class LuksHash
{
    public static HashAlgorithmName Parse(string name) => name switch
    {
        "sha1" => HashAlgorithmName.SHA1,
        "sha256" => HashAlgorithmName.SHA256,
        "sha384" => HashAlgorithmName.SHA384,
        "sha512" => HashAlgorithmName.SHA512,
        _ => throw new BlockException($"Hash algorithm {name} not supported"),
    };

    public static int DigestLength(HashAlgorithmName hash) =>
        hash == HashAlgorithmName.SHA1 ? 20 : hash == HashAlgorithmName.SHA256 ? 32 : hash == HashAlgorithmName.SHA384 ? 48 : 64;
}
