using System.Diagnostics;
using System.Text;

namespace Emu.Block.Tests;

/// <summary>Image locking against the real QEMU tools: emu takes the same OFD lock bytes QEMU takes, so a QEMU process
/// using an image keeps emu from writing it (or reading it without -U while QEMU writes), and the other way round.</summary>
public class LockingTests
{
    private const string SharedWrite = "Failed to get shared \"write\" lock";
    private const string Write = "Failed to get \"write\" lock";

    /// <summary>qemu-io holding an image open until disposed (commands go to its stdin).</summary>
    private sealed class QemuIoSession : IDisposable
    {
        private readonly Process _p;
        private readonly StringBuilder _out = new();

        public QemuIoSession(params string[] args)
        {
            var psi = new ProcessStartInfo("qemu-io")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in args)
                psi.ArgumentList.Add(a);
            _p = Process.Start(psi)!;
            _p.OutputDataReceived += (_, e) => { lock (_out) _out.AppendLine(e.Data); };
            _p.ErrorDataReceived += (_, e) => { lock (_out) _out.AppendLine(e.Data); };
            _p.BeginOutputReadLine();
            _p.BeginErrorReadLine();
        }

        /// <summary>Runs a command and waits for its output to contain <paramref name="expect"/>.</summary>
        public void Run(string command, string expect)
        {
            _p.StandardInput.WriteLine(command);
            _p.StandardInput.Flush();
            var sw = Stopwatch.StartNew();
            while (true)
            {
                lock (_out)
                    if (_out.ToString().Contains(expect))
                        return;
                Assert.False(_p.HasExited, $"qemu-io exited: {_out}");
                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"qemu-io did not answer '{command}': {_out}");
                Thread.Sleep(20);
            }
        }

        public void Dispose()
        {
            _p.StandardInput.WriteLine("quit");
            _p.StandardInput.Close();
            if (!_p.WaitForExit(30_000))
                _p.Kill(true);
            _p.Dispose();
        }
    }

    /// <summary>A qcow2 overlay on a qcow2 base, both with data.</summary>
    private static (string Base, string Top) Chain(TempDir dir)
    {
        string b = dir.File("base.qcow2"), t = dir.File("top.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", b, "16M");
        Tools.QemuIo("-c", "write -P 1 0 1M", b);
        Tools.QemuImg("create", "-q", "-f", "qcow2", "-b", b, "-F", "qcow2", t);
        return (b, t);
    }

    private static void AssertRefused(Tools.Result r, string path, string reason)
    {
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"{reason}\nIs another process using the image [{path}]?", r.Err);
    }

    [Fact]
    public void AQemuWriterKeepsEmuFromWritingOrReadingWithoutForceShare()
    {
        using var dir = new TempDir();
        var (b, t) = Chain(dir);
        using (var q = new QemuIoSession("-f", "qcow2", t))
        {
            q.Run("write -P 9 2M 64k", "wrote 65536/65536");

            var info = Tools.Img("info", t);
            AssertRefused(info, t, SharedWrite);
            Assert.StartsWith($"emu img: Could not open '{t}': ", info.Err);
            AssertRefused(Tools.Io("-c", "write 0 512", t), t, Write);
            AssertRefused(Tools.Io("-r", "-c", "read 0 512", t), t, SharedWrite);
            // The writer's backing file is only read: other readers are welcome, writers are not.
            AssertRefused(Tools.Io("-c", "write 0 512", b), b, Write);
            Assert.Equal(0, Tools.Io("-r", "-c", "read -P 1 0 1M", b).ExitCode);

            // -U reads it anyway, as qemu-img -U does; it cannot be combined with writing.
            Assert.Equal(0, Tools.Img("info", "-U", t).ExitCode);
            Assert.Equal(0, Tools.Img("map", "-U", t).ExitCode);
            Assert.Equal(0, Tools.Io("-r", "-U", "-c", "read -P 1 0 1M", t).ExitCode);
            var rwShared = Tools.Io("-U", "-c", "read 0 512", t);
            Assert.Equal(1, rwShared.ExitCode);
            Assert.Contains("force-share=on can only be used with read-only images", rwShared.Err);
            // locking=off opts out, as in QEMU.
            Assert.Equal(0, Tools.Img("info", "--image-opts", $"driver=qcow2,file.filename={t},file.locking=off").ExitCode);

            // Creating an image over the one in use is refused before anything is truncated.
            var create = Tools.Img("create", "-f", "qcow2", t, "1M");
            Assert.Equal(1, create.ExitCode);
            Assert.Contains($"{t}: {Write}", create.Err);
        }
        Tools.AssertQemuCheckClean(t);
        Assert.Equal(0, Tools.QemuIo("-c", "read -P 9 2M 64k", "-c", "read -P 1 0 1M", t).ExitCode);
        Assert.Equal(0, Tools.Img("info", t).ExitCode);
    }

    [Fact]
    public void AnEmuWriterKeepsQemuOut()
    {
        using var dir = new TempDir();
        var (b, t) = Chain(dir);
        using (var d = ImageOpener.Open(t, new ImageOptions()))
        {
            d.Write(2 << 20, new byte[4096]);
            var info = Tools.QemuImg("info", t);
            Assert.Equal(1, info.ExitCode);
            Assert.Contains(SharedWrite, info.Err);
            Assert.Contains(Write, Tools.QemuIo("-c", "write 0 512", t).Err);
            Assert.Contains(Write, Tools.QemuIo("-c", "write 0 512", b).Err);
            Assert.Equal(0, Tools.QemuIo("-r", "-c", "read -P 1 0 1M", b).ExitCode);
            Assert.Equal(0, Tools.QemuImg("info", "-U", t).ExitCode);
            // The same process opening it again is another opener too.
            Assert.Throws<BlockException>(() => ImageOpener.Open(t, new ImageOptions { ReadOnly = true }));
        }
        Assert.Equal(0, Tools.QemuImg("info", t).ExitCode);
        Assert.Equal(0, Tools.QemuIo("-c", "write 0 512", t).ExitCode);
    }

    [Fact]
    public void ReadersShareAndKeepWritersOut()
    {
        using var dir = new TempDir();
        var (_, t) = Chain(dir);
        using var first = ImageOpener.Open(t, new ImageOptions { ReadOnly = true });
        using var second = ImageOpener.Open(t, new ImageOptions { ReadOnly = true });
        Assert.Equal(0, Tools.QemuIo("-r", "-c", "read -P 1 0 1M", t).ExitCode);
        Assert.Contains(Write, Tools.QemuIo("-c", "write 0 512", t).Err);
        var ex = Assert.Throws<BlockException>(() => ImageOpener.Open(t, new ImageOptions()));
        Assert.Equal($"Could not open '{t}': {Write}\nIs another process using the image [{t}]?", ex.Message);
    }

    [Fact]
    public void RawWritersRefuseOtherWriters()
    {
        using var dir = new TempDir();
        string raw = dir.File("disk.img");
        Tools.QemuImg("create", "-q", "-f", "raw", raw, "4M");
        using (var q = new QemuIoSession("-f", "raw", raw))
        {
            q.Run("write -P 5 0 4k", "wrote 4096/4096");
            AssertRefused(Tools.Io("-f", "raw", "-c", "write 0 512", raw), raw, SharedWrite);
            Assert.Equal(0, Tools.Io("-f", "raw", "-r", "-c", "read -P 5 0 4k", raw).ExitCode);
        }
        using var d = ImageOpener.Open(raw, new ImageOptions { Format = "raw" });
        Assert.Contains(Write, Tools.QemuIo("-f", "raw", "-c", "write 0 512", raw).Err);
        Assert.Equal(0, Tools.QemuIo("-f", "raw", "-r", "-c", "read -P 5 0 4k", raw).ExitCode);
    }

    [Fact]
    public void ConvertingAnImageOntoItselfIsRefusedBeforeItIsTruncated()
    {
        using var dir = new TempDir();
        var (_, t) = Chain(dir);
        Tools.QemuIo("-c", "write -P 3 0 64k", t);
        var r = Tools.Img("convert", "-O", "qcow2", t, t);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"{t}: {Write}", r.Err);
        Assert.Equal(0, Tools.QemuIo("-c", "read -P 3 0 64k", "-c", "read -P 1 64k 960k", t).ExitCode);
        Tools.AssertQemuCheckClean(t);
    }

    [Fact]
    public void RebaseForceSharesOnlyTheNewBackingFileAsQemuImgDoes()
    {
        using var dir = new TempDir();
        var (b, _) = Chain(dir);
        string next = dir.File("next.qcow2"), theirs = dir.File("theirs.qcow2"), ours = dir.File("ours.qcow2");
        Tools.QemuImg("create", "-q", "-f", "qcow2", next, "16M");
        foreach (var t in new[] { theirs, ours })
            Tools.QemuImg("create", "-q", "-f", "qcow2", "-b", b, "-F", "qcow2", t);
        using (var q = new QemuIoSession("-f", "qcow2", next))
        {
            q.Run("write -P 8 0 64k", "wrote 65536/65536");
            string[] rebase = ["rebase", "-b", next, "-F", "qcow2"];
            Assert.Equal(1, Tools.QemuImg([.. rebase, theirs]).ExitCode);
            var refused = Tools.Img([.. rebase, ours]);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains($"Could not open new backing file '{next}': {SharedWrite}", refused.Err);
            Assert.Equal(0, Tools.QemuImg(["rebase", "-U", .. rebase[1..], theirs]).ExitCode);
            Assert.Equal(0, Tools.Img(["rebase", "-U", .. rebase[1..], ours]).ExitCode);
        }
        Assert.Equal(0, Tools.QemuImg("compare", theirs, ours).ExitCode);
        Tools.AssertQemuCheckClean(ours);
    }

    [Fact]
    public void UnknownOptionsAndMissingArgumentsAreReportedAsQemuImgReportsThem()
    {
        using var dir = new TempDir();
        var (_, t) = Chain(dir);
        foreach (var args in new[] { new[] { "resize", "-U", t, "1G" }, ["commit", "-U", t], ["amend", "-U", "-o", "compat=1.1", t],
            ["info", "-f"], ["info", "--output"], ["info", "--bogus", t], ["check", "-Z", t] })
        {
            var q = Tools.QemuImg(args);
            var e = Tools.Img(args);
            Assert.Equal(q.ExitCode, e.ExitCode);
            Assert.Equal(q.Err.Replace("qemu-img", "emu img"), e.Err);
        }
    }

    [Fact]
    public void EmuIoHoldsItsImageAcrossSleep()
    {
        using var dir = new TempDir();
        var (_, t) = Chain(dir);
        var run = Task.Run(() => Tools.Io("-c", "write -P 4 0 4k", "-c", "sleep 3000", "-c", "read -P 4 0 4k", t));
        var sw = Stopwatch.StartNew();
        Tools.Result info;
        do
        {
            info = Tools.QemuImg("info", t);
            Thread.Sleep(50);
        }
        while (info.ExitCode == 0 && !run.IsCompleted && sw.Elapsed < TimeSpan.FromSeconds(30));
        Assert.Contains(SharedWrite, info.Err);
        Assert.Equal(0, run.Result.ExitCode);
        Assert.Equal(0, Tools.QemuImg("info", t).ExitCode);

        Assert.Contains("bad argument count 0 to sleep, expected 1 arguments", Tools.Io("-c", "sleep", t).Err);
        var bad = Tools.Io("-c", "sleep -5", t);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("-5 is not a valid number", bad.Err);
    }

    /// <summary>The lock bytes themselves, as the kernel lists them, match what qemu-io takes for the same open.</summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void EmuTakesQemusLockBytes(bool readOnly, bool forceShare)
    {
        using var dir = new TempDir();
        var (_, t) = Chain(dir);
        var args = new List<string> { "-f", "qcow2" };
        if (readOnly) args.Add("-r");
        if (forceShare) args.Add("-U");
        string qemu;
        using (var q = new QemuIoSession([.. args, t]))
        {
            q.Run("read 0 512", "read 512/512");
            qemu = LockRanges(t);
        }
        Assert.Equal("", LockRanges(t));
        using (ImageOpener.Open(t, new ImageOptions { ReadOnly = readOnly, ForceShare = forceShare }))
            Assert.Equal(qemu, LockRanges(t));
        Assert.NotEqual("", qemu);
    }

    /// <summary>The OFD lock ranges on a file in /proc/locks, sorted, once they have settled (the same in two reads
    /// 50 ms apart, for at most 5 s: a process that just exited or opened may still be taking or dropping them).</summary>
    private static string LockRanges(string path)
    {
        // /proc/locks names the file as major:minor:inode, the device numbers in hex.
        var st = Tools.Qemu("stat", "-c", "%D %i", path).Out.Trim().Split(' ');
        uint dev = Convert.ToUInt32(st[0], 16);
        string id = $"{(dev >> 8) & 0xfff:x2}:{(dev & 0xff) | ((dev >> 12) & 0xfff00):x2}:{st[1]}";
        string Read() => string.Join("; ", File.ReadAllLines("/proc/locks")
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 8 && f[1] == "OFDLCK" && f[5] == id)
            .Select(f => $"{f[3]} {f[6]}-{f[7]}")
            .Order(StringComparer.Ordinal));
        var wait = System.Diagnostics.Stopwatch.StartNew();
        string last = Read();
        while (wait.Elapsed < TimeSpan.FromSeconds(5))
        {
            Thread.Sleep(50);
            string now = Read();
            if (now == last)
                break;
            last = now;
        }
        return last;
    }
}
