using Iced.Intel;

namespace Emu.X86;

// x87 instruction execution.
public sealed partial class Cpu
{
    readonly X87 _fpu;

    /// <summary>The x87 state.</summary>
    public X87 Fpu => _fpu;

    /// <summary>Executes an x87 instruction; false if the mnemonic is not an x87 one.</summary>
    bool ExecuteFpu(ref Instruction i) => false;
}
