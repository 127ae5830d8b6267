namespace Emu.Hardware.Pci;

/// <summary>PIIX4 IDE function (8086:7111) at 01.1: legacy-mode ATA (class 0x0101, prog-if 0x80) with its bus-master
/// registers at BAR4 and Ultra DMA/33 (the PIIX3 stops at multiword DMA 2).</summary>
/// <remarks>The task-file ports stay at their fixed legacy addresses; only the 16 bus-master ports move with BAR4.
/// Transfers take no emulated time, so the timing registers are plain storage for the guest's driver.</remarks>
public sealed class Piix4Ide : PciFunction
{
    private const int Bar4 = 4;
    private const int BusMasterPorts = 16;
    private readonly IIoHandler busMaster;
    private int mappedBase = -1;

    /// <summary>Creates the IDE function; <paramref name="busMaster"/> serves the 16 bus-master DMA ports wherever BAR4 points.</summary>
    public Piix4Ide(PciBus pci, IIoHandler busMaster)
        : base(pci, "piix4-ide", device: 1, function: 1, vendorId: 0x8086, deviceId: 0x7111, revision: 0x01, classCode: 0x010180)
    {
        this.busMaster = busMaster;
        DefineBar(Bar4, BusMasterPorts, io: true);
        // IDETIM (primary, secondary), SIDETIM: SeaBIOS sets the decode-enable bits here.
        SetWritable(0x40, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF);
        // UDMACTL (Ultra DMA enable per drive) and UDMATIM (cycle times): Linux's ata_piix programs them for UDMA.
        SetWritable(0x48, 0x0F);
        SetWritable(0x4A, 0x33, 0x33);
        CapturePowerOnState();
    }

    /// <summary>First bus-master port, or -1 while BAR4 is unmapped or I/O decoding is off.</summary>
    public int BusMasterBase => mappedBase;

    protected override void OnConfigWritten(int offset, int size)
    {
        if (Touches(offset, size, CommandRegister, 2) || Touches(offset, size, 0x10 + 4 * Bar4, 4))
            UpdateMapping();
    }

    protected override void OnConfigRestored() => UpdateMapping();

    private void UpdateMapping()
    {
        uint address = BarAddress(Bar4);
        int target = IoEnabled && address != 0 ? (int)address : -1;
        MapIo(ref mappedBase, target, BusMasterPorts, busMaster, IoWidth.All);
    }
}
