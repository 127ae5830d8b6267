using System.Buffers.Binary;
using Emu.Block.Qcow2;

namespace Emu.Block.Tests;

/// <summary>External data files (data_file, data_file_raw), in both directions with the real qemu-img/qemu-io.</summary>
public class DataFileTests
{
    private static long AllocatedBytes(string path)
    {
        using var f = HostFile.Open(path, true);
        return f.AllocatedBytes;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EmuCreatedDataFileImagesWorkInQemu(bool raw)
    {
        using var dir = new TempDir();
        string img = dir.File("a.qcow2"), data = dir.File("a.raw");
        // Absolute names: qemu-img 7.2 resolves relative data file names against the current directory.
        string opts = $"data_file={data}" + (raw ? ",data_file_raw=on" : "");
        var c = Tools.Img("create", "-f", "qcow2", "-o", opts, img, "8M");
        Assert.Equal(0, c.ExitCode);
        Assert.Contains($"data_file={data}{(raw ? " data_file_raw=on" : "")} lazy_refcounts=off", c.Out);
        Assert.Equal(8L << 20, new FileInfo(data).Length);
        var info = Tools.QemuImg("info", img).Out;
        Assert.Contains($"data file: {data}", info);
        Assert.Contains($"data file raw: {(raw ? "true" : "false")}", info);
        Assert.Contains($"data file: {data}", Tools.Img("info", img).Out);
        Tools.AssertQemuCheckClean(img);

        var w = Tools.Io("-c", "write -P 0x33 0 64k", "-c", "write -P 0x33 64k 64k", "-c", "write -P 0x44 200000 1000", "-c", "write -P 0x55 8388000 608", img);
        Assert.Equal(0, w.ExitCode);
        Assert.DoesNotContain("failed", w.Out + w.Err);
        Tools.AssertQemuCheckClean(img);
        Assert.Equal(0, Tools.Img("check", img).ExitCode);
        var r = Tools.QemuIo("-c", "read -P 0x33 64k 64k", "-c", "read -P 0x44 200000 1000", "-c", "read -P 0x33 0 64k", "-c", "read -P 0 128k 64k", "-c", "read -P 0x55 8388000 608", img);
        Assert.DoesNotContain("failed", r.Out);
        // Guest offset == data file offset: the data file holds the disk's bytes where the guest put them.
        var bytes = File.ReadAllBytes(data);
        Assert.All(bytes.AsSpan(65536, 65536).ToArray(), b => Assert.Equal(0x33, b));
        Assert.Equal(0, Tools.QemuImg("compare", "-f", "raw", "-F", "qcow2", data, img).ExitCode);
        if (raw)
            Assert.Contains("\"data\": true, \"offset\": 0}", Tools.QemuImg("map", "--output=json", img).Out);
    }

    [Fact]
    public void QemuCreatedDataFileImagesWorkInEmu()
    {
        using var dir = new TempDir();
        string img = dir.File("q.qcow2"), data = dir.File("q.data");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", $"data_file={data}", img, "16M").ExitCode);
        Assert.Equal(0, Tools.QemuIo("-c", "write -P 0x11 0 1M", "-c", "write -P 0x22 3M 64k", img).ExitCode);
        var r = Tools.Io("-c", "read -P 0x11 0 1M", "-c", "read -P 0x22 3M 64k", "-c", "read -P 0 2M 64k", img);
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("failed", r.Out + r.Err);
        long before = AllocatedBytes(data);
        var w = Tools.Io("-c", "write -P 0x66 5M 100k", "-c", "discard 0 512k", "-c", "write -z 3M 64k", img);
        Assert.Equal(0, w.ExitCode);
        Assert.DoesNotContain("failed", w.Out + w.Err);
        Assert.True(AllocatedBytes(data) < before + (100 << 10), "discard did not give data file space back");
        Tools.AssertQemuCheckClean(img);
        var q = Tools.QemuIo("-c", "read -P 0 0 512k", "-c", "read -P 0x11 512k 512k", "-c", "read -P 0 3M 64k", "-c", "read -P 0x66 5M 100k", img);
        Assert.DoesNotContain("failed", q.Out);
        Assert.Equal(0, Tools.Img("compare", img, img).ExitCode);
        var map = Tools.QemuImg("map", "--output=json", img).Out;
        Assert.Contains("\"offset\": 5242880", map);
    }

    [Fact]
    public void RawDataFileStaysAValidRawImageThroughZeroesAndDiscards()
    {
        using var dir = new TempDir();
        string img = dir.File("r.qcow2"), data = dir.File("r.raw");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", $"data_file={data},data_file_raw=on", img, "4M").ExitCode);
        Assert.Equal(0, Tools.Io("-c", "write -P 0x77 0 4M", "-c", "write -z 1M 64k", "-c", "discard 2M 128k", "-c", "write -z -u 3M 64k", img).ExitCode);
        var bytes = File.ReadAllBytes(data);
        Assert.All(bytes.AsSpan(1 << 20, 65536).ToArray(), b => Assert.Equal(0, b));
        Assert.All(bytes.AsSpan(2 << 20, 131072).ToArray(), b => Assert.Equal(0, b));
        Assert.All(bytes.AsSpan(3 << 20, 65536).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(0x77, bytes[(1 << 20) + 65536]);
        Assert.Equal(0, Tools.QemuImg("compare", "-f", "raw", "-F", "qcow2", data, img).ExitCode);
        Tools.AssertQemuCheckClean(img);
    }

    [Fact]
    public void HostileDataFileHeadersGiveClearErrors()
    {
        using var dir = new TempDir();
        string img = dir.File("h.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", $"data_file={dir.File("h.raw")}", img, "4M").ExitCode);
        File.Delete(dir.File("h.raw"));
        var missing = Tools.Io("-c", "read 0 1", img);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("Could not open data file: Could not open", missing.Err);
        Assert.Contains("No such file or directory", missing.Err);

        // An extension claiming a 5000-byte name (the cluster holds it, the bound refuses it).
        Qcow2Header h;
        using (var f = HostFile.Open(img, true))
            h = Qcow2Header.Parse(f);
        var cluster0 = File.ReadAllBytes(img).AsSpan(0, 65536).ToArray();
        int pos = h.HeaderLength;
        while (BinaryPrimitives.ReadUInt32BigEndian(cluster0.AsSpan(pos)) != Qcow2Header.ExtDataFile)
            pos += 8 + (int)((BinaryPrimitives.ReadUInt32BigEndian(cluster0.AsSpan(pos + 4)) + 7) & ~7u);
        string longName = dir.File("long.qcow2");
        var patched = File.ReadAllBytes(img);
        BinaryPrimitives.WriteUInt32BigEndian(patched.AsSpan(pos + 4), 5000);
        patched.AsSpan(pos + 8, 5000).Fill((byte)'a');
        File.WriteAllBytes(longName, patched);
        var tooLong = Tools.Io("-c", "read 0 1", longName);
        Assert.Equal(1, tooLong.ExitCode);
        Assert.Contains("Data file name too long", tooLong.Err);

        // The incompatible bit without a name.
        string noName = dir.File("noname.qcow2");
        var stripped = File.ReadAllBytes(img);
        BinaryPrimitives.WriteUInt32BigEndian(stripped.AsSpan(pos), 0x12345678);
        File.WriteAllBytes(noName, stripped);
        var none = Tools.Io("-c", "read 0 1", noName);
        Assert.Equal(1, none.ExitCode);
        Assert.Contains("'data-file' is required for this image", none.Err);

        var v2 = Tools.Img("create", "-f", "qcow2", "-o", "compat=0.10,data_file=x.raw", dir.File("v2.qcow2"), "1M");
        Assert.Equal(1, v2.ExitCode);
        Assert.Contains("compatibility level 1.1", v2.Err);
    }

    [Fact]
    public void SnapshotsAndCompressionAreRefusedWithADataFile()
    {
        using var dir = new TempDir();
        string img = dir.File("s.qcow2");
        Qcow2Creator.Create(img, new Qcow2CreateOptions { Size = 1 << 20, DataFile = dir.File("s.raw") });
        using var d = (Qcow2Driver)ImageOpener.Open(img);
        Assert.Contains("external data file", Assert.Throws<BlockException>(() => d.CreateSnapshot("s1")).Message);
        Assert.Contains("external data file", Assert.Throws<BlockException>(() => d.WriteCompressed(0, new byte[65536])).Message);
        d.Write(0, new byte[] { 1, 2, 3 });
        var back = new byte[3];
        d.Read(0, back);
        Assert.Equal(new byte[] { 1, 2, 3 }, back);
    }
}
