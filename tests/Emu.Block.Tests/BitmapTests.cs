using System.Buffers.Binary;
using System.Text.Json;
using Emu.Block.Qcow2;

namespace Emu.Block.Tests;

/// <summary>Persistent dirty bitmaps against the real QEMU tools: <c>emu img bitmap</c> does what <c>qemu-img bitmap</c>
/// does, writes through emu land in the enabled bitmaps as QEMU's writes do, and check and info see the bitmaps. Bitmap
/// contents are read by QEMU itself (qemu-nbd exporting the bitmap, qemu-img map with x-dirty-bitmap).</summary>
public class BitmapTests
{
    // 64 MiB with data, an enabled bitmap b0 that saw writes at 4M and 40M, and a disabled b1 with a 1 MiB granularity.
    private static string Image(TempDir dir, string name)
    {
        string path = dir.File(name);
        Tools.QemuImg("create", "-q", "-f", "qcow2", path, "64M");
        Tools.QemuIo("-c", "write -P 1 0 1M", path);
        Tools.QemuImg("bitmap", "--add", path, "b0");
        Tools.QemuImg("bitmap", "--add", "-g", "1M", "--disable", path, "b1");
        Tools.QemuIo("-c", "write -P 2 4M 1M", "-c", "write -P 3 40M 64k", path);
        return path;
    }

    /// <summary>The dirty ranges of a bitmap as QEMU reads them.</summary>
    private static string DirtyRanges(string image, string bitmap)
    {
        // Each server gets its own socket and pid file: an earlier one may still hold its pid file's lock while it exits.
        string name = Path.Combine(Path.GetDirectoryName(image)!, "nbd-" + Guid.NewGuid().ToString("N")[..8]);
        string socket = name + ".sock", pidFile = name + ".pid";
        var nbd = Tools.Qemu("qemu-nbd", "--fork", "--pid-file", pidFile, "-r", "-k", socket, "-f", "qcow2", "-B", bitmap, image);
        Assert.True(nbd.ExitCode == 0, nbd.Err);
        var map = Tools.QemuImg("map", "--output=json", "--image-opts",
            $"driver=nbd,server.type=unix,server.path={socket},x-dirty-bitmap=qemu:dirty-bitmap:{bitmap}");
        Assert.True(map.ExitCode == 0, map.Err);
        // The server leaves once its client has gone, but not at once: it holds the image (and its lock) until every
        // one of its threads has exited.
        string pid = File.ReadAllText(pidFile).Trim();
        var wait = System.Diagnostics.Stopwatch.StartNew();
        while (wait.Elapsed < TimeSpan.FromSeconds(30) && StillRunning(pid))
            Thread.Sleep(10);
        var dirty = JsonDocument.Parse(map.Out).RootElement.EnumerateArray()
            .Where(e => !e.GetProperty("data").GetBoolean())
            .Select(e => $"{e.GetProperty("start").GetInt64()}+{e.GetProperty("length").GetInt64()}");
        return string.Join(" ", dirty);
    }

    /// <summary>Whether process <paramref name="pid"/> may still hold files: it exists and is not a zombie whose
    /// other threads are all gone (a zombie is never reaped here; its threads close the files when the last leaves).</summary>
    private static bool StillRunning(string pid)
    {
        try
        {
            if (Directory.GetDirectories($"/proc/{pid}/task").Length > 1)
                return true;
            string s = File.ReadAllText($"/proc/{pid}/stat");
            return s[(s.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The image is clean and b0 still holds what <see cref="Image"/> wrote while it was enabled.</summary>
    private static void AssertIntact(string image)
    {
        Tools.AssertQemuCheckClean(image);
        Assert.Equal("4194304+1048576 41943040+65536", DirtyRanges(image, "b0"));
    }

    private static string FormatSpecific(string image) =>
        Tools.QemuImg("info", "-U", image).Out.Split("Format specific information:")[1];

    private static string[] BitmapNames(string image, bool consistentOnly = true)
    {
        var info = JsonDocument.Parse(Tools.QemuImg("info", "-U", "--output=json", image).Out).RootElement;
        var data = info.GetProperty("format-specific").GetProperty("data");
        if (!data.TryGetProperty("bitmaps", out var list))
            return [];
        return list.EnumerateArray()
            .Where(b => !consistentOnly || !b.GetProperty("flags").EnumerateArray().Any(f => f.GetString() == "in-use"))
            .Select(b => b.GetProperty("name").GetString()!).ToArray();
    }

    [Theory]
    [InlineData("--add IMG n1")]
    [InlineData("--add -g 512 IMG n1")]
    [InlineData("--add -g 2G IMG n1")]
    [InlineData("--add -g 3000 IMG n1")]
    [InlineData("--add -g 4G IMG n1")]
    [InlineData("--add IMG b0")]
    [InlineData("--add --disable IMG n1")]
    [InlineData("--disable --add IMG n1")]
    [InlineData("--add --add IMG n1")]
    [InlineData("--remove IMG b0")]
    [InlineData("--remove IMG b1")]
    [InlineData("--remove IMG zz")]
    [InlineData("--remove --add -g 128k IMG b0")]
    [InlineData("--clear IMG b0")]
    [InlineData("--clear IMG zz")]
    [InlineData("--enable IMG b1")]
    [InlineData("--disable IMG b0")]
    [InlineData("--merge b0 IMG b1")]
    [InlineData("--merge b1 IMG b0")]
    [InlineData("--merge b0 -b SRC IMG b1")]
    [InlineData("--merge b0 -b SRC -F qcow2 IMG b1")]
    [InlineData("--merge zz IMG b1")]
    [InlineData("--merge b0 IMG zz")]
    [InlineData("--add -g 4k --merge b1 IMG n")]
    [InlineData("--clear --merge b0 IMG b1")]
    [InlineData("IMG b0")]
    [InlineData("-g 1M --clear IMG b0")]
    [InlineData("-b SRC --clear IMG b0")]
    [InlineData("-F qcow2 --merge b1 IMG b0")]
    [InlineData("--add IMG")]
    [InlineData("--add IMG b2 extra")]
    public void MatchesQemuImgBitmap(string operands)
    {
        using var dir = new TempDir();
        string theirs = Image(dir, "theirs.qcow2"), ours = dir.File("ours.qcow2"), source = dir.File("source.qcow2");
        File.Copy(theirs, ours);
        File.Copy(theirs, source);
        string[] Args(string image) => ["bitmap", .. operands.Replace("IMG", image).Replace("SRC", source).Split(' ')];
        var q = Tools.QemuImg(Args(theirs));
        var e = Tools.Img(Args(ours));
        Assert.Equal(q.ExitCode, e.ExitCode);
        Assert.Equal(q.Err.Replace("qemu-img: ", "emu img: "), e.Err.Replace(ours, theirs));
        Assert.Equal(FormatSpecific(theirs), FormatSpecific(ours));
        Tools.AssertQemuCheckClean(ours);
        foreach (string bitmap in BitmapNames(theirs))
            Assert.Equal(DirtyRanges(theirs, bitmap), DirtyRanges(ours, bitmap));
    }

    [Fact]
    public void WritesThroughEmuLandInTheEnabledBitmapsAsQemusDo()
    {
        using var dir = new TempDir();
        string theirs = Image(dir, "theirs.qcow2"), ours = dir.File("ours.qcow2");
        File.Copy(theirs, ours);
        Tools.QemuIo("-c", "write -P 9 8M 4k", "-c", "write -z 16M 192k", "-c", "discard 32M 128k", "-c", "write -P 8 63M 1M",
            "-c", "writev -P 7 20M 4k 60k", theirs);
        using (var d = Data.Open(ours))
        {
            d.Write(8L << 20, Data.Pattern(4096, 1));
            d.WriteZeroes(16L << 20, 192 << 10);
            d.Discard(32L << 20, 128 << 10);
            d.Write(63L << 20, Data.Pattern(1 << 20, 2));
            d.WriteVectored(20L << 20, [new byte[4096], new byte[60 << 10]]);
            // While the image is open the bitmap it writes is marked inconsistent on disk, as QEMU does.
            Assert.Contains("in-use", Tools.QemuImg("info", "-U", ours).Out);
        }
        Assert.DoesNotContain("in-use", Tools.QemuImg("info", ours).Out);
        Tools.AssertQemuCheckClean(ours);
        Assert.Equal(FormatSpecific(theirs), FormatSpecific(ours));
        Assert.Equal(DirtyRanges(theirs, "b0"), DirtyRanges(ours, "b0"));
        Assert.Contains("8388608+65536", DirtyRanges(ours, "b0"));
        Assert.Equal(DirtyRanges(theirs, "b1"), DirtyRanges(ours, "b1"));
        Assert.Equal("", DirtyRanges(ours, "b1"));
    }

    [Fact]
    public void AnImageLeftByACrashMidWriteHasItsBitmapMarkedInUse()
    {
        using var dir = new TempDir();
        string image = Image(dir, "a.qcow2"), crashed = dir.File("crashed.qcow2");
        using (var d = Data.Open(image))
        {
            d.Write(2L << 20, Data.Pattern(65536, 3));
            d.Flush();
            File.Copy(image, crashed);
        }
        var flags = Tools.QemuImg("info", crashed).Out;
        Assert.Contains("[0]: in-use", flags);
        Assert.DoesNotContain("b0", BitmapNames(crashed));
        Assert.Equal(0, Tools.QemuImg("check", crashed).ExitCode);
        // emu refuses to use the inconsistent bitmap but may remove it, as qemu-img does.
        var clear = Tools.Img("bitmap", "--clear", crashed, "b0");
        Assert.Equal(1, clear.ExitCode);
        Assert.Contains("Bitmap 'b0' is inconsistent and cannot be used", clear.Err);
        Assert.Equal(0, Tools.Img("bitmap", "--remove", crashed, "b0").ExitCode);
        Tools.AssertQemuCheckClean(crashed);
        Assert.Equal(["b1"], BitmapNames(crashed, consistentOnly: false));
    }

    [Fact]
    public void InfoAndCheckSeeTheBitmaps()
    {
        using var dir = new TempDir();
        string image = Image(dir, "a.qcow2"), inUse = dir.File("inuse.qcow2");
        File.Copy(image, inUse);
        Tools.QemuIo("-c", "write 0 64k", "-c", "sigraise 9", inUse);
        foreach (string path in new[] { image, inUse })
        {
            foreach (string output in new[] { "human", "json" })
                Assert.Equal(Tools.QemuImg("info", "--output=" + output, path).Out, Tools.Img("info", "--output=" + output, path).Out);
            var check = Tools.Img("check", path);
            Assert.True(check.ExitCode == 0, check.Out + check.Err);
            Assert.Contains("No errors were found on the image.", check.Out);
        }
        // Repairing must not take the bitmaps' clusters for leaks.
        Assert.Equal(0, Tools.Img("check", "-r", "all", image).ExitCode);
        AssertIntact(image);
    }

    [Fact]
    public void SnapshotsLeaveTheBitmapsIntact()
    {
        using var dir = new TempDir();
        string image = Image(dir, "a.qcow2");
        Assert.Equal(0, Tools.Img("snapshot", "-c", "s1", image).ExitCode);
        Assert.Equal(0, Tools.Img("snapshot", "-d", "s1", image).ExitCode);
        AssertIntact(image);
    }

    /// <summary>Bitmaps follow the disk through growing and shrinking as QEMU's do: bits past the old end start clean,
    /// bits past a new end are dropped, and writes into the grown area are tracked.</summary>
    [Fact]
    public void ResizeResizesTheBitmapsAsQemuImgDoes()
    {
        using var dir = new TempDir();
        string theirs = Image(dir, "theirs.qcow2"), ours = dir.File("ours.qcow2");
        Tools.QemuImg("bitmap", "--enable", theirs, "b1");
        Tools.QemuIo("-c", "write 50M 4k", "-c", "write 63M 1M", theirs);
        File.Copy(theirs, ours);
        foreach (string size in new[] { "1G", "100M", "52429312", "64M" })
        {
            Assert.Equal(0, Tools.QemuImg("resize", "-q", "--shrink", theirs, size).ExitCode);
            var r = Tools.Img("resize", "-q", "--shrink", ours, size);
            Assert.True(r.ExitCode == 0, r.Err);
            Tools.QemuIo("-c", "write 60M 4k", theirs);
            Tools.Io("-c", "write 60M 4k", ours);
            foreach (string b in new[] { "b0", "b1" })
                Assert.Equal(DirtyRanges(theirs, b), DirtyRanges(ours, b));
            Tools.AssertQemuCheckClean(ours);
        }
        Assert.Equal("4194304+1048576 41943040+65536 52428800+65536 62914560+65536", DirtyRanges(ours, "b0"));
        Assert.Equal(FormatSpecific(theirs), FormatSpecific(ours));
    }

    [Fact]
    public void DowngradeRefusesAndLosesNothing()
    {
        using var dir = new TempDir();
        string image = Image(dir, "a.qcow2");
        var amend = Tools.Img("amend", "-o", "compat=0.10", image);
        Assert.Equal(1, amend.ExitCode);
        Assert.Contains("persistent bitmaps", amend.Err);
        AssertIntact(image);
        Assert.Equal(["b0", "b1"], BitmapNames(image));
    }

    [Theory]
    [InlineData("64k", "human")]
    [InlineData("512", "json")]
    [InlineData("2M", "human")]
    public void MeasureCountsTheBitmapsAsQemuImgDoes(string clusterSize, string output)
    {
        using var dir = new TempDir();
        string image = Image(dir, "a.qcow2");
        Tools.QemuImg("bitmap", "--add", "-g", "512", image, "fine");
        string[] args = ["measure", "--output=" + output, "-O", "qcow2", "-o", "cluster_size=" + clusterSize, image];
        var q = Tools.QemuImg(args);
        Assert.Contains("bitmaps", q.Out);
        Assert.Equal(q.Out, Tools.Img(args).Out);
    }

    [Theory]
    [InlineData("--bitmaps -O qcow2 IN")]
    [InlineData("--bitmaps -O qcow2 -o cluster_size=4k IN")]
    [InlineData("--bitmaps -O raw IN")]
    [InlineData("--bitmaps -O qcow2 INUSE")]
    [InlineData("--bitmaps --skip-broken-bitmaps -O qcow2 INUSE")]
    [InlineData("--bitmaps -O qcow2 -o compat=0.10 IN")]
    [InlineData("--skip-broken-bitmaps -O qcow2 IN")]
    [InlineData("--bitmaps -O qcow2 RAW")]
    [InlineData("--bitmaps -O qcow2 IN IN")]
    public void ConvertCopiesBitmapsAsQemuImgDoes(string operands)
    {
        using var dir = new TempDir();
        string input = Image(dir, "in.qcow2"), inUse = dir.File("inuse.qcow2"), raw = dir.File("in.raw");
        File.Copy(input, inUse);
        Tools.QemuIo("-c", "write 0 64k", "-c", "sigraise 9", inUse);
        Tools.QemuImg("create", "-q", "-f", "raw", raw, "64M");
        string theirs = dir.File("theirs.out"), ours = dir.File("ours.out");
        string[] Args(string output) =>
            ["convert", .. operands.Replace("INUSE", inUse).Replace("IN", input).Replace("RAW", raw).Split(' '), output];
        var q = Tools.QemuImg(Args(theirs));
        var e = Tools.Img(Args(ours));
        Assert.Equal(q.ExitCode, e.ExitCode);
        Assert.Equal(q.Err.Replace("qemu-img: ", "emu img: "), e.Err);
        Assert.Equal(File.Exists(theirs), File.Exists(ours));
        if (q.ExitCode != 0)
            return;
        Assert.Equal(FormatSpecific(theirs), FormatSpecific(ours));
        Tools.AssertQemuCheckClean(ours);
        foreach (string bitmap in BitmapNames(theirs))
            Assert.Equal(DirtyRanges(theirs, bitmap), DirtyRanges(ours, bitmap));
    }

    [Fact]
    public void BitmapsLeftByAWriterWithoutBitmapSupportGiveWayToNewOnes()
    {
        using var dir = new TempDir();
        string image = Image(dir, "a.qcow2");
        // Clear the bitmaps autoclear bit, as a program that does not know bitmaps must when it writes the image.
        using (var f = File.Open(image, FileMode.Open))
        {
            f.Position = 95;
            f.WriteByte(0);
        }
        Assert.Equal(0, Tools.Img("bitmap", "--add", image, "n1").ExitCode);
        Assert.Equal(["n1"], BitmapNames(image, consistentOnly: false));
        var check = Tools.QemuImg("check", image);
        Assert.True(check.ExitCode is 0 or 3, check.Out + check.Err); // the old bitmaps' clusters may leak, nothing worse
        Assert.Equal("", DirtyRanges(image, "n1"));
    }

    /// <summary>The offset of the bitmap directory, from the image's bitmaps header extension.</summary>
    private static long DirectoryOffset(byte[] header)
    {
        int pos = (int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(100));
        while (BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(pos)) != Qcow2Header.ExtBitmaps)
            pos += 8 + (int)((BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(pos + 4)) + 7) & ~7u);
        return (long)BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(pos + 8 + 16));
    }

    [Theory]
    [InlineData(8, 4, 0x7fffffffu, "its table is too large")]              // table size
    [InlineData(0, 8, 0x12345u, "its table offset is invalid")]           // unaligned table offset
    [InlineData(12, 4, 0x80000002u, "reserved flags are set")]
    [InlineData(16, 2, 0x0140u, "granularity 2^64 is not supported")]     // type 1, granularity bits 64
    [InlineData(18, 2, 0u, "Bitmap directory entry 0 is invalid")]        // empty name
    [InlineData(20, 4, 0xfffffff0u, "Bitmap directory entry 0 is invalid")] // extra data larger than the directory
    public void HostileDirectoryEntriesAreClearErrors(int field, int width, uint value, string message)
    {
        using var dir = new TempDir();
        string image = Image(dir, "a.qcow2");
        var header = new byte[65536];
        using (var f = File.OpenRead(image))
            f.ReadExactly(header);
        long at = DirectoryOffset(header) + field;
        using (var f = File.OpenWrite(image))
        {
            var b = new byte[8];
            if (width == 8)
                BinaryPrimitives.WriteUInt64BigEndian(b, value);
            else if (width == 4)
                BinaryPrimitives.WriteUInt32BigEndian(b, value);
            else
                BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)value);
            f.Position = at;
            f.Write(b, 0, width);
        }
        foreach (var args in new[] { new[] { "info", image }, ["check", image], ["bitmap", "--clear", image, "b0"] })
        {
            var r = Tools.Img(args);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains(message, r.Err);
        }
    }
}
