namespace Emu.Hardware.Pci;

/// <summary>PIIX3 PCI-to-ISA bridge (8086:7000) at 01.0: routes PCI interrupts PIRQA-D to ISA IRQs through registers 0x60-0x63.</summary>
public sealed class Piix3Isa : PciFunction
{
    private const int PirqRoute = 0x60;
    private const byte RouteDisabled = 0x80;
    private readonly uint[] pirqSources = new uint[4]; // per PIRQ: bitmask of PCI slots asserting it
    private ushort assertedIsaIrqs;

    /// <summary>Creates the ISA bridge at 01.0 (a multi-function device: IDE and power management follow).</summary>
    public Piix3Isa(PciBus pci)
        : base(pci, "piix3-isa", device: 1, function: 0, vendorId: 0x8086, deviceId: 0x7000, revision: 0x00,
            classCode: 0x060100, multiFunction: true)
    {
        for (int offset = 0x40; offset < 0x100; offset++)
            SetWritable(offset, 0xFF);
        for (int i = 0; i < 4; i++)
            Write8(PirqRoute + i, RouteDisabled);
        SetWritable(PirqRoute, 0x8F, 0x8F, 0x8F, 0x8F);
        Write8(0x4C, 0x4D); // ISA I/O recovery timer default
        Write8(0x69, 0x02); // top of memory default
        CapturePowerOnState();
    }

    /// <summary>Sets PCI interrupt pin <paramref name="pin"/> (1 = INTA) of the device in <paramref name="slot"/>.</summary>
    /// <remarks>Pins are swizzled onto PIRQA-D as (slot - 1 + pin - 1) mod 4, the wiring QEMU's pc has and SeaBIOS assumes.</remarks>
    public void SetPciIrq(int slot, int pin, bool level)
    {
        int pirq = (slot - 1 + pin - 1) & 3;
        uint bit = 1u << slot;
        pirqSources[pirq] = level ? pirqSources[pirq] | bit : pirqSources[pirq] & ~bit;
        UpdateIsaIrqs();
    }

    /// <summary>ISA IRQ that PIRQ <paramref name="pirq"/> (0-3) is routed to, or -1 when disabled.</summary>
    public int RoutedIrq(int pirq)
    {
        byte route = Read8(PirqRoute + pirq);
        return (route & RouteDisabled) != 0 ? -1 : route & 0x0F;
    }

    protected override void OnConfigWritten(int offset, int size)
    {
        if (Touches(offset, size, PirqRoute, 4))
            UpdateIsaIrqs();
    }

    protected override void OnConfigRestored() => UpdateIsaIrqs();

    protected override void SaveExtra(BinaryWriter writer)
    {
        foreach (uint sources in pirqSources)
            writer.Write(sources);
        writer.Write(assertedIsaIrqs);
    }

    protected override void LoadExtra(BinaryReader reader)
    {
        for (int i = 0; i < 4; i++)
            pirqSources[i] = reader.ReadUInt32();
        assertedIsaIrqs = reader.ReadUInt16();
    }

    protected override void ResetExtra() => Array.Clear(pirqSources);

    // Several PIRQs may share one ISA IRQ: the ISA line is the OR of the PIRQs routed to it.
    private void UpdateIsaIrqs()
    {
        ushort wanted = 0;
        for (int pirq = 0; pirq < 4; pirq++)
        {
            int irq = RoutedIrq(pirq);
            if (irq >= 0 && pirqSources[pirq] != 0)
                wanted |= (ushort)(1 << irq);
        }
        ushort changed = (ushort)(wanted ^ assertedIsaIrqs);
        assertedIsaIrqs = wanted;
        for (int irq = 0; irq < 16; irq++)
            if ((changed & (1 << irq)) != 0)
                Bus.SetIrq(irq, (wanted & (1 << irq)) != 0);
    }
}
