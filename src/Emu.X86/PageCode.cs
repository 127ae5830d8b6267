using Iced.Intel;

namespace Emu.X86;

/// <summary>The host code of a code page's hot blocks, built by <see cref="PageCompiler"/>: one method that enters at
/// any of its blocks and follows branches between them without returning to the run loop.</summary>
sealed class PageCode(OpForm[] forms, Instruction[] code, bool[] entries, int[] counts, uint[] offsets)
{
    /// <summary>The page's decoded forms and instructions when it was compiled; handler calls take their operands from
    /// here.</summary>
    public readonly OpForm[] Forms = forms;
    public readonly Instruction[] Code = code;

    /// <summary>Per instruction index: the code can be entered there.</summary>
    public readonly bool[] Entries = entries;

    /// <summary>Per entry: instructions in its block, which the remaining budget must cover.</summary>
    public readonly int[] Counts = counts;

    /// <summary>Per instruction index: its offset in the page.</summary>
    public readonly uint[] Offsets = offsets;

    /// <summary>Runs from an entry until the code leaves the page, leaves its compiled blocks, or must return.</summary>
    public Action<Cpu, int>? Run;
}
