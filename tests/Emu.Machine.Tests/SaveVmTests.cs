using System.Text;
using Emu.Block;
using Emu.Block.Qcow2;

namespace Emu.Machine.Tests;

/// <summary>A serial sink that runs an action once the output contains a marker.</summary>
internal sealed class WatchingStream(string marker, Action onMarker) : MemoryStream
{
    private bool _fired;

    public override void Write(byte[] buffer, int offset, int count)
    {
        base.Write(buffer, offset, count);
        Check(count);
    }

    public override void WriteByte(byte value)
    {
        base.WriteByte(value);
        Check(1);
    }

    // Only the bytes just written and the marker's length before them are searched: a long boot log stays cheap.
    private void Check(int written)
    {
        if (_fired)
            return;
        int from = (int)Math.Max(0, Length - written - marker.Length);
        if (Encoding.ASCII.GetString(GetBuffer(), from, (int)Length - from).Contains(marker))
        {
            _fired = true;
            onMarker();
        }
    }

    public string Text => Encoding.ASCII.GetString(ToArray());
}

/// <summary>Runs a machine that saves itself (monitor savevm) once its serial output shows a marker, and a new
/// machine that loads that snapshot and runs on.</summary>
internal static class SaveVmRuns
{
    /// <summary>Exit status, serial transcript and monitor output of a run that saves snapshot <paramref name="name"/>
    /// when <paramref name="marker"/> appears.</summary>
    public static (int Status, string Serial, string Monitor) SaveAt(MachineConfig cfg, string marker, string name)
    {
        Pc? pc = null;
        var monitorOut = new StringWriter();
        var serial = new WatchingStream(marker, () =>
            pc!.Post(() => new Monitor(pc, TextReader.Null, monitorOut).Execute("savevm " + name)));
        int status;
        using (pc = new Pc(cfg, serial))
            status = pc.Run();
        return (status, serial.Text, monitorOut.ToString());
    }

    /// <summary>Exit status and serial transcript of a new machine resumed from snapshot <paramref name="name"/>.</summary>
    public static (int Status, string Serial) Resume(MachineConfig cfg, string name)
    {
        var resumed = new MemoryStream();
        int status;
        using (var pc = new Pc(cfg with { LoadVm = name }, resumed))
        {
            new Snapshots(pc).Load(name);
            status = pc.Run();
        }
        return (status, Encoding.ASCII.GetString(resumed.ToArray()));
    }
}

/// <summary>savevm in the middle of the demo's disk benchmark, loadvm in a fresh machine, and the run finishes correctly.</summary>
public class SaveVmTests
{
    private static string DemoDisk(string dir)
    {
        string disk = Path.Combine(dir, "demo.qcow2");
        DemoGuest.EnsureDisk(disk, DemoGuestTests.ProjectRoot());
        return disk;
    }

    [Fact]
    public void SaveMidBenchmarkThenLoadInANewMachineFinishesTheRun()
    {
        string dir = Directory.CreateTempSubdirectory("emu-savevm-").FullName;
        try
        {
            string disk = DemoDisk(dir);
            var cfg = new MachineConfig { Disks = [new DiskConfig { Path = disk, Format = "qcow2" }], Timeout = 120 };
            var (first, serial, monitor) = SaveVmRuns.SaveAt(cfg, "DMA sequential write", "mid");
            Assert.True(first == 0, serial);
            Assert.DoesNotContain("Error", monitor);

            using (var img = (Qcow2Driver)ImageOpener.Open(disk, new ImageOptions { ReadOnly = true }))
            {
                var snap = Assert.Single(img.Snapshots);
                Assert.Equal("mid", snap.Name);
                Assert.True(snap.VmStateSize > 0 && snap.VmStateSize < 16 << 20, $"vm state {snap.VmStateSize} bytes");
                Assert.True(snap.VmClockNs > 0);
            }
            var check = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("qemu-img", $"check {disk}") { RedirectStandardOutput = true })!;
            check.WaitForExit();
            Assert.Equal(0, check.ExitCode);

            // A new machine resumes from the snapshot: it continues the benchmark where it was and finishes it.
            var (second, text) = SaveVmRuns.Resume(cfg, "mid");
            Assert.True(second == 0, text);
            Assert.DoesNotContain("Emu demo guest", text);
            Assert.Contains("DMA sequential read 16 MiB", text);
            Assert.Contains("verify 1 MiB (DMA write, PIO read): OK checksum 45DC0000", text);
            Assert.Contains("demo finished", text);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void CorruptOrMismatchedStateIsRefusedAndTheMachineIsUntouched()
    {
        string dir = Directory.CreateTempSubdirectory("emu-savevm-bad-").FullName;
        try
        {
            string disk = DemoDisk(dir);
            var cfg = new MachineConfig { Disks = [new DiskConfig { Path = disk, Format = "qcow2" }], Timeout = 60 };
            using (var pc = new Pc(cfg, Stream.Null))
                new Snapshots(pc).Save("s");
            // A machine with a different RAM size refuses it.
            using (var other = new Pc(cfg with { Memory = 64 }, Stream.Null))
            {
                var e = Assert.Throws<MachineException>(() => new Snapshots(other).Load("s"));
                Assert.Contains("RAM", e.Message);
            }
            // Flip one byte of the saved state: the checksum catches it and the disk is not reverted.
            using (var img = (Qcow2Driver)ImageOpener.Open(disk))
            {
                var b = new byte[1];
                img.ReadSnapshotVmState("s", 100, b);
                img.ApplySnapshot("s");
                img.ReadVmState(100, b);
                b[0] ^= 0xff;
                img.WriteVmState(100, b);
                img.DeleteSnapshot("s");
                long size = 0;
                img.CreateSnapshot("s", 1 << 20);
                size = img.FindSnapshot("s")!.VmStateSize;
                Assert.True(size > 0);
                img.Write(0, new byte[] { 0x42 });
            }
            using (var pc = new Pc(cfg, Stream.Null))
            {
                var e = Assert.Throws<MachineException>(() => new Snapshots(pc).Load("s"));
                Assert.Matches("checksum|truncated|magic", e.Message);
                var sector = new byte[1];
                pc.Disks[0].Driver.Read(0, sector);
                Assert.Equal(0x42, sector[0]);
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

/// <summary>A power cut at every host write of savevm leaves either no snapshot or a complete one, and never a corrupt image.</summary>
[Collection("host-write faults")]
public class SaveVmPowerCutTests
{
    [Fact]
    public void PowerCutAtEachWriteNeverLeavesABrokenSnapshot()
    {
        string dir = Directory.CreateTempSubdirectory("emu-powercut-").FullName;
        try
        {
            string pristine = Path.Combine(dir, "pristine.qcow2");
            DemoGuest.EnsureDisk(pristine, DemoGuestTests.ProjectRoot());
            string disk = Path.Combine(dir, "disk.qcow2");
            int failedAt = 0;
            for (int cut = 1; cut < 200; cut++)
            {
                File.Copy(pristine, disk, true);
                var cfg = new MachineConfig { Disks = [new DiskConfig { Path = disk, Format = "qcow2" }] };
                int writes = 0;
                bool cutHappened = false;
                // Every write from the cut on fails, including the flush when the machine is torn down: a power cut.
                HostFile.FailWrite = (path, _) => path == disk && ++writes >= cut && (cutHappened = true);
                try
                {
                    using var pc = new Pc(cfg, Stream.Null);
                    new Snapshots(pc).Save("snap");
                }
                catch (Exception e) when (e is IOException or Emu.Block.BlockException or MachineException)
                {
                }
                finally
                {
                    HostFile.FailWrite = null;
                }
                var check = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("qemu-img", $"check -U {disk}") { RedirectStandardOutput = true, RedirectStandardError = true })!;
                string report = check.StandardOutput.ReadToEnd() + check.StandardError.ReadToEnd();
                check.WaitForExit();
                Assert.True(check.ExitCode is 0 or 3, $"cut at write {cut}: qemu-img check {check.ExitCode}\n{report}");
                using (var pc = new Pc(new MachineConfig { Disks = [new DiskConfig { Path = disk, Format = "qcow2" }] }, Stream.Null))
                {
                    var q = (Emu.Block.Qcow2.Qcow2Driver)pc.Disks[0].Driver;
                    if (q.FindSnapshot("snap") != null)
                        new Snapshots(pc).Load("snap");
                }
                if (!cutHappened)
                {
                    failedAt = cut;
                    break;
                }
            }
            Assert.True(failedAt > 3, "savevm should take several writes");
        }
        finally
        {
            HostFile.FailWrite = null;
            Directory.Delete(dir, true);
        }
    }
}
