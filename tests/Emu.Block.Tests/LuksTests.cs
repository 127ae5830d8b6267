using Emu.Block.Crypto;

namespace Emu.Block.Tests;

/// <summary>LUKS-encrypted qcow2 (encrypt.format=luks) interoperates with qemu-img/qemu-io in both directions.</summary>
public class LuksTests
{
    internal const string Secret = "secret,id=sec0,data=correct horse";

    /// <summary>qemu-img create of a LUKS image. QEMU 7.2 calibrates PBKDF2 from process CPU time and, with a
    /// small iter-time, sometimes gives up with "Unable to get accurate CPU usage": a fault of the peer's timing,
    /// so that one message is retried.</summary>
    internal static Tools.Result QemuCreate(params string[] args)
    {
        for (int attempt = 1; ; attempt++)
        {
            var r = Tools.QemuImg(["create", .. args]);
            if (r.ExitCode == 0 || attempt == 5 || !r.Err.Contains("Unable to get accurate CPU usage"))
                return r;
        }
    }

    internal static string Opts(string path, string secretId = "sec0") => $"driver=qcow2,file.filename={path},encrypt.key-secret={secretId}";

    internal static Tools.Result QemuIo(string path, params string[] commands) =>
        Tools.QemuIo(["--object", Secret, "--image-opts", .. commands.SelectMany(c => new[] { "-c", c }), Opts(path)]);

    internal static Tools.Result EmuIo(string path, params string[] commands) =>
        Tools.Io(["--object", Secret, "--image-opts", .. commands.SelectMany(c => new[] { "-c", c }), Opts(path)]);

    private static void AssertIoOk(Tools.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Out + r.Err);
        Assert.DoesNotContain("failed", r.Out);
        Assert.DoesNotContain("error", r.Out + r.Err, StringComparison.OrdinalIgnoreCase);
    }

    private static void AssertCheckClean(string path)
    {
        var r = Tools.QemuImg("check", "--object", Secret, "--image-opts", Opts(path));
        Assert.True(r.ExitCode == 0, r.Out + r.Err);
    }

    [Theory]
    [InlineData("")]
    [InlineData(",encrypt.cipher-alg=aes-128,encrypt.hash-alg=sha1")]
    [InlineData(",encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,encrypt.hash-alg=sha512")]
    public void QemuImageReadAndWrittenByEmu(string extra)
    {
        using var dir = new TempDir();
        string q = dir.File("q.qcow2");
        var created = QemuCreate("-q", "-f", "qcow2", "--object", Secret,
            "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10" + extra, q, "16M");
        Assert.True(created.ExitCode == 0, created.Err);
        AssertIoOk(QemuIo(q, "write -P 0x5a 512 70000", "write -P 0x21 3M 64k"));

        AssertIoOk(EmuIo(q, "read -P 0x5a 512 70000", "read -P 0 0 512", "read -P 0x21 3M 64k", "write -P 0x44 1M 100", "write -P 0x45 8M 128k"));

        AssertIoOk(QemuIo(q, "read -P 0x44 1M 100", "read -P 0 1048676 412", "read -P 0x45 8M 128k", "read -P 0x5a 512 70000"));
        AssertCheckClean(q);
        var ourCheck = Tools.Img("check", "--object", Secret, "--image-opts", Opts(q));
        Assert.True(ourCheck.ExitCode == 0, ourCheck.Out + ourCheck.Err);
    }

    [Theory]
    [InlineData("", "aes-256", "xts", "sha256")]
    [InlineData(",encrypt.cipher-alg=aes-128,encrypt.hash-alg=sha1", "aes-128", "xts", "sha1")]
    [InlineData(",encrypt.cipher-mode=cbc,encrypt.ivgen-alg=plain", "aes-256", "cbc", "sha256")]
    public void EmuImageReadAndWrittenByQemu(string extra, string cipher, string mode, string hash)
    {
        using var dir = new TempDir();
        string e = dir.File("e.qcow2");
        var created = Tools.Img("create", "-f", "qcow2", "--object", Secret,
            "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10" + extra, e, "16M");
        Assert.True(created.ExitCode == 0, created.Err);
        Assert.Contains("fmt=qcow2 encrypt.format=luks encrypt.key-secret=sec0", created.Out);
        AssertCheckClean(e);

        AssertIoOk(EmuIo(e, "write -P 0x66 4096 8192", "write -P 0x67 5M 200k"));
        AssertIoOk(QemuIo(e, "read -P 0x66 4096 8192", "read -P 0 0 4096", "read -P 0x67 5M 200k", "write -P 0x68 10M 1000"));
        AssertIoOk(EmuIo(e, "read -P 0x68 10M 1000", "read -P 0x66 4096 8192"));
        AssertCheckClean(e);

        var info = Tools.QemuImg("info", e);
        Assert.Contains("format: luks", info.Out);
        Assert.Contains($"cipher alg: {cipher}", info.Out);
        Assert.Contains($"cipher mode: {mode}", info.Out);
        Assert.Contains($"hash alg: {hash}", info.Out);
        // The plaintext never reaches the disk.
        var bytes = File.ReadAllBytes(e);
        Assert.True(bytes.AsSpan().IndexOf(Enumerable.Repeat((byte)0x66, 64).ToArray()) < 0);
    }

    [Fact]
    public void InfoMatchesQemuHumanAndJson()
    {
        using var dir = new TempDir();
        string q = dir.File("q.qcow2"), e = dir.File("e.qcow2");
        QemuCreate("-q", "-f", "qcow2", "--object", Secret, "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", q, "64M");
        Tools.Img("create", "-q", "-f", "qcow2", "--object", Secret, "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10,encrypt.cipher-alg=aes-128", e, "64M");
        foreach (var path in new[] { q, e })
        {
            Assert.Equal(Tools.QemuImg("info", path).Out, Tools.Img("info", path).Out);
            Assert.Equal(Tools.QemuImg("info", "--output=json", path).Out, Tools.Img("info", "--output=json", path).Out);
        }
    }

    [Fact]
    public void WrongOrMissingPasswordIsRefusedLikeQemu()
    {
        using var dir = new TempDir();
        string q = dir.File("q.qcow2");
        QemuCreate("-q", "-f", "qcow2", "--object", Secret, "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", q, "1M");
        var wrong = Tools.Io("--object", "secret,id=sec0,data=wrong", "--image-opts", "-c", "read 0 512", Opts(q));
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("Invalid password, cannot unlock any keyslot", wrong.Err);
        var none = Tools.Io("-c", "read 0 512", q);
        Assert.Equal(1, none.ExitCode);
        Assert.Contains("Parameter 'encrypt.key-secret' is required for cipher", none.Err);
    }

    [Fact]
    public void ConvertIntoAndOutOfLuks()
    {
        using var dir = new TempDir();
        string plain = dir.File("p.qcow2"), enc = dir.File("c.qcow2"), back = dir.File("d.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", plain, "4M");
        Tools.QemuIo("-c", "write -P 0x77 100k 300k", "-c", "write -P 0x12 3M 4k", plain);
        var into = Tools.Img("convert", "--object", Secret, "-O", "qcow2", "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", plain, enc);
        Assert.True(into.ExitCode == 0, into.Err);
        var same = Tools.QemuImg("compare", "--object", Secret, "--image-opts", $"driver=qcow2,file.filename={plain}", Opts(enc));
        Assert.True(same.ExitCode == 0, same.Out + same.Err);
        AssertCheckClean(enc);
        var outOf = Tools.Img("convert", "--object", Secret, "--image-opts", Opts(enc), "-O", "qcow2", back);
        Assert.True(outOf.ExitCode == 0, outOf.Err);
        Assert.Equal(0, Tools.QemuImg("compare", plain, back).ExitCode);
    }

    [Fact]
    public void XtsMatchesIeee1619Vector()
    {
        // IEEE 1619-2007 XTS-AES-128 vector 1: zero keys, zero tweak, 32 zero bytes.
        using var xts = new AesXtsSectorCipher(new byte[32], IvGenerator.Plain64);
        var data = new byte[32];
        xts.Encrypt(0, data);
        Assert.Equal("917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e", Convert.ToHexStringLower(data));
        xts.Decrypt(0, data);
        Assert.All(data, b => Assert.Equal(0, b));
    }

    [Fact]
    public void AfSplitRoundTripsAndNeedsEveryStripe()
    {
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(64);
        var hash = System.Security.Cryptography.HashAlgorithmName.SHA256;
        var split = LuksAfSplitter.Split(key, LuksHeader.Stripes, hash);
        Assert.Equal(key, LuksAfSplitter.Merge(split, key.Length, LuksHeader.Stripes, hash));
        split[1234] ^= 1;
        Assert.NotEqual(key, LuksAfSplitter.Merge(split, key.Length, LuksHeader.Stripes, hash));
    }
}
