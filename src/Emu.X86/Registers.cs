using System.Runtime.CompilerServices;

namespace Emu.X86;

/// <summary>The eight general registers in encoding order, stored inside the CPU object (no array indirection).</summary>
[InlineArray(8)]
struct Registers
{
    uint _eax;
}
