using System.Buffers.Binary;
using Emu.Block.Qcow2;

namespace Emu.Block.Tests;

/// <summary>check and its repairs, the dirty bit of lazy refcounts, make-empty, and preserved header extensions.</summary>
public class RepairTests
{
    private static void BumpRefcount(string path, long cluster)
    {
        // Fresh 64k-cluster images keep their first refcount block at 0x20000 with 16-bit entries.
        using var f = File.Open(path, FileMode.Open);
        if (f.Length < (cluster + 1) * 65536)
            f.SetLength((cluster + 1) * 65536);
        var b = new byte[2];
        f.Position = 0x20000 + cluster * 2;
        f.ReadExactly(b);
        BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)(BinaryPrimitives.ReadUInt16BigEndian(b) + 1));
        f.Position = 0x20000 + cluster * 2;
        f.Write(b);
    }

    [Fact]
    public void LeaksAreReportedLikeQemuAndRepairedWithRLeaks()
    {
        using var dir = new TempDir();
        string path = dir.File("l.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", path, "16M");
        Tools.QemuIo("-c", "write -P 1 0 128k", path);
        BumpRefcount(path, 8);
        var ours = Tools.Img("check", path);
        var theirs = Tools.QemuImg("check", path);
        Assert.Equal(3, ours.ExitCode);
        Assert.Equal(theirs.ExitCode, ours.ExitCode);
        Assert.Equal(theirs.Out, ours.Out);
        Assert.Equal(theirs.Err.Trim(), ours.Err.Trim());
        var json = Tools.Img("check", "--output=json", path);
        Assert.Equal(Tools.QemuImg("check", "--output=json", path).Out, json.Out);

        var fix = Tools.Img("check", "-r", "leaks", path);
        Assert.Equal(0, fix.ExitCode);
        Assert.Contains("1 leaked clusters", fix.Out);
        Tools.AssertQemuCheckClean(path);
    }

    [Fact]
    public void CorruptionIsReportedAndRepairedWithRAll()
    {
        using var dir = new TempDir();
        string path = dir.File("c.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", path, "16M");
        Tools.QemuIo("-c", "write -P 1 0 128k", path);
        // Drop the refcount of a data cluster (cluster 5) from 1 to 0: a corruption.
        using (var f = File.Open(path, FileMode.Open))
        {
            f.Position = 0x20000 + 5 * 2;
            f.Write(new byte[2]);
        }
        var r = Tools.Img("check", path);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal(Tools.QemuImg("check", path).ExitCode, r.ExitCode);
        Assert.Contains("ERROR cluster 5 refcount=0 reference=1", r.Err);
        Assert.Equal(0, Tools.Img("check", "-r", "all", path).ExitCode);
        Tools.AssertQemuCheckClean(path);
        Assert.DoesNotContain("failed", Tools.QemuIo("-c", "read -P 1 0 128k", path).Out);
    }

    [Fact]
    public void DirtyLazyRefcountImageIsRepairedOnOpen()
    {
        using var dir = new TempDir();
        string path = dir.File("lazy.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 16 << 20, LazyRefcounts = true });
        // A crashed process holds no locks: this stand-in for one takes none.
        var crashed = (Qcow2Driver)ImageOpener.Open(path, new ImageOptions { Locking = false });
        crashed.Write(0, Data.Pattern(200_000, 1));
        // Simulate a crash: the driver is never closed, so the dirty bit stays set on disk.
        Assert.Contains("\"dirty-flag\": true", Tools.QemuImg("info", "--output=json", "-U", path).Out);
        using (var reopened = (Qcow2Driver)Data.Open(path))
        {
            var r = reopened.Check();
            Assert.Equal(0, r.Corruptions);
            Assert.Equal(0, r.Leaks);
        }
        Tools.AssertQemuCheckClean(path);
        GC.KeepAlive(crashed);
    }

    [Fact]
    public void MakeEmptyExposesTheBackingFileAgain()
    {
        using var dir = new TempDir();
        string b = dir.File("b.qcow2"), o = dir.File("o.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", b, "4M");
        Tools.QemuIo("-c", "write -P 1 0 4M", b);
        Tools.QemuImg("create", "-q", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", o);
        Tools.QemuIo("-c", "write -P 2 0 2M", o);
        Tools.QemuImg("snapshot", "-c", "s", o);
        using (var d = (Qcow2Driver)Data.Open(o))
            d.MakeEmpty();
        Assert.DoesNotContain("failed", Tools.QemuIo("-c", "read -P 1 0 4M", o).Out);
        Tools.AssertQemuCheckClean(o);
    }

    [Fact]
    public void UnknownHeaderExtensionsSurviveAHeaderRewrite()
    {
        using var dir = new TempDir();
        string path = dir.File("x.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", path, "1M");
        // Insert an extension of an unknown type before the feature name table.
        var bytes = File.ReadAllBytes(path);
        int pos = 112;
        var rest = bytes[pos..0x10000];
        var ext = new byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(ext, 0x12345678);
        BinaryPrimitives.WriteUInt32BigEndian(ext.AsSpan(4), 5);
        "hello"u8.CopyTo(ext.AsSpan(8));
        ext.CopyTo(bytes, pos);
        rest[..(0x10000 - pos - 16)].CopyTo(bytes, pos + 16);
        File.WriteAllBytes(path, bytes);
        using (var d = (Qcow2Driver)Data.Open(path))
            d.CreateSnapshot("rewrites-the-header");
        var after = File.ReadAllBytes(path)[..0x10000];
        Assert.True(after.AsSpan().IndexOf("hello"u8) > 0);
        Tools.AssertQemuCheckClean(path);
    }
}
