using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Emu.Machine.Tests;

/// <summary>Debian's i386 Linux (built by tests/guests/linux/build.sh, which test.sh runs first) boots through
/// <c>emu run</c>, benchmarks its data disk through the kernel and powers off; the image is then checked with
/// the real qemu-img/qemu-io.</summary>
public static class LinuxGuest
{
    /// <summary>Where build.sh leaves the guest images.</summary>
    public static string Cache => Environment.GetEnvironmentVariable("EMU_LINUX_CACHE") is { Length: > 0 } c ? c
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "emu", "linux");

    /// <summary>A private copy of one of build.sh's outputs (the guest writes to it).</summary>
    public static string CopyOf(string name, string dir)
    {
        string src = Path.Combine(Cache, name);
        Assert.True(File.Exists(src), $"{src} is missing: run tests/guests/linux/build.sh as root (./test.sh does)");
        string dst = Path.Combine(dir, name);
        File.Copy(src, dst);
        return dst;
    }


    /// <summary>Runs <c>emu run</c> with the given arguments and returns its exit status and serial transcript.</summary>
    public static (int Status, string Serial) Run(string dir, params string[] args)
    {
        string log = Path.Combine(dir, "serial.txt");
        var stderr = new StringWriter();
        int status = Emu.Cli.Run.RunCommand.Run(
            [.. args, "--serial", "file:" + log, "--debugcon", "none", "--monitor", "none", "--timeout", "1200"], stderr);
        string serial = File.Exists(log) ? File.ReadAllText(log) : "";
        return (status, serial + stderr);
    }

    /// <summary>What every benchmark run must print, from the ready marker to the verified write/read-back;
    /// returns the md5 the guest read back.</summary>
    public static string AssertBenchmarkTranscript(int status, string serial)
    {
        string tail = serial.Length > 6000 ? serial[^6000..] : serial;
        Assert.True(status == 0, $"emu run exit status {status}\n{tail}");
        Assert.Contains("EMU-GUEST-READY", serial);
        Assert.DoesNotContain("EMU-GUEST-ERROR", serial);
        // PIIX4 IDE: the kernel negotiates Ultra DMA/33 with the disk (PIO for SeaBIOS and syslinux before it).
        Assert.Matches(@"ata\d: PATA max UDMA/33", serial);
        Assert.Matches(@"transfer-mode: ata\d\.00 ata XFER_UDMA_2 \(pio_mode XFER_PIO_4", serial);
        // The TSC runs at 1 GHz of host time; calibrated against the PIT or the PM timer while the CPU runs,
        // the kernel must find that rate (it found 758 MHz when timers only moved between run-loop slices).
        var tsc = Regex.Match(serial, @"tsc: Detected (\d+)\.\d+ MHz processor");
        Assert.True(tsc.Success, $"no TSC calibration\n{tail}");
        Assert.InRange(int.Parse(tsc.Groups[1].Value), 990, 1010);
        Assert.Matches(@"seq-write: \d+\.\d MB/s \(67108864 bytes", serial);
        Assert.Matches(@"seq-read: \d+\.\d MB/s \(67108864 bytes", serial);
        Assert.Matches(@"rand-read-4k: \d+ IOPS \(2000 reads", serial);
        Assert.Contains("EMU-GUEST-DONE", serial);
        Assert.Contains("powering off (ACPI S5)", serial);
        var verify = Regex.Match(serial, @"verify: OK ([0-9a-f]{32})");
        Assert.True(verify.Success, $"no verified write/read-back\n{tail}");
        return verify.Groups[1].Value;
    }

    /// <summary>qemu-img check is clean, qemu-io reads the guest's zeros, and the 1 MiB the guest wrote at
    /// <paramref name="patternOffset"/> has the md5 the guest printed.</summary>
    public static void AssertImageHoldsGuestData(string image, string dir, long zeroOffset, long patternOffset, string md5)
    {
        var (code, output) = Tool("qemu-img", $"check {image}");
        Assert.True(code == 0, $"qemu-img check: {code}\n{output}");
        Assert.Contains("No errors were found on the image.", output);
        (code, output) = Tool("qemu-io", $"-r -f qcow2 -c \"read -P 0 {zeroOffset} 64M\" {image}");
        Assert.True(code == 0 && !output.Contains("Pattern verification failed"), output);
        string raw = Path.Combine(dir, "image.raw");
        (code, output) = Tool("qemu-img", $"convert -f qcow2 -O raw {image} {raw}");
        Assert.True(code == 0, output);
        var pattern = new byte[1 << 20];
        using (var f = File.OpenRead(raw))
        {
            f.Position = patternOffset;
            f.ReadExactly(pattern);
        }
        File.Delete(raw);
        Assert.Equal(md5, Convert.ToHexStringLower(MD5.HashData(pattern)));
    }

    private static (int Code, string Output) Tool(string tool, string args)
    {
        var p = Process.Start(new ProcessStartInfo(tool, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output + err.Result);
    }
}

/// <summary>The guest from its qcow2 disk: <c>emu run --config config/linux.json --disk COPY</c>.</summary>
public class LinuxDiskBootTests
{
    [Fact]
    public void BootsFromQcow2BenchmarksAndPowersOff()
    {
        TestGuests.InTempDir("emu-linux-", dir =>
        {
            string disk = LinuxGuest.CopyOf("linux.qcow2", dir);
            var (status, serial) = LinuxGuest.Run(dir, "--config", Path.Combine(DemoGuestTests.ProjectRoot(), "config", "linux.json"),
                "--disk", disk + ",format=qcow2");
            string md5 = LinuxGuest.AssertBenchmarkTranscript(status, serial);
            Assert.Contains("data device /dev/sda2", serial);
            // /dev/sda2 starts at sector 2048 + 32 MiB of boot partition; the pattern follows the 64 MiB area.
            const long data = (2048 + 32 * 2048) * 512L;
            LinuxGuest.AssertImageHoldsGuestData(disk, dir, data, data + (64 << 20), md5);
        });
    }
}

/// <summary>The same guest from an El Torito CD on the ATAPI CD-ROM, benchmarking a qcow2 data disk on IDE.</summary>
public class LinuxCdromBootTests
{
    [Fact]
    public void BootsFromIsoAndBenchmarksTheDataDisk()
    {
        TestGuests.InTempDir("emu-linux-iso-", dir =>
        {
            string data = LinuxGuest.CopyOf("data.qcow2", dir);
            string iso = Path.Combine(LinuxGuest.Cache, "linux.iso");
            var (status, serial) = LinuxGuest.Run(dir, "--config", Path.Combine(DemoGuestTests.ProjectRoot(), "config", "linux.json"),
                "--disk", data + ",format=qcow2", "--cdrom", iso, "--boot", "d");
            string md5 = LinuxGuest.AssertBenchmarkTranscript(status, serial);
            Assert.Contains("data device /dev/sda:", serial);
            Assert.Matches(@"transfer-mode: ata\d\.00 atapi ", serial);
            LinuxGuest.AssertImageHoldsGuestData(data, dir, 0, 64 << 20, md5);
        });
    }
}

/// <summary>Two disks on the primary channel and the CD-ROM on the secondary at once; the benchmarked disk runs
/// with <c>snapshot=on</c>, so the guest's writes go to a temporary overlay and the image stays as it was.</summary>
public class LinuxTwoDisksAndCdromTests
{
    [Fact]
    public void BenchmarksASnapshotDiskWithoutTouchingItsImage()
    {
        TestGuests.InTempDir("emu-linux-two-", dir =>
        {
            string master = LinuxGuest.CopyOf("linux.qcow2", dir);
            string slave = LinuxGuest.CopyOf("data.qcow2", dir);
            byte[] masterBefore = SHA256.HashData(File.ReadAllBytes(master));
            byte[] slaveBefore = SHA256.HashData(File.ReadAllBytes(slave));
            string iso = Path.Combine(LinuxGuest.Cache, "linux.iso");
            var (status, serial) = LinuxGuest.Run(dir, "--config", Path.Combine(DemoGuestTests.ProjectRoot(), "config", "linux.json"),
                "--disk", master + ",format=qcow2,snapshot=on", "--disk", slave + ",format=qcow2",
                "--cdrom", iso, "--boot", "d");
            LinuxGuest.AssertBenchmarkTranscript(status, serial);
            // The ISO names the data disk by SCSI address 0:0:0:0: the primary master, whatever sdX it got.
            var master0 = Regex.Match(serial, @"SCSI 0:0:0:0 is (sd[a-z])");
            Assert.True(master0.Success, "the guest did not resolve 0:0:0:0\n" + serial);
            Assert.Contains($"data device /dev/{master0.Groups[1].Value}:", serial);
            // The kernel saw all three drives: the two disks (a 256 MiB boot disk with two partitions and the
            // data disk) and the ATAPI CD-ROM.
            Assert.Matches(@"sd 0:0:0:0: \[sd[a-z]\] 524288 512-byte logical blocks", serial);
            Assert.Matches(@"sd 0:0:1:0: \[sd[a-z]\] \d+ 512-byte logical blocks", serial);
            Assert.Matches(@"sd[a-z]: sd[a-z]1 sd[a-z]2", serial);
            Assert.Matches(@"transfer-mode: ata\d\.00 atapi ", serial);
            Assert.Equal(masterBefore, SHA256.HashData(File.ReadAllBytes(master)));
            Assert.Equal(slaveBefore, SHA256.HashData(File.ReadAllBytes(slave)));
        });
    }
}

/// <summary>savevm of the Linux guest in the middle of its benchmark, and loadvm in a new machine: the kernel carries
/// on from where it was (no second boot), finishes the benchmark with the same verified data and powers off.</summary>
public class LinuxSaveVmTests
{
    [Fact]
    public void SavedMidBenchmarkTheGuestResumesInANewMachine()
    {
        TestGuests.InTempDir("emu-linux-savevm-", dir =>
        {
            string disk = LinuxGuest.CopyOf("linux.qcow2", dir);
            var cfg = new MachineConfig { Memory = 256, Disks = [new DiskConfig { Path = disk, Format = "qcow2" }], Timeout = 1200 };
            var (first, serial, monitor) = SaveVmRuns.SaveAt(cfg, "seq-write: ", "mid");
            string md5 = LinuxGuest.AssertBenchmarkTranscript(first, serial);
            Assert.Equal("", monitor);

            var (second, text) = SaveVmRuns.Resume(cfg, "mid");
            Assert.True(second == 0, text);
            Assert.DoesNotContain("EMU-GUEST-READY", text);
            Assert.DoesNotContain("Linux version", text);
            Assert.Matches(@"seq-read: \d+\.\d MB/s \(67108864 bytes", text);
            Assert.Matches(@"rand-read-4k: \d+ IOPS \(2000 reads", text);
            Assert.Contains($"verify: OK {md5}", text);
            Assert.Contains("powering off (ACPI S5)", text);
            const long data = (2048 + 32 * 2048) * 512L;
            LinuxGuest.AssertImageHoldsGuestData(disk, dir, data, data + (64 << 20), md5);
        });
    }
}

/// <summary>The robustness guest (tests/guests/linux/robust.sh): the kernel probes absent devices, sends invalid
/// and unsupported ATA/ATAPI commands and resets the channel mid-transfer; every answer must equal what
/// qemu-system-i386 gives, emu must finish, and the image the guest wrote must pass <c>qemu-img check</c>.</summary>
public class LinuxRobustnessTests
{
    [Fact]
    public void GuestSeesTheAnswersQemuGivesAndTheImageStaysClean()
    {
        TestGuests.InTempDir("emu-robust-", dir =>
        {
            string script = Path.Combine(DemoGuestTests.ProjectRoot(), "tests", "guests", "linux", "robust.sh");
            var start = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment["ROBUST_OUT"] = dir;
            start.Environment["EMU"] = Path.Combine(AppContext.BaseDirectory, "emu");
            using var p = Process.Start(start)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            string stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            string report = stdout.Result + stderr;
            Assert.True(p.ExitCode == 0, report);
            Assert.Contains("OK: Emu's answers match QEMU's; the image is clean", report);
            Assert.Matches(@"emu: exit status 0, [1-9]\d* robust: lines", report);
        });
    }
}
