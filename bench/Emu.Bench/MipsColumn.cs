using System.Collections.Concurrent;
using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Emu.Bench;

/// <summary>Summary column: guest instructions retired per operation and MIPS = instructions / mean time.</summary>
/// <remarks>Guest runs are deterministic, so the host process counts each workload's instructions once by running it.</remarks>
public sealed class MipsColumn(bool mips) : IColumn
{
    static readonly ConcurrentDictionary<string, ulong> Counts = new();

    /// <summary>Instructions one run of the named workload retires.</summary>
    public static ulong InstructionsOf(string workload) => Counts.GetOrAdd(workload, n => CpuWorkloads.Create(n).RunChecked());

    /// <inheritdoc/>
    public string Id => mips ? "GuestMips" : "GuestInstructions";
    /// <inheritdoc/>
    public string ColumnName => mips ? "MIPS" : "Guest instr";
    /// <inheritdoc/>
    public bool AlwaysShow => true;
    /// <inheritdoc/>
    public ColumnCategory Category => ColumnCategory.Custom;
    /// <inheritdoc/>
    public int PriorityInCategory => mips ? 1 : 0;
    /// <inheritdoc/>
    public bool IsNumeric => true;
    /// <inheritdoc/>
    public UnitType UnitType => UnitType.Dimensionless;
    /// <inheritdoc/>
    public string Legend => mips ? "Guest million instructions per second (guest instructions / mean)" : "Guest instructions retired per operation";
    /// <inheritdoc/>
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    /// <inheritdoc/>
    public bool IsAvailable(Summary summary) => true;
    /// <inheritdoc/>
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    /// <inheritdoc/>
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        ulong count = InstructionsOf(benchmarkCase.Descriptor.WorkloadMethod.Name);
        if (!mips) return count.ToString(CultureInfo.InvariantCulture);
        double? meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
        return meanNs is > 0 ? (count / meanNs.Value * 1000).ToString("F1", CultureInfo.InvariantCulture) : "NA";
    }

    /// <inheritdoc/>
    public override string ToString() => ColumnName;
}
