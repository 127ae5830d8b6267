using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;

namespace Emu.Block.Tests;

/// <summary>One QEMU-made LUKS image, copied and damaged by each hostile test.</summary>
public sealed class LuksTemplate : IDisposable
{
    private readonly TempDir _dir = new();

    public string Path { get; }

    public LuksTemplate()
    {
        Path = _dir.File("template.qcow2");
        var r = LuksTests.QemuCreate("-q", "-f", "qcow2", "--object", LuksTests.Secret,
            "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", Path, "16M");
        if (r.ExitCode != 0)
            throw new InvalidOperationException(r.Err);
        LuksTests.QemuIo(Path, "write -P 0x3c 0 64k");
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>Hostile LUKS headers and crypto header extensions: a clear error within bounded time and memory.</summary>
public class LuksHostileTests(LuksTemplate template) : IClassFixture<LuksTemplate>
{
    private const int CryptoExtOffset = 120, CryptoExtLength = 128;
    private const int Slots = 208, SlotSize = 48;

    private string Copy(TempDir dir)
    {
        string path = dir.File("h.qcow2");
        File.Copy(template.Path, path);
        return path;
    }

    private static long LuksOffset(string path)
    {
        var b = new byte[8];
        using var f = File.OpenRead(path);
        f.Position = CryptoExtOffset;
        f.ReadExactly(b);
        return (long)BinaryPrimitives.ReadUInt64BigEndian(b);
    }

    private static void Patch(string path, long offset, byte[] bytes)
    {
        using var f = File.Open(path, FileMode.Open);
        f.Position = offset;
        f.Write(bytes);
    }

    private static byte[] U32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        return b;
    }

    private static byte[] U64(ulong v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, v);
        return b;
    }

    private static void AssertRefused(string path, string expected)
    {
        var sw = Stopwatch.StartNew();
        var r = LuksTests.EmuIo(path, "read -P 0x3c 0 64k");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"took {sw.Elapsed}");
        Assert.True(r.ExitCode == 1, r.Out + r.Err);
        Assert.Contains(expected, r.Err);
    }

    [Fact]
    public void TemplateOpens()
    {
        var r = LuksTests.EmuIo(template.Path, "read -P 0x3c 0 64k");
        Assert.True(r.ExitCode == 0 && !r.Out.Contains("failed"), r.Out + r.Err);
    }

    [Theory]
    [InlineData(Slots + 4, 0xFFFFFFFFu, "PBKDF2 iterations")]
    [InlineData(164, 0xFFFFFFFFu, "PBKDF2 iterations")]
    [InlineData(Slots + 4, 0u, "iteration count of zero")]
    [InlineData(164, 0u, "master key iteration count is zero")]
    [InlineData(108, 0x7FFFFFFFu, "key size 2147483647 bytes not supported")]
    [InlineData(108, 16u, "key size 16 bytes not supported")]
    [InlineData(Slots + 44, 0xFFFFFFFFu, "stripes 4294967295 != 4000")]
    [InlineData(Slots + 3 * SlotSize + 40, 0x00FFFFFFu, "keyslot 3 key material lies beyond the end of the LUKS header area")]
    [InlineData(Slots + 40, 0u, "keyslot 0 is overlapping with the LUKS header")]
    [InlineData(Slots, 0x12345678u, "keyslot 0 is corrupted")]
    [InlineData(4, 0xBABE0002u, "LUKS version 2 is not supported")]
    [InlineData(0, 0x4C554B00u, "not in LUKS format")]
    public void LuksFieldOutOfRange(int offset, uint value, string expected)
    {
        using var dir = new TempDir();
        string path = Copy(dir);
        Patch(path, LuksOffset(path) + offset, U32(value));
        AssertRefused(path, expected);
    }

    [Theory]
    [InlineData(8, "twofish", "Algorithm twofish with key size 64 bytes not supported")]
    [InlineData(40, "ecb-plain64", "Cipher mode ecb not supported")]
    [InlineData(40, "xts-essiv:sha256", "IV generator essiv not supported")]
    [InlineData(40, "xtsplain64", "Unexpected cipher mode string format")]
    [InlineData(72, "whirlpool", "Hash algorithm whirlpool not supported")]
    public void UnknownAlgorithmNames(int offset, string name, string expected)
    {
        using var dir = new TempDir();
        string path = Copy(dir);
        var field = new byte[32];
        Encoding.ASCII.GetBytes(name).CopyTo(field, 0);
        Patch(path, LuksOffset(path) + offset, field);
        AssertRefused(path, expected);
    }

    [Fact]
    public void UnterminatedNameField()
    {
        using var dir = new TempDir();
        string path = Copy(dir);
        Patch(path, LuksOffset(path) + 72, Enumerable.Repeat((byte)'a', 32).ToArray());
        AssertRefused(path, "hash spec is not NUL terminated");
    }

    [Theory]
    [InlineData(CryptoExtOffset, 0x7000000000UL, "Crypto header lies beyond the end of the image file")]
    [InlineData(CryptoExtOffset, 0x40200UL, "Invalid crypto header offset")]
    [InlineData(CryptoExtOffset, 0UL, "Invalid crypto header offset")]
    [InlineData(CryptoExtLength, 100UL, "too short for a LUKS header")]
    [InlineData(CryptoExtLength, 0x7000000000UL, "Crypto header lies beyond the end of the image file")]
    [InlineData(CryptoExtLength, 0x10000UL, "key material lies beyond the end of the LUKS header area")]
    public void CryptoHeaderExtensionOutOfRange(int offset, ulong value, string expected)
    {
        using var dir = new TempDir();
        string path = Copy(dir);
        Patch(path, offset, U64(value));
        AssertRefused(path, expected);
    }

    [Fact]
    public void TruncatedLuksArea()
    {
        using var dir = new TempDir();
        string path = Copy(dir);
        long luks = LuksOffset(path);
        using (var f = File.Open(path, FileMode.Open))
            f.SetLength(luks + 1000);
        AssertRefused(path, "Crypto header lies beyond the end of the image file");
    }

    [Fact]
    public void LuksMethodWithoutHeaderExtension()
    {
        using var dir = new TempDir();
        string path = dir.File("plain.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", path, "1M");
        Patch(path, 32, U32(2));
        AssertRefused(path, "no crypto header extension");
    }
}
