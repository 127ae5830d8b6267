namespace Emu.Block.Crypto;

/// <summary>One LUKS1 key slot: PBKDF2 parameters and where its split, encrypted copy of the master key lives.</summary>
public sealed record LuksKeySlot(bool Active, uint Iterations, byte[] Salt, uint KeyOffsetSectors, uint Stripes)
{
    public const uint Enabled = 0x00AC71F3;
    public const uint Disabled = 0x0000DEAD;

    /// <summary>Byte offset of the key material from the start of the LUKS header.</summary>
    public long KeyOffset => (long)KeyOffsetSectors * SectorCipher.SectorSize;
}
