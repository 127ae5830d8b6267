using System.Diagnostics;
using System.Text.Json;

namespace Emu.Machine.Tests;

/// <summary>ATA TRIM through the whole stack: IDE ports of a real machine, its block device, the qcow2 driver; the
/// image is then inspected with the real qemu-img and qemu-io.</summary>
public class TrimTests
{
    private const ushort Error = 0x1F1, Count = 0x1F2, LbaLow = 0x1F3, LbaMid = 0x1F4, LbaHigh = 0x1F5;
    private const ushort Device = 0x1F6, Command = 0x1F7, BmBase = 0xC000;
    private const uint Prd = 0x8000, Payload = 0x9000;

    private static (int ExitCode, string Out) Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output + err.Result);
    }

    // Issues DATA SET MANAGEMENT / TRIM for the entries by DMA and waits for the disk to finish; returns the status.
    private static byte Trim(Pc pc, params (long Lba, int Sectors)[] ranges)
    {
        var io = pc.Bus.Io;
        var ram = pc.Bus.Memory.Ram;
        // PIIX4 IDE function 00:01.1: BAR4 at BmBase, I/O and bus mastering on.
        io.Out32(0xCF8, 0x8000_0920);
        io.Out32(0xCFC, BmBase);
        io.Out32(0xCF8, 0x8000_0904);
        io.Out16(0xCFC, 0x0005);
        ram.AsSpan((int)Payload, 512).Clear();
        for (int i = 0; i < ranges.Length; i++)
            BitConverter.TryWriteBytes(ram.AsSpan((int)Payload + 8 * i), (ulong)ranges[i].Lba | (ulong)ranges[i].Sectors << 48);
        BitConverter.TryWriteBytes(ram.AsSpan((int)Prd), Payload);
        BitConverter.TryWriteBytes(ram.AsSpan((int)Prd + 4), 0x8000_0200u);
        io.Out8(BmBase, 0x00);                   // stop the engine a previous command left active
        io.Out8((ushort)(BmBase + 2), 0x06);     // clear its interrupt and error bits
        io.Out32((ushort)(BmBase + 4), Prd);
        io.Out8(Device, 0xE0);
        io.Out8(Error, 0);
        io.Out8(Error, 0x01);
        io.Out8(Count, 0);
        io.Out8(Count, 1);
        foreach (var port in new[] { LbaLow, LbaMid, LbaHigh, LbaLow, LbaMid, LbaHigh })
            io.Out8(port, 0);
        io.Out8(Command, 0x06);
        io.Out8(BmBase, 0x01);
        var until = DateTime.UtcNow.AddSeconds(60);
        while ((io.In8(0x3F6) & 0x80) != 0 && DateTime.UtcNow < until)
        {
            pc.Bus.Events.WaitForWork(TimeSpan.FromMilliseconds(10));
            pc.Bus.Events.RunPending();
        }
        return io.In8(Command);
    }

    [Fact]
    public void TrimOnQcow2DiskFreesWholeClustersAndLeavesTheImageClean()
    {
        string dir = Directory.CreateTempSubdirectory("emu-trim-").FullName;
        try
        {
            string disk = Path.Combine(dir, "disk.qcow2");
            Assert.Equal(0, Run("qemu-img", "create", "-q", "-f", "qcow2", disk, "16M").ExitCode);
            Assert.Equal(0, Run("qemu-io", "-c", "write -P 0xab 0 4M", disk).ExitCode);
            var cfg = new MachineConfig { Disks = [new DiskConfig { Path = disk, Format = "qcow2" }] };
            using (var pc = new Pc(cfg, Stream.Null))
            {
                // 1 MiB at 1 MiB (16 whole clusters), plus a lone sector at 0 that covers no whole cluster.
                Assert.Equal(0x50, Trim(pc, (2048, 2048), (0, 1)));
                // A range running past the 16 MiB end aborts.
                Assert.Equal(0x41, Trim(pc, (32760, 16)));
                pc.DrainDisks();
            }

            var map = JsonDocument.Parse(Run("qemu-img", "map", "--output=json", disk).Out).RootElement;
            var trimmed = map.EnumerateArray().Single(e => e.GetProperty("start").GetInt64() == 1 << 20);
            Assert.Equal(1 << 20, trimmed.GetProperty("length").GetInt64());
            Assert.False(trimmed.GetProperty("data").GetBoolean());
            Assert.True(trimmed.GetProperty("zero").GetBoolean());
            Assert.True(map.EnumerateArray().Single(e => e.GetProperty("start").GetInt64() == 0).GetProperty("data").GetBoolean());

            var check = Run("qemu-img", "check", "--output=json", disk);
            Assert.True(check.ExitCode == 0, check.Out);
            var report = JsonDocument.Parse(check.Out).RootElement;
            Assert.Equal(48, report.GetProperty("allocated-clusters").GetInt32()); // 64 written, 16 freed
            var read = Run("qemu-io", "-c", "read -P 0xab 0 1M", "-c", "read -P 0 1M 1M", "-c", "read -P 0xab 2M 2M", disk);
            Assert.Equal(0, read.ExitCode);
            Assert.DoesNotContain("verification failed", read.Out);
            Assert.Contains("read 1048576/1048576 bytes at offset 1048576", read.Out);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
