using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Emu.Machine;

/// <summary>Where a guest spends host time (<c>emu run --profile</c>): while profiling, the machine runs the CPU in
/// short slices and charges each slice's host time, and any halt wait after it, to the linear address the guest
/// stopped at, as a sampling profiler does.</summary>
public sealed class GuestProfiler
{
    /// <summary>Instructions per slice while profiling: a sample every few hundred microseconds.</summary>
    public const int SliceInstructions = 10_000;

    /// <summary>Distinct addresses kept; samples at addresses first seen after that are reported together.</summary>
    const int MaxAddresses = 1 << 20;

    readonly Dictionary<uint, Tally> _byAddress = [];
    Tally _overflow;
    long _last = Stopwatch.GetTimestamp();

    struct Tally
    {
        public long Ticks;
        public long Samples;
    }

    /// <summary>Samples taken so far.</summary>
    public long Samples { get; private set; }

    /// <summary>Host seconds the samples cover.</summary>
    public double Seconds => _ticks / (double)Stopwatch.Frequency;

    long _ticks;

    /// <summary>Starts the clock afresh (the run begins now; nothing before it is charged to the guest).</summary>
    public void Restart() => _last = Stopwatch.GetTimestamp();

    /// <summary>Charges the host time since the last sample to the guest's linear address <paramref name="linear"/>.</summary>
    public void Record(uint linear)
    {
        long now = Stopwatch.GetTimestamp(), ticks = now - _last;
        _last = now;
        Samples++;
        _ticks += ticks;
        ref Tally t = ref _byAddress.Count < MaxAddresses
            ? ref CollectionsMarshal.GetValueRefOrAddDefault(_byAddress, linear, out _)
            : ref CollectionsMarshal.GetValueRefOrNullRef(_byAddress, linear);
        if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref t))
            t = ref _overflow;
        t.Ticks += ticks;
        t.Samples++;
    }

    /// <summary>Writes the profile, heaviest first: per symbol where <paramref name="symbols"/> names the address, else
    /// per 4 KiB page; then the hottest single addresses.</summary>
    public void WriteReport(TextWriter w, SymbolMap? symbols)
    {
        var rows = new Dictionary<string, Tally>();
        foreach (var (address, tally) in _byAddress)
            Add(rows, symbols?.Lookup(address) ?? Hex(address & ~0xFFFu) + "-" + Hex(address | 0xFFF), tally);
        if (_overflow.Samples > 0)
            Add(rows, $"(addresses first seen after {MaxAddresses} others)", _overflow);
        long total = Math.Max(1, rows.Values.Sum(t => t.Ticks));
        w.WriteLine(string.Format(CultureInfo.InvariantCulture,
            "# emu guest profile: {0} samples over {1:F2} s of host time (slices of {2} instructions)", Samples, Seconds, SliceInstructions));
        w.WriteLine("#   share   seconds   samples  symbol or page");
        foreach (var (name, tally) in rows.OrderByDescending(r => r.Value.Ticks).ThenBy(r => r.Key, StringComparer.Ordinal))
            WriteRow(w, tally, total, name);
        w.WriteLine();
        w.WriteLine($"# the {HotAddresses} hottest addresses");
        w.WriteLine("#   share   seconds   samples  address");
        foreach (var (address, tally) in _byAddress.OrderByDescending(r => r.Value.Ticks).ThenBy(r => r.Key).Take(HotAddresses))
            WriteRow(w, tally, total, symbols?.Lookup(address) is { } name ? $"{Hex(address)} {name}" : Hex(address));
    }

    const int HotAddresses = 50;

    static string Hex(uint address) => string.Create(CultureInfo.InvariantCulture, $"0x{address:x8}");

    static void WriteRow(TextWriter w, Tally tally, long total, string name) =>
        w.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0,8:F2}% {1,9:F3} {2,9}  {3}",
            100.0 * tally.Ticks / total, tally.Ticks / (double)Stopwatch.Frequency, tally.Samples, name));

    static void Add(Dictionary<string, Tally> rows, string key, Tally tally)
    {
        ref Tally row = ref CollectionsMarshal.GetValueRefOrAddDefault(rows, key, out _);
        row.Ticks += tally.Ticks;
        row.Samples += tally.Samples;
    }
}
