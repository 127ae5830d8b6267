using System.Diagnostics;
using System.Globalization;

namespace Emu.Machine.Tests;

/// <summary>Guest-visible time through the PC's timers while the CPU runs.</summary>
public class TimerTests
{
    [Fact]
    public void PitCountMovesBetweenBackToBackReads() => TestGuests.InTempDir("emu-timer-", dir =>
    {
        // 20000 latched reads take ~220k guest instructions: a clock that only moved between the machine's
        // slices of 50k instructions changed the count a handful of times; the PIT's 1.19 MHz changes it on
        // nearly every read at any speed the emulator runs.
        var (status, output) = TestGuests.RunWithSerial(TestGuests.BootDisk(dir, "pit-live.asm"));
        Assert.Equal(33, status);
        int changes = int.Parse(output.Trim()[^4..], NumberStyles.HexNumber);
        Assert.InRange(changes, 1000, 20000);
    });
}

/// <summary>Guest time stands still while the machine is paused or being saved, as QEMU's virtual clock does.</summary>
public class GuestTimeTests
{
    [Fact]
    public void GuestTimeStopsWhilePausedAndWhileSaving() => TestGuests.InTempDir("emu-pause-", dir =>
    {
        // A blank disk: SeaBIOS finds nothing to boot and waits; the machine runs until it is told to quit.
        string disk = Path.Combine(dir, "blank.qcow2");
        Emu.Block.Qcow2.Qcow2Creator.Create(disk, new Emu.Block.Qcow2.Qcow2CreateOptions { Size = 1 << 20 });
        using var pc = new Pc(new MachineConfig { Disks = [new DiskConfig { Path = disk }], Memory = 64, Serial = "none", Timeout = 120 }, Stream.Null);
        var run = Task.Run(pc.Run);
        T OnMachine<T>(Func<T> work)
        {
            var done = new TaskCompletionSource<T>();
            pc.Post(() => done.SetResult(work()));
            Assert.True(done.Task.Wait(TimeSpan.FromSeconds(60)), "the machine thread did not run the posted work");
            return done.Task.Result;
        }

        Thread.Sleep(200);
        long paused = OnMachine(() =>
        {
            pc.Paused = true;
            return pc.GuestTimeNs;
        });
        Thread.Sleep(300);
        Assert.Equal(paused, OnMachine(() => pc.GuestTimeNs));
        Assert.Equal(paused, pc.Bus.Clock.Now);

        OnMachine(() => pc.Paused = false);
        Thread.Sleep(100);
        long running = OnMachine(() => pc.GuestTimeNs);
        Assert.True(running > paused, $"guest time did not move after cont: {paused} -> {running}");

        // savevm on the running machine: the save (hundreds of milliseconds for 64 MiB of RAM) takes no guest
        // time, and the machine runs on afterwards.
        var (before, after, pausedAfter, took) = OnMachine(() =>
        {
            long t0 = pc.GuestTimeNs;
            var sw = Stopwatch.StartNew();
            new Snapshots(pc).Save("s");
            return (t0, pc.GuestTimeNs, pc.Paused, sw.Elapsed);
        });
        Assert.False(pausedAfter);
        Assert.True(after - before < 1_000_000, $"savevm took {took.TotalMilliseconds:F1} ms of host time and {(after - before) / 1e6:F1} ms of guest time");
        Thread.Sleep(100);
        Assert.True(OnMachine(() => pc.GuestTimeNs) > after, "guest time did not move after savevm");

        pc.RequestQuit();
        Assert.Equal(0, run.Result);
    });
}
