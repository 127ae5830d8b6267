using System.Diagnostics;
using Emu.Block.Qcow2;

namespace Emu.Machine.Tests;

/// <summary>However a run ends, what the guest wrote is in the image and the image is consistent.</summary>
public class RunEndingTests
{
    [Fact]
    public void DebugExitRightAfterAnUnflushedWriteKeepsTheWrite()
    {
        string dir = Directory.CreateTempSubdirectory("emu-exit-").FullName;
        try
        {
            string disk = TestGuests.BootDisk(dir, "write-exit.asm", size: 8 << 20);
            int status;
            using (var pc = new Pc(new MachineConfig { Disks = [new DiskConfig { Path = disk }], Serial = "none", Timeout = 60 }, Stream.Null))
                status = pc.Run();
            Assert.Equal(33, status);
            var io = Process.Start(new ProcessStartInfo("qemu-io", $"-c \"read -P 0x5a 51200 512\" {disk}") { RedirectStandardOutput = true })!;
            string text = io.StandardOutput.ReadToEnd();
            io.WaitForExit();
            Assert.Contains("read 512/512 bytes", text);
            Assert.DoesNotContain("failed", text);
            var check = Process.Start(new ProcessStartInfo("qemu-img", $"check {disk}") { RedirectStandardOutput = true })!;
            check.WaitForExit();
            Assert.Equal(0, check.ExitCode);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

/// <summary>SeaBIOS boots a disk at every IDE position, qcow2 and raw.</summary>
public class BootPositionTests
{
    [Theory]
    [InlineData(0, 0, "qcow2")]
    [InlineData(0, 1, "qcow2")]
    [InlineData(1, 0, "qcow2")]
    [InlineData(1, 1, "qcow2")]
    [InlineData(0, 0, "raw")]
    [InlineData(1, 1, "raw")]
    public void BootsFromEveryChannelPosition(int channel, int position, string format)
    {
        string dir = Directory.CreateTempSubdirectory("emu-boot-").FullName;
        try
        {
            string disk = TestGuests.BootDisk(dir, "hello.asm", format);
            var debug = Path.Combine(dir, "debug.txt");
            int status;
            var cfg = new MachineConfig
            {
                Disks = [new DiskConfig { Path = disk, Format = format, Channel = channel, Position = position }],
                Serial = "none",
                Debugcon = "file:" + debug,
                Timeout = 60,
            };
            using (var pc = new Pc(cfg, Stream.Null))
                status = pc.Run();
            string log = File.ReadAllText(debug);
            Assert.True(status == 33, log);
            Assert.Contains("BOOT-OK", log);
            Assert.Contains("Booting from Hard Disk", log);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

/// <summary>What SeaBIOS shows on the VGA text screen is readable headless.</summary>
public class VgaScreenTests
{
    [Fact]
    public void SeaBiosBannerAndBootMessageAppearOnTheScreen()
    {
        string dir = Directory.CreateTempSubdirectory("emu-vga-").FullName;
        try
        {
            string disk = TestGuests.BootDisk(dir, "hello.asm");
            using var pc = new Pc(new MachineConfig { Disks = [new DiskConfig { Path = disk }], Serial = "none", Timeout = 60 }, Stream.Null);
            Assert.Equal(33, pc.Run());
            string screen = string.Join("\n", pc.Vga.GetTextLines());
            Assert.Contains("SeaBIOS (version", screen);
            Assert.Contains("Booting from Hard Disk", screen);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

/// <summary>The monitor's commands answer on a live machine.</summary>
public class MonitorTests
{
    [Fact]
    public void InfoCommandsAnswer()
    {
        string dir = Directory.CreateTempSubdirectory("emu-mon-").FullName;
        try
        {
            string disk = Path.Combine(dir, "m.qcow2");
            Qcow2Creator.Create(disk, new Qcow2CreateOptions { Size = 1 << 20 });
            using var pc = new Pc(new MachineConfig { Disks = [new DiskConfig { Path = disk }], Serial = "none", Timeout = 2 }, Stream.Null);
            Assert.Equal(124, pc.Run());
            var output = new StringWriter();
            var monitor = new Monitor(pc, TextReader.Null, output);
            foreach (var cmd in new[] { "info registers", "info block", "info cpustats", "info snapshots", "stop", "info status", "bogus" })
                monitor.Execute(cmd);
            string text = output.ToString();
            Assert.Matches("EAX=[0-9a-f]{8}", text);
            Assert.Contains("m.qcow2", text);
            Assert.Matches(@"instructions: [1-9]\d* .* MIPS", text);
            Assert.Contains("There is no snapshot available.", text);
            Assert.Contains("VM status: paused", text);
            Assert.Contains("unknown command: 'bogus'", text);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

/// <summary><c>emu run --cpu-stats</c> reports the guest's instruction count, time and MIPS on stderr at the end.</summary>
public class CpuStatsTests
{
    [Fact]
    public void RunWithCpuStatsPrintsInstructionsTimeAndMips()
    {
        string dir = Directory.CreateTempSubdirectory("emu-cpustats-").FullName;
        try
        {
            // A blank disk: SeaBIOS runs, finds nothing to boot, and the timeout ends the run.
            string disk = Path.Combine(dir, "blank.qcow2");
            Qcow2Creator.Create(disk, new Qcow2CreateOptions { Size = 1 << 20 });
            var stderr = new StringWriter();
            int status = Emu.Cli.Run.RunCommand.Run(
                ["--disk", disk, "--serial", "none", "--debugcon", "none", "--monitor", "none", "--timeout", "2", "--cpu-stats"], stderr);
            Assert.Equal(124, status);
            var m = System.Text.RegularExpressions.Regex.Match(stderr.ToString(),
                @"^instructions: (\d+)  host time: (\d+\.\d\d) s  average: (\d+\.\d) MIPS\r?$", System.Text.RegularExpressions.RegexOptions.Multiline);
            Assert.True(m.Success, stderr.ToString());
            ulong count = ulong.Parse(m.Groups[1].Value);
            double seconds = double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            double mips = double.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(count > 0);
            Assert.InRange(seconds, 1.9, 60);
            Assert.Equal(count / seconds / 1e6, mips, 0.1 + mips * 0.01);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void WithoutTheOptionNothingIsPrinted()
    {
        string dir = Directory.CreateTempSubdirectory("emu-cpustats-").FullName;
        try
        {
            string disk = Path.Combine(dir, "blank.qcow2");
            Qcow2Creator.Create(disk, new Qcow2CreateOptions { Size = 1 << 20 });
            var stderr = new StringWriter();
            Assert.Equal(124, Emu.Cli.Run.RunCommand.Run(
                ["--disk", disk, "--serial", "none", "--debugcon", "none", "--monitor", "none", "--timeout", "1"], stderr));
            Assert.DoesNotContain("MIPS", stderr.ToString());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void StatsLineFormatsAverage()
    {
        Assert.Equal("instructions: 150000000  host time: 1.50 s  average: 100.0 MIPS", new CpuStats(150_000_000, 1.5).ToString());
        Assert.Equal(0, new CpuStats(5, 0).Mips);
        Assert.Matches(@"^instructions: 150000000  host time: 1\.50 s  average: 100\.0 MIPS\r?\nblocks compiled to host code: 42 \(\d+\.\d\d s compiling\)$",
            new CpuStats(150_000_000, 1.5, 42).ToString());
    }
}
