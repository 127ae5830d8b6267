namespace Emu.Hardware.Ide;

/// <summary>The PIIX IDE controller: primary (0x1F0/0x3F6, IRQ14) and secondary (0x170/0x376, IRQ15) channels plus bus-master DMA registers.</summary>
/// <remarks>QEMU puts <c>-cdrom</c> on the secondary master (channel 1, position 0).</remarks>
/// <remarks>Pass it to <see cref="Pci.Piix4Ide"/>, which maps its 16 bus-master ports wherever the guest puts BAR4.</remarks>
public sealed class IdeController : IDevice, IIoHandler
{
    private readonly IdeChannel[] channels;

    /// <summary>Creates both channels on their legacy ports and IRQs.</summary>
    public IdeController(Bus bus)
    {
        channels = [new IdeChannel(bus, 0x1F0, 0x3F6, 14), new IdeChannel(bus, 0x170, 0x376, 15)];
        bus.AddDevice(this);
    }

    public string Name => "ide";

    /// <summary>Channel 0 (primary) or 1 (secondary).</summary>
    public IdeChannel this[int channel] => channels[channel];

    /// <summary>True while any channel waits for its backend.</summary>
    public bool Busy => channels[0].Busy || channels[1].Busy;

    /// <summary>Attaches an ATA disk as master (0) or slave (1) of <paramref name="channel"/>.</summary>
    public AtaDrive AttachDisk(int channel, int position, IDiskBackend disk, string? serial = null)
    {
        var drive = new AtaDrive(disk, serial ?? DefaultSerial(channel, position));
        channels[channel].Attach(position, drive);
        return drive;
    }

    /// <summary>Attaches an ATAPI CD-ROM (with <paramref name="media"/> inserted, or empty) as master (0) or slave (1) of <paramref name="channel"/>.</summary>
    public AtapiCdrom AttachCdrom(int channel, int position, IDiskBackend? media, string? serial = null)
    {
        var drive = new AtapiCdrom(media, serial ?? DefaultSerial(channel, position));
        channels[channel].Attach(position, drive);
        return drive;
    }

    // QEMU numbers its drives' serials QM00001-QM00004 by position.
    private static string DefaultSerial(int channel, int position) => $"QM0000{channel * 2 + position + 1}";

    // Bus-master ports: offset 0-7 primary, 8-15 secondary, relative to BAR4.
    public uint Read(ushort port, int size) => channels[port >> 3 & 1].BusMaster.Read(port & 7, size);

    public void Write(ushort port, int size, uint value) => channels[port >> 3 & 1].BusMaster.Write(port & 7, size, value);

    public void Reset()
    {
        foreach (var channel in channels)
            channel.Reset();
    }

    public void Save(BinaryWriter writer)
    {
        foreach (var channel in channels)
            channel.Save(writer);
    }

    public void Load(BinaryReader reader)
    {
        foreach (var channel in channels)
            channel.Load(reader);
    }
}
