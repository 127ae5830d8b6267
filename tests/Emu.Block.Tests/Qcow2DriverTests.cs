using Emu.Block.Qcow2;

namespace Emu.Block.Tests;

public class Qcow2DriverTests
{
    public static IEnumerable<object[]> Layouts()
    {
        foreach (int cs in new[] { 512, 4096, 65536, 2 << 20 })
            yield return [cs, 16, 3];
        foreach (int rb in new[] { 1, 2, 4, 8, 32, 64 })
            yield return [4096, rb, 3];
        yield return [65536, 16, 2];
        yield return [512, 16, 2];
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void WritesReadBackAndCheckIsCleanForEveryLayout(int clusterSize, int refcountBits, int version)
    {
        using var dir = new TempDir();
        string path = dir.File("t.qcow2");
        long size = 8L << 20;
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = size, ClusterSize = clusterSize, RefcountBits = refcountBits, Version = version });
        var shadow = new byte[size];
        var rnd = new Random(clusterSize + refcountBits + version);
        using (var d = Data.Open(path))
        {
            for (int i = 0; i < 40; i++)
            {
                int len = rnd.Next(1, 3 * clusterSize);
                long off = rnd.NextInt64(0, size - len);
                var data = Data.Pattern(len, i);
                d.Write(off, data);
                data.CopyTo(shadow, off);
            }
            var all = new byte[size];
            d.Read(0, all);
            Assert.Equal(shadow, all);
        }
        using (var d = (Qcow2Driver)Data.Open(path))
        {
            var all = new byte[size];
            d.Read(0, all);
            Assert.Equal(shadow, all);
            var r = d.Check();
            Assert.True(r.Corruptions == 0 && r.Leaks == 0, string.Join("\n", r.Messages));
        }
        Tools.AssertQemuCheckClean(path);
    }

    [Fact]
    public void PartialWriteKeepsRestOfClusterFromBacking()
    {
        using var dir = new TempDir();
        string bpath = dir.File("base.qcow2"), opath = dir.File("over.qcow2");
        Qcow2Creator.Create(bpath, new Qcow2CreateOptions { Size = 1 << 20 });
        var baseData = Data.Pattern(1 << 20, 1);
        using (var b = Data.Open(bpath))
            b.Write(0, baseData);
        Qcow2Creator.Create(opath, new Qcow2CreateOptions { Size = 2 << 20, BackingFile = "base.qcow2", BackingFormat = "qcow2" });
        using (var o = Data.Open(opath))
        {
            o.Write(1000, new byte[] { 1, 2, 3 });
            var buf = new byte[65536];
            o.Read(0, buf);
            var expect = baseData[..65536];
            expect[1000] = 1;
            expect[1001] = 2;
            expect[1002] = 3;
            Assert.Equal(expect, buf);
            // Past the end of the (smaller) backing image, the overlay reads zeroes.
            var tail = new byte[4096];
            o.Read((1 << 20) + 4096, tail);
            Assert.All(tail, x => Assert.Equal(0, x));
            var st = o.GetStatus(65536, 65536);
            Assert.Equal(1, st.Depth);
        }
        Tools.AssertQemuCheckClean(opath);
        var r = Tools.QemuIo("-c", "read -P 1 1000 1", "-c", "read -P 3 1002 1", opath);
        Assert.DoesNotContain("failed", r.Out);
    }

    [Fact]
    public void SnapshotsKeepTheirDataAndRefcountsStayExact()
    {
        using var dir = new TempDir();
        string path = dir.File("s.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 4 << 20, ClusterSize = 4096 });
        var v1 = Data.Pattern(300_000, 1);
        var v2 = Data.Pattern(300_000, 2);
        using (var d = (Qcow2Driver)Data.Open(path))
        {
            d.Write(5000, v1);
            d.CreateSnapshot("one");
            d.Write(5000, v2);
            d.CreateSnapshot("two");
            d.Write(0, new byte[4096]);
            d.ApplySnapshot("one");
            var buf = new byte[v1.Length];
            d.Read(5000, buf);
            Assert.Equal(v1, buf);
            d.ApplySnapshot("two");
            d.Read(5000, buf);
            Assert.Equal(v2, buf);
            d.DeleteSnapshot("one");
            Assert.Single(d.Snapshots);
            var r = d.Check();
            Assert.True(r.Corruptions == 0 && r.Leaks == 0, string.Join("\n", r.Messages));
        }
        Tools.AssertQemuCheckClean(path);
        var list = Tools.QemuImg("snapshot", "-l", path);
        Assert.Contains("two", list.Out);
        Assert.DoesNotContain("one", list.Out);
    }

    [Fact]
    public void VmStateLivesBeyondTheDiskAndTravelsWithSnapshots()
    {
        using var dir = new TempDir();
        string path = dir.File("vm.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 3 << 20, ClusterSize = 4096 });
        var state = Data.Pattern(100_000, 9);
        using (var d = (Qcow2Driver)Data.Open(path))
        {
            long expected = Qcow2Header.SizeToL1(3 << 20, 12) << (12 + 9);
            Assert.Equal(expected, d.VmStateOffset);
            d.WriteVmState(0, state);
            d.CreateSnapshot("vm", state.Length, 123_000_000_000);
            var back = new byte[state.Length];
            d.ReadVmState(0, back);
            Assert.All(back, x => Assert.Equal(0, x));
            d.ApplySnapshot("vm");
            d.ReadVmState(0, back);
            Assert.Equal(state, back);
        }
        Tools.AssertQemuCheckClean(path);
        var info = Tools.QemuImg("snapshot", "-l", path);
        Assert.Contains("97.7 KiB", info.Out);
        Assert.Contains("00:02:03.000", info.Out);
    }

    [Fact]
    public void CompressedClustersRoundTripAndPassQemuCheck()
    {
        using var dir = new TempDir();
        string path = dir.File("c.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 1 << 20, ClusterSize = 65536 });
        var text = new byte[65536 * 3];
        for (int i = 0; i < text.Length; i++)
            text[i] = (byte)"compressible text "[i % 18];
        using (var d = Data.Open(path))
        {
            d.WriteCompressed(0, text);
            var buf = new byte[text.Length];
            d.Read(0, buf);
            Assert.Equal(text, buf);
            Assert.True((d.GetStatus(0, 65536).Flags & BlockStatusFlags.Compressed) != 0);
            d.Write(70000, new byte[] { 9 });
        }
        Tools.AssertQemuCheckClean(path);
        var r = Tools.QemuIo("-c", "read -P 0x63 0 1", "-c", "read -P 9 70000 1", path);
        Assert.DoesNotContain("failed", r.Out);
    }

    [Fact]
    public void RefcountTableGrowsForManyClusters()
    {
        using var dir = new TempDir();
        string path = dir.File("g.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 64 << 20, ClusterSize = 512 });
        var data = Data.Pattern(16 << 20, 5);
        using (var d = Data.Open(path))
        {
            d.Write(0, data);
            var buf = new byte[data.Length];
            d.Read(0, buf);
            Assert.Equal(data, buf);
        }
        Tools.AssertQemuCheckClean(path);
        using var again = Data.Open(path, readOnly: true);
        var back = new byte[data.Length];
        again.Read(0, back);
        Assert.Equal(data, back);
    }

    [Fact]
    public void DiscardAndZeroWritesReadAsZero()
    {
        using var dir = new TempDir();
        string path = dir.File("z.qcow2");
        Qcow2Creator.Create(path, new Qcow2CreateOptions { Size = 1 << 20, ClusterSize = 4096 });
        using (var d = (Qcow2Driver)Data.Open(path))
        {
            d.Write(0, Data.Pattern(65536, 1));
            d.Discard(4096, 8192);
            d.WriteZeroes(20000, 30000, unmap: true);
            var buf = new byte[65536];
            d.Read(0, buf);
            Assert.All(buf[4096..12288], x => Assert.Equal(0, x));
            Assert.All(buf[20000..50000], x => Assert.Equal(0, x));
            Assert.NotEqual(0, buf[12288] | buf[12289] | buf[12290]);
        }
        Tools.AssertQemuCheckClean(path);
    }
}
