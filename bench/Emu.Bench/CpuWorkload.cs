namespace Emu.Bench;

/// <summary>A guest program ready to run, and the result the host expects it to report.</summary>
public sealed class CpuWorkload(string name, GuestMachine machine, uint expected, Func<GuestMachine, bool>? memoryCheck = null)
{
    /// <summary>Benchmark name (matches the benchmark method).</summary>
    public string Name { get; } = name;

    /// <summary>The machine holding the program and its data.</summary>
    public GuestMachine Machine { get; } = machine;

    /// <summary>Runs the guest once; returns the instructions retired.</summary>
    public ulong Run() => Machine.Run();

    /// <summary>Runs the guest once and throws unless its result (and memory, where checked) is what the host computed; returns the instructions retired.</summary>
    public ulong RunChecked()
    {
        ulong count = Run();
        if (Machine.Result != expected)
            throw new InvalidOperationException($"{Name}: guest reported {Machine.Result:X8}, expected {expected:X8}");
        if (memoryCheck != null && !memoryCheck(Machine))
            throw new InvalidOperationException($"{Name}: guest memory differs from the host's reference");
        return count;
    }
}
