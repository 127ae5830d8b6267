using Emu.Machine;

namespace Emu.Machine.Tests;

/// <summary>SeaBIOS boots the project's demo guest from qcow2 over IDE, which benchmarks the disk and powers off.</summary>
public class DemoGuestTests
{
    internal static string ProjectRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "config", "default.json")))
                return dir.FullName;
        throw new InvalidOperationException("project root not found");
    }

    [Fact]
    public void DemoGuestRunsToPowerOffWithAVerifiedTranscript()
    {
        string dir = Directory.CreateTempSubdirectory("emu-demo-").FullName;
        try
        {
            string disk = Path.Combine(dir, "demo.qcow2");
            DemoGuest.EnsureDisk(disk, ProjectRoot());
            var serial = new MemoryStream();
            int status;
            var cfg = new MachineConfig
            {
                Disks = [new DiskConfig { Path = disk, Format = "qcow2" }],
                Serial = "stdio",
                Timeout = 120,
            };
            using (var pc = new Pc(cfg, serial))
                status = pc.Run();
            string transcript = System.Text.Encoding.ASCII.GetString(serial.ToArray());
            Assert.True(status == 0, $"exit status {status}\n{transcript}");
            Assert.Contains("Emu demo guest: disk benchmark through the IDE controller", transcript);
            Assert.Contains("disk: 64 MiB", transcript);
            Assert.Matches(@"PIO sequential read 8 MiB: +\d+\.\d MiB/s", transcript);
            Assert.Matches(@"DMA sequential read 16 MiB: +\d+\.\d MiB/s", transcript);
            Assert.Matches(@"DMA 4 KiB random read: +\d+ IOPS", transcript);
            Assert.Contains("verify 1 MiB (DMA write, PIO read): OK checksum 45DC0000", transcript);
            Assert.Contains("demo finished", transcript);

            // What the guest wrote is in the image, and the image is consistent.
            var check = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("qemu-img", $"check {disk}") { RedirectStandardOutput = true })!;
            check.WaitForExit();
            Assert.Equal(0, check.ExitCode);
            using var img = Emu.Block.ImageOpener.Open(disk, new Emu.Block.ImageOptions { ReadOnly = true });
            var sector = new byte[512];
            img.Read(4096L * 512, sector);
            uint first = BitConverter.ToUInt32(sector, 0);
            Assert.Equal(unchecked(4096u * 2654435761u), first);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void MissingFirmwareGivesAClearError()
    {
        var cfg = new MachineConfig { Bios = "/nonexistent/bios.bin", Disks = [] };
        var e = Assert.Throws<MachineException>(() => new Pc(cfg));
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void TimeoutEndsTheRunWith124()
    {
        string dir = Directory.CreateTempSubdirectory("emu-timeout-").FullName;
        try
        {
            // A blank disk: SeaBIOS finds nothing to boot and waits, so only the timeout ends the run.
            string disk = Path.Combine(dir, "blank.qcow2");
            Emu.Block.Qcow2.Qcow2Creator.Create(disk, new Emu.Block.Qcow2.Qcow2CreateOptions { Size = 1 << 20 });
            var cfg = new MachineConfig { Disks = [new DiskConfig { Path = disk }], Serial = "none", Timeout = 3 };
            using var pc = new Pc(cfg);
            Assert.Equal(124, pc.Run());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

/// <summary>The demo disk under qemu-system-i386 prints the same deterministic report lines as under Emu.</summary>
public class DemoAgainstQemuTests
{
    private static IEnumerable<string> Deterministic(string transcript) =>
        transcript.Split('\n').Select(l => l.TrimEnd('\r'))
            .Where(l => l.StartsWith("Emu demo") || l.StartsWith("disk:") || l.StartsWith("verify") || l.StartsWith("demo finished"));

    [Fact]
    public async Task TranscriptMatchesQemu()
    {
        string dir = Directory.CreateTempSubdirectory("emu-vs-qemu-").FullName;
        try
        {
            string disk = Path.Combine(dir, "demo.qcow2");
            DemoGuest.EnsureDisk(disk, DemoGuestTests.ProjectRoot());
            var psi = new System.Diagnostics.ProcessStartInfo("qemu-system-i386",
                $"-accel tcg -m 128 -drive file={disk},format=qcow2,if=ide,snapshot=on -display none -serial stdio " +
                "-device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot -monitor none")
            { RedirectStandardOutput = true, RedirectStandardError = true };
            using var qemu = System.Diagnostics.Process.Start(psi)!;
            var qemuOut = qemu.StandardOutput.ReadToEndAsync();
            Assert.True(qemu.WaitForExit(180_000), "qemu-system-i386 did not finish");
            Assert.Equal(0, qemu.ExitCode);

            var serial = new MemoryStream();
            int status;
            using (var pc = new Pc(new MachineConfig { Disks = [new DiskConfig { Path = disk, Snapshot = true }], Timeout = 120 }, serial))
                status = pc.Run();
            Assert.Equal(0, status);
            var ours = Deterministic(System.Text.Encoding.ASCII.GetString(serial.ToArray())).ToList();
            var theirs = Deterministic(await qemuOut).ToList();
            Assert.Equal(4, theirs.Count);
            Assert.Equal(theirs, ours);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
