using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Emu.Block.Crypto;

/// <summary>Unlocks and formats LUKS1 volumes: PBKDF2 key slots holding the AF-split, encrypted master key.</summary>
internal static class LuksVolume
{
    /// <summary>Most PBKDF2 iterations one open may spend over all the key slots it tries: 2^25, half a minute or so
    /// of .NET's SHA-256 PBKDF2 on a loaded core. QEMU's default 2-second iter-time gives 4-8 million (slot plus master
    /// key digest), so legitimate images fit with room to spare; a hostile header asking for billions is refused up front.</summary>
    public const long MaxPbkdf2Iterations = 1L << 25;

    private const int KeySlotAlignSectors = 4096 / SectorCipher.SectorSize;
    private const int MinIterations = 1000;

    /// <summary>Finds the key slot the password opens and returns the master key.</summary>
    /// <param name="readArea">Reads bytes of the LUKS area at an offset relative to the header.</param>
    public static byte[] Unlock(LuksHeader h, string password, Action<long, byte[]> readArea)
    {
        long total = 0;
        for (int i = 0; i < LuksHeader.SlotCount; i++)
        {
            var s = h.Slots[i];
            if (!s.Active)
                continue;
            total += s.Iterations + (long)h.MasterKeyIterations;
            if (total > MaxPbkdf2Iterations)
                throw new BlockException($"LUKS key slots need more than {MaxPbkdf2Iterations} PBKDF2 iterations to try " +
                    $"(slot {i}: {s.Iterations}, master key digest: {h.MasterKeyIterations}); refusing the work");
        }
        var hash = h.Hash;
        var pw = Encoding.UTF8.GetBytes(password);
        var material = new byte[h.KeyBytes * LuksHeader.Stripes];
        foreach (var s in h.Slots)
        {
            if (!s.Active)
                continue;
            var slotKey = Rfc2898DeriveBytes.Pbkdf2(pw, s.Salt, (int)s.Iterations, hash, h.KeyBytes);
            readArea(s.KeyOffset, material);
            using (var cipher = CreateCipher(h, slotKey))
                cipher.Decrypt(0, material);
            var key = LuksAfSplitter.Merge(material, h.KeyBytes, LuksHeader.Stripes, hash);
            var digest = Rfc2898DeriveBytes.Pbkdf2(key, h.MasterKeySalt, (int)h.MasterKeyIterations, hash, LuksHeader.DigestLength);
            if (CryptographicOperations.FixedTimeEquals(digest, h.MasterKeyDigest))
                return key;
        }
        throw new BlockException("Invalid password, cannot unlock any keyslot");
    }

    /// <summary>The payload cipher the header describes, keyed with the given key.</summary>
    public static SectorCipher CreateCipher(LuksHeader h, ReadOnlySpan<byte> key) =>
        h.CipherMode == "xts" ? new AesXtsSectorCipher(key, h.IvGen) : new AesCbcSectorCipher(key, h.IvGen);

    /// <summary>Creates a header with key slot 0 opened by the password; returns it with the whole header area
    /// (header, then every slot's key material region), whose length is the header's payload offset.</summary>
    public static (LuksHeader Header, byte[] Area) Format(LuksFormatOptions o, string password)
    {
        int keyBytes = o.CipherAlg switch
        {
            "aes-128" => 16,
            "aes-192" => 24,
            "aes-256" => 32,
            _ => throw new BlockException($"Cipher algorithm {o.CipherAlg} not supported"),
        };
        if (o.CipherMode is not ("xts" or "cbc"))
            throw new BlockException($"Cipher mode {o.CipherMode} not supported");
        if (o.IvGenAlg is not ("plain" or "plain64"))
            throw new BlockException($"IV generator {o.IvGenAlg} not supported");
        if (o.IterTimeMs <= 0)
            throw new BlockException("encrypt.iter-time must be positive");
        var hash = LuksHash.Parse(o.HashAlg);
        if (o.CipherMode == "xts")
            keyBytes *= 2;

        var key = RandomNumberGenerator.GetBytes(keyBytes);
        var mkSalt = RandomNumberGenerator.GetBytes(LuksHeader.SaltLength);
        var slotSalt = RandomNumberGenerator.GetBytes(LuksHeader.SaltLength);
        var pw = Encoding.UTF8.GetBytes(password);

        // Like cryptsetup: the slot costs iter-time, the master key digest an eighth of it.
        long slotIters = Math.Max(MinIterations, IterationsPerSecond(hash, keyBytes) * o.IterTimeMs / 1000);
        long mkIters = Math.Max(MinIterations, IterationsPerSecond(hash, LuksHeader.DigestLength) * o.IterTimeMs / 1000 / 8);
        if (slotIters + mkIters > MaxPbkdf2Iterations)
            throw new BlockException($"encrypt.iter-time={o.IterTimeMs} needs {slotIters + mkIters} PBKDF2 iterations, " +
                $"more than the limit of {MaxPbkdf2Iterations} that opening accepts");

        int splitLength = keyBytes * LuksHeader.Stripes;
        int slotSectors = RoundUp((splitLength + SectorCipher.SectorSize - 1) / SectorCipher.SectorSize, KeySlotAlignSectors);
        var slots = new LuksKeySlot[LuksHeader.SlotCount];
        for (int i = 0; i < slots.Length; i++)
        {
            slots[i] = new LuksKeySlot(i == 0, i == 0 ? (uint)slotIters : 0, i == 0 ? slotSalt : new byte[LuksHeader.SaltLength],
                (uint)(KeySlotAlignSectors + slotSectors * i), LuksHeader.Stripes);
        }
        var header = new LuksHeader
        {
            CipherName = "aes",
            CipherModeSpec = $"{o.CipherMode}-{o.IvGenAlg}",
            HashSpec = o.HashAlg,
            PayloadOffsetSectors = (uint)(KeySlotAlignSectors + slotSectors * LuksHeader.SlotCount),
            KeyBytes = keyBytes,
            MasterKeyDigest = Rfc2898DeriveBytes.Pbkdf2(key, mkSalt, (int)mkIters, hash, LuksHeader.DigestLength),
            MasterKeySalt = mkSalt,
            MasterKeyIterations = (uint)mkIters,
            Uuid = Guid.NewGuid().ToString(),
            Slots = slots,
        };

        var slotKey = Rfc2898DeriveBytes.Pbkdf2(pw, slotSalt, (int)slotIters, hash, keyBytes);
        var material = LuksAfSplitter.Split(key, LuksHeader.Stripes, hash);
        using (var cipher = CreateCipher(header, slotKey))
            cipher.Encrypt(0, material);

        var area = new byte[header.PayloadOffset];
        header.Serialize().CopyTo(area, 0);
        material.CopyTo(area, slots[0].KeyOffset);
        return (header, area);
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>Measures how many PBKDF2 iterations this host does per second (QEMU's count_iters, but in ~50 ms).</summary>
    private static long IterationsPerSecond(HashAlgorithmName hash, int outputLength)
    {
        var pw = new byte[16];
        var salt = new byte[LuksHeader.SaltLength];
        // The first call pays for loading the crypto library: keep it out of the measurement.
        Rfc2898DeriveBytes.Pbkdf2(pw, salt, 1, hash, outputLength);
        for (int n = 1 << 10; ; n *= 2)
        {
            var sw = Stopwatch.StartNew();
            Rfc2898DeriveBytes.Pbkdf2(pw, salt, n, hash, outputLength);
            double seconds = sw.Elapsed.TotalSeconds;
            if (seconds >= 0.05 || n >= 1 << 24)
                return (long)(n / Math.Max(seconds, 1e-6));
        }
    }
}
