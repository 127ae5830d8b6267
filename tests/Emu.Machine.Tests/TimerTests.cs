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
