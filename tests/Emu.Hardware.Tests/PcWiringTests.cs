using Emu.Hardware;
using Emu.Hardware.Ide;
using Emu.Hardware.Pci;

namespace Emu.Hardware.Tests;

/// <summary>Builds the whole PC device set the way the machine layer does and walks through a firmware's first steps.</summary>
public class PcWiringTests
{
    private readonly Bus bus = new(32 << 20);
    private readonly List<byte> debugOutput = new();
    private readonly List<byte> serialOutput = new();
    private readonly Pic8259 pic;
    private readonly PciBus pci;

    public PcWiringTests()
    {
        pic = new Pic8259(bus);
        _ = new Pit8254(bus);
        var rtc = new CmosRtc(bus, new DateTime(2025, 1, 1));
        rtc.SetMemory(bus.Memory.LowRamSize, bus.Memory.HighRamSize);
        rtc.SetCpuCount(1);
        _ = new I8042(bus);
        _ = new Port92(bus);
        _ = new Uart16550(bus, serialOutput.Add);
        _ = new DebugConsole(bus, debugOutput.Add);
        _ = new DebugExit(bus);
        pci = new PciBus(bus);
        _ = new I440fx(pci);
        _ = new Piix3Isa(pci);
        var ide = new IdeController(bus);
        _ = new Piix4Ide(pci, ide);
        _ = new Piix4Pm(pci);
        _ = new Vga(pci, [0x55, 0xAA, 0x01]);
        AcpiTables.Install(new FwCfg(bus, cpuCount: 1));
        ide.AttachDisk(0, 0, new DeferredDisk(bus, 4096));
    }

    [Fact]
    public void PciScanFindsTheI440fxChipset()
    {
        var found = new List<string>();
        for (int devfn = 0; devfn < 256; devfn++)
        {
            bus.Io.Out32(0xCF8, 0x8000_0000u | (uint)devfn << 8);
            uint id = bus.Io.In32(0xCFC);
            if (id != 0xFFFF_FFFF)
                found.Add($"{devfn >> 3:x2}.{devfn & 7} {id & 0xFFFF:x4}:{id >> 16:x4}");
        }
        Assert.Equal(["00.0 8086:1237", "01.0 8086:7000", "01.1 8086:7111", "01.3 8086:7113", "02.0 1234:1111"], found);
    }

    [Fact]
    public void FirmwareEarlyStepsWork()
    {
        // fw_cfg signature, CMOS memory size, keyboard controller self-test, debug console.
        bus.Io.Out16(0x510, 0);
        Assert.Equal((byte)'Q', bus.Io.In8(0x511));
        bus.Io.Out8(0x70, 0x34);
        int low = bus.Io.In8(0x71);
        bus.Io.Out8(0x70, 0x35);
        Assert.Equal((32 - 16) * 16, low | bus.Io.In8(0x71) << 8);
        bus.Io.Out8(0x64, 0xAA);
        Assert.Equal(0x55, bus.Io.In8(0x60));
        bus.Io.Out8(0x402, (byte)'S');
        Assert.Equal([(byte)'S'], debugOutput);

        // TSC calibration style: PIT channel 2 one-shot polled through port 0x61 while time passes.
        bus.Io.Out8(0x61, 0x01);
        bus.Io.Out8(0x43, 0xB0);
        bus.Io.Out8(0x42, 0x9C);
        bus.Io.Out8(0x42, 0x2E); // 11932 ticks = 10 ms
        long start = bus.Clock.Now;
        while ((bus.Io.In8(0x61) & 0x20) == 0)
            bus.Clock.Advance(100_000);
        Assert.InRange(bus.Clock.Now - start, 10_000_000, 10_100_000);

        // Serial output and exit.
        bus.Io.Out8(0x3F8, (byte)'!');
        Assert.Equal([(byte)'!'], serialOutput);
        bus.Io.Out8(0xF4, 1);
        Assert.Equal(MachineRequest.Exit, bus.PendingRequest);
        Assert.Equal(3, bus.ExitStatus);
    }

    [Fact]
    public void WholeMachineStateRoundTripsAndResets()
    {
        bus.Io.Out8(0x70, 0x40);
        bus.Io.Out8(0x71, 0x99);
        var saved = new MemoryStream();
        bus.SaveState(new BinaryWriter(saved));
        bus.Io.Out8(0x71, 0x11);
        saved.Position = 0;
        bus.LoadState(new BinaryReader(saved));
        bus.Io.Out8(0x70, 0x40);
        Assert.Equal(0x99, bus.Io.In8(0x71));

        PicTests.Init(bus);
        bus.Io.Out8(0x21, 0x12);
        bus.ResetDevices();
        Assert.Equal(0, pic.Imr);
        Assert.Equal(14, bus.Devices.Count);
    }
}
