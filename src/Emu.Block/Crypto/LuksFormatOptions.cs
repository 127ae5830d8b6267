namespace Emu.Block.Crypto;

/// <summary>Algorithms and key-derivation cost of a new LUKS volume (QEMU's encrypt.* create options).</summary>
public sealed record LuksFormatOptions
{
    /// <summary>"aes-128", "aes-192" or "aes-256".</summary>
    public string CipherAlg { get; init; } = "aes-256";
    /// <summary>"xts" or "cbc".</summary>
    public string CipherMode { get; init; } = "xts";
    /// <summary>"plain64" or "plain".</summary>
    public string IvGenAlg { get; init; } = "plain64";
    /// <summary>Hash for PBKDF2 and the AF splitter: "sha1", "sha256", "sha384" or "sha512".</summary>
    public string HashAlg { get; init; } = "sha256";
    /// <summary>Milliseconds of PBKDF2 work the key slot should cost (QEMU's encrypt.iter-time).</summary>
    public int IterTimeMs { get; init; } = 2000;
}
