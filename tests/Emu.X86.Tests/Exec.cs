using Iced.Intel;

namespace Emu.X86.Tests;

/// <summary>Runs a 16-bit real-mode snippet followed by HLT and exposes the resulting CPU.</summary>
static class Exec
{
    public const uint Arith = Flags.CF | Flags.PF | Flags.AF | Flags.ZF | Flags.SF | Flags.OF;

    public static Cpu Run(Action<Assembler> body)
    {
        var m = new TestMachine().RunReal(a => { body(a); a.hlt(); });
        Assert.True(m.Cpu.Halted, "snippet did not reach HLT");
        return m.Cpu;
    }

    /// <summary>Formats arithmetic flags as letters so a failing assertion is readable.</summary>
    public static string F(uint flags)
    {
        var s = "";
        if ((flags & Flags.OF) != 0) s += "O";
        if ((flags & Flags.SF) != 0) s += "S";
        if ((flags & Flags.ZF) != 0) s += "Z";
        if ((flags & Flags.AF) != 0) s += "A";
        if ((flags & Flags.PF) != 0) s += "P";
        if ((flags & Flags.CF) != 0) s += "C";
        return s;
    }
}
