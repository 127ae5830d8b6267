using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Emu.Block.Crypto;

/// <summary>The LUKS1 partition header (592 bytes, big-endian): algorithms, master key digest and eight key slots.</summary>
public sealed class LuksHeader
{
    public const int Size = 592;
    public const int SlotCount = 8;
    public const int Stripes = 4000;
    public const int SaltLength = 32;
    public const int DigestLength = 20;
    private const int NameLength = 32;
    private const int UuidLength = 40;
    private const int SlotsStart = 208;
    private const int SlotLength = 48;
    private static readonly byte[] Magic = [(byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xba, 0xbe];

    public required string CipherName { get; init; }
    /// <summary>The full mode spec, e.g. "xts-plain64".</summary>
    public required string CipherModeSpec { get; init; }
    public required string HashSpec { get; init; }
    public required uint PayloadOffsetSectors { get; init; }
    public required int KeyBytes { get; init; }
    public required byte[] MasterKeyDigest { get; init; }
    public required byte[] MasterKeySalt { get; init; }
    public required uint MasterKeyIterations { get; init; }
    public required string Uuid { get; init; }
    public required LuksKeySlot[] Slots { get; init; }

    /// <summary>Block cipher mode: "xts" or "cbc".</summary>
    public string CipherMode => CipherModeSpec.Split('-')[0];
    /// <summary>IV generator name: "plain64" or "plain".</summary>
    public string IvGenName => CipherModeSpec.Split('-', 2)[1].Split(':')[0];
    /// <summary>QEMU's name for the cipher with its key size, e.g. "aes-256".</summary>
    public string CipherAlg => $"{CipherName}-{KeyBytes * 8 / (CipherMode == "xts" ? 2 : 1)}";
    public long PayloadOffset => (long)PayloadOffsetSectors * SectorCipher.SectorSize;

    internal IvGenerator IvGen => IvGenName == "plain" ? IvGenerator.Plain : IvGenerator.Plain64;
    internal HashAlgorithmName Hash => LuksHash.Parse(HashSpec);

    /// <summary>Parses and validates a header whose key material must lie within the first <paramref name="areaLength"/> bytes.</summary>
    public static LuksHeader Parse(ReadOnlySpan<byte> b, long areaLength)
    {
        if (b.Length < Size || !b[..Magic.Length].SequenceEqual(Magic))
            throw new BlockException("Volume is not in LUKS format");
        int version = BinaryPrimitives.ReadUInt16BigEndian(b[6..]);
        if (version != 1)
            throw new BlockException($"LUKS version {version} is not supported");
        var slots = new LuksKeySlot[SlotCount];
        for (int i = 0; i < SlotCount; i++)
        {
            var s = b.Slice(SlotsStart + i * SlotLength, SlotLength);
            uint active = BinaryPrimitives.ReadUInt32BigEndian(s);
            if (active is not (LuksKeySlot.Enabled or LuksKeySlot.Disabled))
                throw new BlockException($"LUKS keyslot {i} is corrupted (state 0x{active:x8})");
            slots[i] = new LuksKeySlot(active == LuksKeySlot.Enabled, BinaryPrimitives.ReadUInt32BigEndian(s[4..]),
                s.Slice(8, SaltLength).ToArray(), BinaryPrimitives.ReadUInt32BigEndian(s[40..]), BinaryPrimitives.ReadUInt32BigEndian(s[44..]));
        }
        var h = new LuksHeader
        {
            CipherName = Field(b.Slice(8, NameLength), "cipher name"),
            CipherModeSpec = Field(b.Slice(40, NameLength), "cipher mode"),
            HashSpec = Field(b.Slice(72, NameLength), "hash spec"),
            PayloadOffsetSectors = BinaryPrimitives.ReadUInt32BigEndian(b[104..]),
            KeyBytes = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(b[108..]), int.MaxValue),
            MasterKeyDigest = b.Slice(112, DigestLength).ToArray(),
            MasterKeySalt = b.Slice(132, SaltLength).ToArray(),
            MasterKeyIterations = BinaryPrimitives.ReadUInt32BigEndian(b[164..]),
            Uuid = Field(b.Slice(168, UuidLength), "uuid"),
            Slots = slots,
        };
        h.Validate(areaLength);
        return h;
    }

    private static string Field(ReadOnlySpan<byte> raw, string what)
    {
        int nul = raw.IndexOf((byte)0);
        if (nul < 0)
            throw new BlockException($"LUKS header {what} is not NUL terminated");
        return Encoding.ASCII.GetString(raw[..nul]);
    }

    private void Validate(long areaLength)
    {
        string[] modeParts = CipherModeSpec.Split('-', 2);
        if (modeParts.Length != 2)
            throw new BlockException($"Unexpected cipher mode string format {CipherModeSpec}");
        if (modeParts[0] is not ("xts" or "cbc"))
            throw new BlockException($"Cipher mode {modeParts[0]} not supported");
        string ivgen = modeParts[1].Split(':')[0];
        if (ivgen is not ("plain" or "plain64"))
            throw new BlockException($"IV generator {ivgen} not supported");
        int[] sizes = modeParts[0] == "xts" ? [32, 48, 64] : [16, 24, 32];
        if (CipherName != "aes" || !sizes.Contains(KeyBytes))
            throw new BlockException($"Algorithm {CipherName} with key size {KeyBytes} bytes not supported");
        _ = Hash;
        if (MasterKeyIterations == 0)
            throw new BlockException("LUKS master key iteration count is zero");
        for (int i = 0; i < SlotCount; i++)
        {
            var s = Slots[i];
            if (s.Stripes != Stripes)
                throw new BlockException($"LUKS keyslot {i} is corrupted (stripes {s.Stripes} != {Stripes})");
            if (s.KeyOffset < Size)
                throw new BlockException($"LUKS keyslot {i} is overlapping with the LUKS header");
            if (s.KeyOffset + (long)KeyBytes * Stripes > areaLength)
                throw new BlockException($"LUKS keyslot {i} key material lies beyond the end of the LUKS header area ({areaLength} bytes)");
            if (s.Active && s.Iterations == 0)
                throw new BlockException($"LUKS keyslot {i} has an iteration count of zero");
        }
    }

    /// <summary>The 592 header bytes.</summary>
    public byte[] Serialize()
    {
        var buf = new byte[Size];
        var b = buf.AsSpan();
        Magic.CopyTo(b);
        BinaryPrimitives.WriteUInt16BigEndian(b[6..], 1);
        Encoding.ASCII.GetBytes(CipherName).CopyTo(b[8..]);
        Encoding.ASCII.GetBytes(CipherModeSpec).CopyTo(b[40..]);
        Encoding.ASCII.GetBytes(HashSpec).CopyTo(b[72..]);
        BinaryPrimitives.WriteUInt32BigEndian(b[104..], PayloadOffsetSectors);
        BinaryPrimitives.WriteUInt32BigEndian(b[108..], (uint)KeyBytes);
        MasterKeyDigest.CopyTo(b[112..]);
        MasterKeySalt.CopyTo(b[132..]);
        BinaryPrimitives.WriteUInt32BigEndian(b[164..], MasterKeyIterations);
        Encoding.ASCII.GetBytes(Uuid).CopyTo(b[168..]);
        for (int i = 0; i < SlotCount; i++)
        {
            var s = b.Slice(SlotsStart + i * SlotLength, SlotLength);
            var slot = Slots[i];
            BinaryPrimitives.WriteUInt32BigEndian(s, slot.Active ? LuksKeySlot.Enabled : LuksKeySlot.Disabled);
            BinaryPrimitives.WriteUInt32BigEndian(s[4..], slot.Iterations);
            slot.Salt.CopyTo(s[8..]);
            BinaryPrimitives.WriteUInt32BigEndian(s[40..], slot.KeyOffsetSectors);
            BinaryPrimitives.WriteUInt32BigEndian(s[44..], slot.Stripes);
        }
        return buf;
    }
}
