using System.Buffers.Binary;
using System.Security.Cryptography;
using Emu.Block.Qcow2;

namespace Emu.Block.Tests;

/// <summary>amend compat=0.10 on images whose internal snapshots hold zero clusters: they are expanded (v2 has no
/// zero flag) and every snapshot still reads exactly as before, as checked by the real qemu-img.</summary>
public class AmendDowngradeTests
{
    private static void Io(string image, params string[] commands)
    {
        var r = Tools.QemuIo([.. commands.SelectMany(c => new[] { "-c", c }), image]);
        Assert.True(r.ExitCode == 0 && !r.Out.Contains("failed"), r.Out + r.Err);
    }

    // The guest view of the active image and of each snapshot, read by qemu-img.
    private static List<string> Contents(string image, string dir)
    {
        var views = new List<string>();
        foreach (var snapshot in new[] { "", "s1", "s2" })
        {
            string flat = Path.Combine(dir, $"view{snapshot}.raw");
            string[] which = snapshot == "" ? [] : ["-l", $"snapshot.name={snapshot}"];
            var r = Tools.QemuImg(["convert", .. which, "-O", "raw", image, flat]);
            Assert.True(r.ExitCode == 0, r.Err);
            views.Add(snapshot + " " + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(flat))));
            File.Delete(flat);
        }
        return views;
    }

    private static string SnapshotList(string image) =>
        string.Join('\n', Tools.QemuImg("snapshot", "-l", image).Out.Split('\n').Skip(1));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ZeroClustersInSnapshotsAreExpandedAndEverySnapshotReadsTheSame(bool withBacking)
    {
        using var dir = new TempDir();
        string img = dir.File("a.qcow2");
        string[] backing = [];
        if (withBacking)
        {
            string b = dir.File("base.qcow2");
            Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", b, "4M").ExitCode);
            Io(b, "write -P 9 0 4M"); // zero clusters over it must keep hiding it
            backing = ["-b", b, "-F", "qcow2"];
        }
        Assert.Equal(0, Tools.QemuImg(["create", "-q", "-f", "qcow2", .. backing, img, "4M"]).ExitCode);
        // Zero clusters of every kind: plain, preallocated (write -z keeps allocated data), shared by both
        // snapshots and the active image, and ones made after a snapshot over clusters it still uses as data.
        Io(img, "write -P 1 0 1M", "write -z 64k 64k", "write -z 3M 64k");
        Assert.Equal(0, Tools.QemuImg("snapshot", "-c", "s1", img).ExitCode);
        Io(img, "write -z 128k 128k", "write -P 2 1M 64k", "write -z -u 2M 64k");
        Assert.Equal(0, Tools.QemuImg("snapshot", "-c", "s2", img).ExitCode);
        Io(img, "write -P 3 0 64k", "write -z 1M 64k", "write -z 3584k 64k");
        var before = Contents(img, dir.Path);
        string snapshots = SnapshotList(img);

        var r = Tools.Img("amend", "-o", "compat=0.10", img);
        Assert.True(r.ExitCode == 0, r.Err);
        Tools.AssertQemuCheckClean(img);
        Assert.Equal(0, Tools.Img("check", img).ExitCode);
        Assert.Contains("compat: 0.10", Tools.QemuImg("info", img).Out);
        Assert.Equal(snapshots, SnapshotList(img));
        Assert.Equal(before, Contents(img, dir.Path));
        // What was a zero cluster is now unallocated (nothing to hide) or data (zeroes over the backing file).
        var map = Tools.QemuImg("map", "--output=json", img).Out;
        string zeroed = "{ \"start\": 3145728, \"length\": 65536, \"depth\": 0, \"present\": true, \"zero\": false, \"data\": true";
        Assert.True(withBacking == map.Contains(zeroed), map);

        // Reverting to each snapshot on the v2 image works for qemu too, and it stays writable.
        foreach (var (name, offset, pattern) in new[] { ("s1", "64k", 0), ("s2", "128k", 0), ("s2", "1M", 2) })
        {
            Assert.Equal(0, Tools.QemuImg("snapshot", "-a", name, img).ExitCode);
            Io(img, $"read -P {pattern} {offset} 64k");
        }
        Io(img, "write -P 4 64k 64k");
        Tools.AssertQemuCheckClean(img);
    }

    // Patches the first L2 entry of the active image (the image must have data at guest offset 0).
    private static void PatchFirstL2Entry(string img, Func<Qcow2Header, ulong> entry)
    {
        Qcow2Header h;
        using (var f = HostFile.Open(img, true))
            h = Qcow2Header.Parse(f);
        var bytes = File.ReadAllBytes(img);
        long l2 = (long)(BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan((int)h.L1TableOffset)) & 0x00FF_FFFF_FFFF_FE00);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan((int)l2), entry(h));
        File.WriteAllBytes(img, bytes);
    }

    [Fact]
    public void HostileZeroClusterOffsetsAreRefusedNotWritten()
    {
        using var dir = new TempDir();
        string img = dir.File("h.qcow2");
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", img, "1M").ExitCode);
        Io(img, "write -P 1 0 64k");
        string copy = dir.File("copy.qcow2");
        File.Copy(img, copy);

        // A "preallocated zero cluster" that is really the refcount table: zeroing it in place would wreck the image.
        PatchFirstL2Entry(img, h => (ulong)h.RefcountTableOffset | 1 | 1UL << 63);
        long sizeBefore = new FileInfo(img).Length;
        var r = Tools.Img("amend", "-o", "compat=0.10", img);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("Preventing invalid write on metadata", r.Err);
        Assert.Equal(sizeBefore, new FileInfo(img).Length);

        // An unaligned offset.
        PatchFirstL2Entry(copy, _ => 0x10200 | 1 | 1UL << 63);
        r = Tools.Img("amend", "-o", "compat=0.10", copy);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("unaligned", r.Err);
    }
}
