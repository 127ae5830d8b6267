using Emu.Block.Qcow2;

namespace Emu.Block.Tests;

/// <summary>Images made by the real qemu-img/qemu-io read correctly in Emu, and the reverse.</summary>
public class InteropTests
{
    [Theory]
    [InlineData("compat=1.1")]
    [InlineData("compat=0.10")]
    [InlineData("cluster_size=512")]
    [InlineData("cluster_size=2M")]
    [InlineData("refcount_bits=1")]
    [InlineData("refcount_bits=64")]
    [InlineData("lazy_refcounts=on")]
    public void QemuImagesReadInEmuAndEmuWritesPassQemuCheck(string options)
    {
        using var dir = new TempDir();
        string path = dir.File("q.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", options, path, "5G").ExitCode);
        Assert.Equal(0, Tools.QemuIo("-c", "write -P 0x11 0 100k", "-c", "write -P 0x22 4G 64k", "-c", "write -z 1M 1M", path).ExitCode);
        using (var d = Data.Open(path))
        {
            Assert.Equal(5L << 30, d.Size);
            var buf = new byte[100 * 1024];
            d.Read(0, buf);
            Assert.All(buf, b => Assert.Equal(0x11, b));
            var hi = new byte[65536];
            d.Read(4L << 30, hi);
            Assert.All(hi, b => Assert.Equal(0x22, b));
            d.Write(50_000, Data.Pattern(200_000, 3));
            d.Write((4L << 30) + 1000, new byte[] { 0x33 });
        }
        Tools.AssertQemuCheckClean(path);
        var r = Tools.QemuIo("-c", "read -P 0x11 0 50000", "-c", "read -P 0x33 4294968296 1", "-c", "read -P 0x22 4294967296 1000", path);
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("failed", r.Out);
        var ours = Tools.Img("check", path);
        Assert.Equal(0, ours.ExitCode);
    }

    [Fact]
    public void BackingChainThreeDeepFromQemu()
    {
        using var dir = new TempDir();
        string a = dir.File("a.qcow2"), b = dir.File("b.qcow2"), c = dir.File("c.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", a, "4M");
        Tools.QemuIo("-c", "write -P 1 0 1M", a);
        Tools.QemuImg("create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", b);
        Tools.QemuIo("-c", "write -P 2 512k 1M", b);
        Tools.QemuImg("create", "-q", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", c);
        Tools.QemuIo("-c", "write -P 3 1M 1M", c);
        using (var d = Data.Open(c))
        {
            var buf = new byte[3 << 20];
            d.Read(0, buf);
            Assert.All(buf[..(512 * 1024)], x => Assert.Equal(1, x));
            Assert.All(buf[(512 * 1024)..(1 << 20)], x => Assert.Equal(2, x));
            Assert.All(buf[(1 << 20)..(2 << 20)], x => Assert.Equal(3, x));
            Assert.All(buf[(2 << 20)..], x => Assert.Equal(0, x));
            // A partial write copies the rest of the cluster up from two layers down.
            d.Write(100, new byte[] { 7 });
        }
        Tools.AssertQemuCheckClean(c);
        var r = Tools.QemuIo("-c", "read -P 1 0 100", "-c", "read -P 7 100 1", "-c", "read -P 1 101 65435", c);
        Assert.DoesNotContain("failed", r.Out);
        var map = Tools.Img("map", "--output=json", c);
        var qmap = Tools.QemuImg("map", "--output=json", c);
        Assert.Equal(qmap.Out.Replace(c, ""), map.Out.Replace(c, ""));
    }

    [Fact]
    public void CompressedImagesFromQemuConvert()
    {
        using var dir = new TempDir();
        string raw = dir.File("src.raw"), q = dir.File("c.qcow2"), ours = dir.File("ours.qcow2");
        var data = new byte[3 << 20];
        for (int i = 0; i < data.Length; i++)
            data[i] = (byte)(i % 251 < 100 ? i % 7 : 0);
        data.AsSpan(1 << 20, 65536).Fill(0);
        new Random(1).NextBytes(data.AsSpan(2 << 20, 65536));
        File.WriteAllBytes(raw, data);
        Assert.Equal(0, Tools.QemuImg("convert", "-c", "-O", "qcow2", raw, q).ExitCode);
        using (var d = Data.Open(q))
        {
            var buf = new byte[data.Length];
            d.Read(0, buf);
            Assert.Equal(data, buf);
        }
        Assert.Equal(0, Tools.Img("convert", "-c", "-O", "qcow2", raw, ours).ExitCode);
        Tools.AssertQemuCheckClean(ours);
        Assert.Equal(0, Tools.QemuImg("compare", raw, ours).ExitCode);
        var check = Tools.QemuImg("check", ours);
        Assert.Contains("compressed clusters", check.Out);
    }

    [Fact]
    public void AesEncryptedBothWays()
    {
        using var dir = new TempDir();
        string q = dir.File("q.qcow2"), e = dir.File("e.qcow2");
        string secret = "secret,id=sec0,data=swordfish";
        Tools.QemuImg("create", "-q", "-f", "qcow2", "--object", secret, "-o", "encrypt.format=aes,encrypt.key-secret=sec0", q, "8M");
        Tools.QemuIo("--object", secret, "--image-opts", "-c", "write -P 0x5a 512 70000", $"driver=qcow2,file.filename={q},encrypt.key-secret=sec0");
        var r = Tools.Io("--object", secret, "--image-opts", "-c", "read -P 0x5a 512 70000", "-c", "write -P 0x44 1M 100", $"driver=qcow2,file.filename={q},encrypt.key-secret=sec0");
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("failed", r.Out);
        var back = Tools.QemuIo("--object", secret, "--image-opts", "-c", "read -P 0x44 1M 100", "-c", "read -P 0 1048676 412", $"driver=qcow2,file.filename={q},encrypt.key-secret=sec0");
        Assert.DoesNotContain("failed", back.Out);

        Assert.Equal(0, Tools.Img("create", "-q", "-f", "qcow2", "--object", secret, "-o", "encrypt.format=aes,encrypt.key-secret=sec0", e, "8M").ExitCode);
        Assert.Equal(0, Tools.Io("--object", secret, "--image-opts", "-c", "write -P 0x66 4096 8192", $"driver=qcow2,file.filename={e},encrypt.key-secret=sec0").ExitCode);
        var fromQemu = Tools.QemuIo("--object", secret, "--image-opts", "-c", "read -P 0x66 4096 8192", $"driver=qcow2,file.filename={e},encrypt.key-secret=sec0");
        Assert.Equal(0, fromQemu.ExitCode);
        Assert.DoesNotContain("failed", fromQemu.Out);
        // Raw bytes on disk are not the plaintext.
        var bytes = File.ReadAllBytes(e);
        Assert.True(bytes.AsSpan().IndexOf(Enumerable.Repeat((byte)0x66, 64).ToArray()) < 0);
        // Without the key the image does not open.
        Assert.NotEqual(0, Tools.Io("-c", "read 0 512", e).ExitCode);
    }

    [Fact]
    public void SnapshotsMadeByQemuListApplyAndDeleteInEmu()
    {
        using var dir = new TempDir();
        string q = dir.File("snap.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", q, "16M");
        Tools.QemuIo("-c", "write -P 1 0 1M", q);
        Tools.QemuImg("snapshot", "-c", "first", q);
        Tools.QemuIo("-c", "write -P 2 0 512k", q);
        Tools.QemuImg("snapshot", "-c", "second", q);
        Tools.QemuIo("-c", "write -P 3 0 64k", q);
        var ours = Tools.Img("snapshot", "-l", q);
        var theirs = Tools.QemuImg("snapshot", "-l", q);
        Assert.Equal(theirs.Out, ours.Out);
        Assert.Equal(0, Tools.Img("snapshot", "-a", "first", q).ExitCode);
        Tools.AssertQemuCheckClean(q);
        Assert.DoesNotContain("failed", Tools.QemuIo("-c", "read -P 1 0 1M", q).Out);
        Assert.Equal(0, Tools.Img("snapshot", "-d", "first", q).ExitCode);
        Tools.AssertQemuCheckClean(q);
        Assert.Equal(0, Tools.QemuImg("snapshot", "-a", "second", q).ExitCode);
        Assert.DoesNotContain("failed", Tools.Io("-c", "read -P 2 0 512k", "-c", "read -P 1 512k 512k", q).Out);
        Assert.Equal(0, Tools.Img("snapshot", "-c", "third", q).ExitCode);
        Tools.AssertQemuCheckClean(q);
        Assert.Contains("third", Tools.QemuImg("snapshot", "-l", q).Out);
        Assert.Equal(0, Tools.QemuImg("snapshot", "-d", "third", q).ExitCode);
        Assert.Equal(0, Tools.Img("check", q).ExitCode);
    }

    [Fact]
    public void InfoCheckAndIoOutputMatchQemu()
    {
        using var dir = new TempDir();
        string b = dir.File("b.qcow2"), o = dir.File("o.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", b, "64M");
        Tools.QemuIo("-c", "write -P 0xaa 0 128k", "-c", "write -z 1M 64k", b);
        Tools.QemuImg("create", "-q", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", o);
        Tools.QemuIo("-c", "write -P 0x55 64k 64k", "-c", "write -c 2M 64k", o);
        foreach (var args in new[] { new[] { "info", o }, ["info", "--output=json", o], ["check", o], ["check", "--output=json", o], ["map", "--output=json", o], ["info", "--backing-chain", o] })
        {
            var ours = Tools.Img(args);
            var theirs = Tools.QemuImg(args);
            Assert.Equal(theirs.ExitCode, ours.ExitCode);
            Assert.Equal(theirs.Out, ours.Out);
        }
        string twin = dir.File("twin.qcow2");
        File.Copy(o, twin);
        string[] io = ["-c", "read -P 0x55 64k 64k", "-c", "read -P 0xaa 0 1000", "-c", "alloc 0 1M", "-c", "map", "-c", "write -P 0x11 5M 4k", "-c", "discard 5M 64k", "-c", "map"];
        var myIo = Tools.Io([.. io, o]);
        var qIo = Tools.QemuIo([.. io, twin]);
        Assert.Equal(Tools.WithoutTiming(qIo.Out), Tools.WithoutTiming(myIo.Out));
    }

    /// <summary>Writes smaller than a cluster into fresh clusters leave the file as QEMU's writes leave it: each new
    /// cluster reserved whole on the host, so qemu-img map and the file's size and allocation agree.</summary>
    [Theory]
    [InlineData("cluster_size=64k")]
    [InlineData("cluster_size=2M")]
    public void PartialWritesIntoFreshClustersLeaveQemusLayout(string options)
    {
        using var dir = new TempDir();
        string theirs = dir.File("theirs.qcow2"), ours = dir.File("ours.qcow2");
        foreach (var p in new[] { theirs, ours })
            Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", options, p, "64M").ExitCode);
        string[] writes = ["-c", "write -P 1 8k 4k", "-c", "write -P 2 200k 4k", "-c", "write -P 3 5M 512", "-c", "write -P 4 9M 70k"];
        Assert.Equal(0, Tools.QemuIo([.. writes, theirs]).ExitCode);
        Assert.Equal(0, Tools.Io([.. writes, ours]).ExitCode);
        Assert.Equal(Tools.QemuImg("map", "--output=json", theirs).Out, Tools.QemuImg("map", "--output=json", ours).Out);
        Assert.Equal(new FileInfo(theirs).Length, new FileInfo(ours).Length);
        Assert.Equal(Native.AllocatedBytes(theirs), Native.AllocatedBytes(ours));
        Tools.AssertQemuCheckClean(ours);
    }
}
