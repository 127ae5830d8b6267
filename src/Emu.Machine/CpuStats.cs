using System.Globalization;

namespace Emu.Machine;

/// <summary>Guest instructions retired over host seconds of running: the figures behind <c>info cpustats</c> and <c>emu run --cpu-stats</c>.</summary>
public readonly record struct CpuStats(ulong Instructions, double Seconds, long CompiledBlocks = 0)
{
    /// <summary>Average guest million instructions per host second (0 before any time has passed).</summary>
    public double Mips => Seconds > 0 ? Instructions / Seconds / 1e6 : 0;

    /// <summary>The one-line report both the monitor and the run command print.</summary>
    public override string ToString() => string.Format(CultureInfo.InvariantCulture,
        "instructions: {0}  host time: {1:F2} s  average: {2:F1} MIPS", Instructions, Seconds, Mips)
        + (CompiledBlocks > 0 ? string.Format(CultureInfo.InvariantCulture, "{0}blocks compiled to host code: {1} ({2:F2} s compiling)",
            Environment.NewLine, CompiledBlocks, Emu.X86.CompilerThread.BusyTime.TotalSeconds) : "");
}
