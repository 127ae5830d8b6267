using Emu.Hardware;
using Emu.Hardware.Pci;

namespace Emu.Hardware.Tests;

public class PciTests
{
    private readonly Bus bus = new(16 << 20);
    private readonly Pic8259 pic;
    private readonly PciBus pci;
    private readonly Piix3Isa isa;
    private readonly Piix4Ide ide;
    private readonly Piix4Pm pm;
    private readonly RecordingPorts busMaster = new();

    public PciTests()
    {
        pic = new Pic8259(bus);
        PicTests.Init(bus);
        pci = new PciBus(bus);
        _ = new I440fx(pci);
        isa = new Piix3Isa(pci);
        ide = new Piix4Ide(pci, busMaster);
        pm = new Piix4Pm(pci);
    }

    private static uint Address(int device, int function, int register) =>
        0x8000_0000u | (uint)(device << 11 | function << 8 | register);

    private uint ReadConfig32(int device, int function, int register)
    {
        bus.Io.Out32(0xCF8, Address(device, function, register));
        return bus.Io.In32(0xCFC);
    }

    private void WriteConfig32(int device, int function, int register, uint value)
    {
        bus.Io.Out32(0xCF8, Address(device, function, register));
        bus.Io.Out32(0xCFC, value);
    }

    private void WriteConfig8(int device, int function, int register, byte value)
    {
        bus.Io.Out32(0xCF8, Address(device, function, register & ~3));
        bus.Io.Out8((ushort)(0xCFC + (register & 3)), value);
    }

    private void WriteConfig16(int device, int function, int register, ushort value)
    {
        bus.Io.Out32(0xCF8, Address(device, function, register & ~3));
        bus.Io.Out16((ushort)(0xCFC + (register & 2)), value);
    }

    [Theory]
    [InlineData(0, 0, 0x1237_8086u, 0x0600_0002u)]
    [InlineData(1, 0, 0x7000_8086u, 0x0601_0000u)]
    [InlineData(1, 1, 0x7111_8086u, 0x0101_8001u)]
    [InlineData(1, 3, 0x7113_8086u, 0x0680_0003u)]
    public void VendorDeviceAndClass(int device, int function, uint ids, uint classRevision)
    {
        Assert.Equal(ids, ReadConfig32(device, function, 0x00));
        Assert.Equal(classRevision, ReadConfig32(device, function, 0x08));
        Assert.Equal(0x1100_1AF4u, ReadConfig32(device, function, 0x2C));
    }

    [Fact]
    public void IdeUltraDmaRegistersKeepTheirDefinedBits()
    {
        // PIIX4 UDMACTL (0x48): enable bits for four drives; UDMATIM (0x4A): a 2-bit cycle time per drive.
        WriteConfig32(1, 1, 0x48, 0xFFFF_FFFF);
        Assert.Equal(0x3333_000Fu, ReadConfig32(1, 1, 0x48));
        WriteConfig16(1, 1, 0x4A, 0x0201);
        Assert.Equal(0x0201_000Fu, ReadConfig32(1, 1, 0x48));
    }

    [Fact]
    public void HotplugPortsShowOneCpuAndNoPciEvents()
    {
        // What SeaBIOS's built-in DSDT/SSDT read on QEMU: the CPU present bitmap and the PCI hotplug status.
        Assert.Equal(0x01u, bus.Io.In32(0xAF00));
        Assert.Equal(0u, bus.Io.In32(0xAF04));
        Assert.Equal(0u, bus.Io.In8(0xAF1F));
        Assert.Equal(0u, bus.Io.In32(0xAE00)); // slots up
        Assert.Equal(0u, bus.Io.In32(0xAE04)); // slots down
        bus.Io.Out32(0xAE08, 0xFFFF_FFFF);     // eject: ignored
        Assert.Equal(0u, bus.Io.In32(0xAE08));
    }

    [Fact]
    public void EmptySlotsAndOtherBusesReadAllOnes()
    {
        Assert.Equal(0xFFFF_FFFFu, ReadConfig32(5, 0, 0));
        bus.Io.Out32(0xCF8, 0x8001_0000);
        Assert.Equal(0xFFFF_FFFFu, bus.Io.In32(0xCFC));
        bus.Io.Out32(0xCF8, 0x0000_0000); // enable bit clear
        Assert.Equal(0xFFFF_FFFFu, bus.Io.In32(0xCFC));
    }

    [Fact]
    public void AddressRegisterReadsBackAndSubWordDataAccess()
    {
        bus.Io.Out32(0xCF8, Address(0, 0, 0) | 3);
        Assert.Equal(Address(0, 0, 0), bus.Io.In32(0xCF8));
        Assert.Equal(0x1237, bus.Io.In16(0xCFE));
        Assert.Equal(0x12, bus.Io.In8(0xCFF));
    }

    [Fact]
    public void IsaBridgeIsMultiFunction()
    {
        Assert.Equal(0x80u, ReadConfig32(1, 0, 0x0C) >> 16 & 0xFF);
        Assert.Equal(0x00u, ReadConfig32(0, 0, 0x0C) >> 16 & 0xFF);
    }

    [Fact]
    public void Bar4SizingAndBusMasterMapping()
    {
        WriteConfig32(1, 1, 0x20, 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_FFF1u, ReadConfig32(1, 1, 0x20)); // 16 bytes of I/O
        WriteConfig32(1, 1, 0x20, 0xC000);
        Assert.Equal(0xC001u, ReadConfig32(1, 1, 0x20));
        Assert.Equal(-1, ide.BusMasterBase); // I/O decoding still off
        WriteConfig16(1, 1, 0x04, 0x0005);
        Assert.Equal(0xC000, ide.BusMasterBase);
        bus.Io.Out8(0xC002, 0x42);
        Assert.Equal((ushort)0xC002, busMaster.LastPort);
        WriteConfig32(1, 1, 0x20, 0xD000);
        Assert.Equal(0xFF, bus.Io.In8(0xC002)); // old range released
        Assert.Equal(0xD000, ide.BusMasterBase);
    }

    [Fact]
    public void UnimplementedBarsAndReadOnlyIdsIgnoreWrites()
    {
        WriteConfig32(1, 1, 0x10, 0xFFFF_FFFF);
        Assert.Equal(0u, ReadConfig32(1, 1, 0x10));
        WriteConfig32(0, 0, 0x00, 0);
        Assert.Equal(0x1237_8086u, ReadConfig32(0, 0, 0x00));
    }

    [Fact]
    public void PamControlsShadowRam()
    {
        var rom = new byte[0x1_0000];
        rom[0] = 0xAA;
        bus.Memory.AddRom(0xF_0000, rom);
        Assert.Equal(0xAA, bus.Memory.Read8(0xF_0000));

        WriteConfig8(0, 0, 0x59, 0x20); // write-only to RAM: copy the BIOS into shadow
        bus.Memory.Write8(0xF_0000, 0x55);
        Assert.Equal(0xAA, bus.Memory.Read8(0xF_0000));
        WriteConfig8(0, 0, 0x59, 0x10); // read from RAM, writes go to ROM (dropped)
        Assert.Equal(0x55, bus.Memory.Read8(0xF_0000));
        bus.Memory.Write8(0xF_0000, 0x66);
        Assert.Equal(0x55, bus.Memory.Read8(0xF_0000));
        Assert.Equal(-1, bus.Memory.RamOffset(0xF_0000, write: true));

        WriteConfig8(0, 0, 0x5A, 0x30); // PAM1 high nibble: 0xC4000-0xC7FFF read/write RAM
        bus.Memory.Write8(0xC_4000, 0x77);
        Assert.Equal(0x77, bus.Memory.Read8(0xC_4000));
        Assert.Equal(0xFF, bus.Memory.Read8(0xC_0000)); // low half still unassigned
    }

    [Fact]
    public void SmramOpenExposesRamUnderVga()
    {
        Assert.Equal(0x02u, ReadConfig32(0, 0, 0x70) >> 16 & 0xFF);
        WriteConfig8(0, 0, 0x72, 0x4A);
        Assert.True(bus.Memory.SmramOpen);
        bus.Memory.Write8(0xA_0000, 0x12);
        Assert.Equal(0x12, bus.Memory.Read8(0xA_0000));
        WriteConfig8(0, 0, 0x72, 0x1A); // close and lock
        Assert.False(bus.Memory.SmramOpen);
        WriteConfig8(0, 0, 0x72, 0x4A); // locked: cannot reopen
        Assert.False(bus.Memory.SmramOpen);
    }

    [Fact]
    public void PirqRoutingDrivesIsaIrq()
    {
        Assert.Equal(-1, isa.RoutedIrq(0));
        WriteConfig32(1, 0, 0x60, 0x0B0B_0A0A);
        bus.Io.Out8(0x4D1, 0x0C); // IRQ10/11 level, as SeaBIOS sets
        isa.SetPciIrq(slot: 3, pin: 1, level: true); // slot 3 INTA -> PIRQC -> IRQ11
        Assert.True(bus.IrqLevel(11));
        Assert.True(pic.HasInterrupt);
        Assert.Equal(0x73, pic.Acknowledge());
        isa.SetPciIrq(slot: 3, pin: 1, level: false);
        Assert.False(bus.IrqLevel(11));
        isa.SetPciIrq(slot: 2, pin: 1, level: true);  // slot 2 INTA -> PIRQB -> IRQ10
        Assert.True(bus.IrqLevel(10));
    }

    [Fact]
    public void AcpiPmIoMappingTimerAndPowerOff()
    {
        WriteConfig32(1, 3, 0x40, 0x601);
        WriteConfig8(1, 3, 0x80, 0x01);
        Assert.Equal(0x600, pm.IoBase);
        Assert.Equal(0x601u, ReadConfig32(1, 3, 0x40));

        bus.Clock.Advance(1_000_000_000);
        uint ticks = bus.Io.In32(0x608);
        Assert.Equal(3_579_545u, ticks);

        bus.Io.Out16(0x604, 0x0001);
        Assert.Equal(MachineRequest.None, bus.PendingRequest);
        bus.Io.Out16(0x604, 0x2000 | 5 << 10); // another sleep type: not S5
        Assert.Equal(MachineRequest.None, bus.PendingRequest);
        bus.Io.Out16(0x604, 0x2000);            // SeaBIOS's APM power-off
        Assert.Equal(MachineRequest.PowerOff, bus.PendingRequest);
        Assert.Equal(0, bus.Io.In16(0x604) & 0x2000);
    }

    [Fact]
    public void SmmReportedAsAlreadyInitialised()
    {
        Assert.Equal(0x0200_0000u, ReadConfig32(1, 3, 0x58) & 0x0200_0000u);
    }

    [Fact]
    public void AcpiEnableThroughApmControlPort()
    {
        WriteConfig32(1, 3, 0x40, 0xB001);
        WriteConfig8(1, 3, 0x80, 0x01);
        bus.Io.Out8(0xB2, 0xF1);
        Assert.Equal(1, bus.Io.In16(0xB004) & 1);
        bus.Io.Out8(0xB2, 0xF0);
        Assert.Equal(0, bus.Io.In16(0xB004) & 1);
    }

    [Fact]
    public void PowerButtonRaisesSciWhenEnabled()
    {
        WriteConfig32(1, 3, 0x40, 0x601);
        WriteConfig8(1, 3, 0x80, 0x01);
        bus.Io.Out16(0x602, 0x0100);
        pm.PressPowerButton();
        Assert.True(bus.IrqLevel(9));
        Assert.Equal(0x0100, bus.Io.In16(0x600) & 0x0100);
        bus.Io.Out16(0x600, 0x0100); // write-one-to-clear
        Assert.False(bus.IrqLevel(9));
    }

    [Fact]
    public void GpeBlockAtAfe0()
    {
        Assert.Equal(0u, bus.Io.In32(0xAFE0));
        bus.Io.Out16(0xAFE2, 0x0003);
        Assert.Equal(0x0003, bus.Io.In16(0xAFE2));
        bus.Io.Out16(0xAFE0, 0xFFFF); // status is write-one-to-clear: stays zero
        Assert.Equal(0x0003_0000u, bus.Io.In32(0xAFE0));
    }

    [Fact]
    public void ResetControlRegister()
    {
        bus.Io.Out8(0xCF9, 0x02);
        Assert.Equal(MachineRequest.None, bus.PendingRequest);
        Assert.Equal(0x02, bus.Io.In8(0xCF9));
        bus.Io.Out8(0xCF9, 0x06);
        Assert.Equal(MachineRequest.Reset, bus.PendingRequest);
    }

    [Fact]
    public void ResetRestoresPowerOnConfigAndMappings()
    {
        WriteConfig32(1, 1, 0x20, 0xC000);
        WriteConfig16(1, 1, 0x04, 0x0001);
        WriteConfig8(0, 0, 0x59, 0x30);
        bus.ResetDevices();
        Assert.Equal(-1, ide.BusMasterBase);
        Assert.Equal(0x1u, ReadConfig32(1, 1, 0x20));
        Assert.Equal(-1, bus.Memory.RamOffset(0xF_0000, write: false));
    }

    [Fact]
    public void SaveAndLoadReappliesMappings()
    {
        WriteConfig32(1, 1, 0x20, 0xC000);
        WriteConfig16(1, 1, 0x04, 0x0001);
        WriteConfig8(0, 0, 0x59, 0x30);
        var saved = new MemoryStream();
        bus.SaveState(new BinaryWriter(saved));

        var other = new Bus(16 << 20);
        _ = new Pic8259(other);
        var otherPci = new PciBus(other);
        _ = new I440fx(otherPci);
        _ = new Piix3Isa(otherPci);
        var otherIde = new Piix4Ide(otherPci, new RecordingPorts());
        _ = new Piix4Pm(otherPci);
        saved.Position = 0;
        other.LoadState(new BinaryReader(saved));
        Assert.Equal(0xC000, otherIde.BusMasterBase);
        Assert.Equal(0xF_0000, other.Memory.RamOffset(0xF_0000, write: true));
    }

    private sealed class RecordingPorts : IIoHandler
    {
        public ushort LastPort { get; private set; }

        public uint Read(ushort port, int size) => 0;

        public void Write(ushort port, int size, uint value) => LastPort = port;
    }
}
