using System.Diagnostics;
using Emu.Block;
using Emu.Block.Qcow2;

namespace Emu.Machine.Tests;

/// <summary>However a run ends, what the guest wrote is in the image and the image is consistent.</summary>
public class RunEndingTests
{
    private static byte[] Assemble(string source)
    {
        string output = Path.GetTempFileName();
        var p = Process.Start(new ProcessStartInfo("nasm", $"-f bin -o {output} {source}") { RedirectStandardError = true })!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        var bytes = File.ReadAllBytes(output);
        File.Delete(output);
        return bytes;
    }

    [Fact]
    public void DebugExitRightAfterAnUnflushedWriteKeepsTheWrite()
    {
        string dir = Directory.CreateTempSubdirectory("emu-exit-").FullName;
        try
        {
            string disk = Path.Combine(dir, "d.qcow2");
            Qcow2Creator.Create(disk, new Qcow2CreateOptions { Size = 8 << 20 });
            using (var d = ImageOpener.Open(disk))
                d.Write(0, Assemble(Path.Combine(DemoGuestTests.ProjectRoot(), "roms", "tests", "write-exit.asm")));
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
