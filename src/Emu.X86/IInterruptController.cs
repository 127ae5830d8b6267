namespace Emu.X86;

/// <summary>The maskable interrupt input (INTR) of the CPU, typically a 8259 PIC pair.</summary>
public interface IInterruptController
{
    /// <summary>True while an interrupt request is pending at the CPU's INTR pin.</summary>
    bool HasInterrupt { get; }

    /// <summary>The interrupt acknowledge cycle: returns the vector number to deliver.</summary>
    int Acknowledge();
}
