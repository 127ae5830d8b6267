using Emu.Hardware;
using Emu.Hardware.Ide;
using Emu.Hardware.Pci;

namespace Emu.Hardware.Tests;

/// <summary>Random guest port I/O against the whole device set: a guest may write anything anywhere, and no device may throw.</summary>
public class FuzzTests
{
    private static readonly ushort[] Ports =
    [
        0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1, 0x40, 0x41, 0x42, 0x43, 0x61, 0x70, 0x71, 0x60, 0x64, 0x92,
        0x3F8, 0x3F9, 0x3FA, 0x3FB, 0x3FC, 0x3FD, 0x3FE, 0x3FF, 0xE9, 0x402, 0xCF8, 0xCF9, 0xCFA, 0xCFC, 0xCFD, 0xCFE, 0xCFF,
        0x1F0, 0x1F1, 0x1F2, 0x1F3, 0x1F4, 0x1F5, 0x1F6, 0x1F7, 0x3F6, 0x170, 0x171, 0x172, 0x173, 0x174, 0x175, 0x176, 0x177, 0x376,
        0x510, 0x511, 0x514, 0x518, 0xB2, 0xB3, 0xAFE0, 0xAFE2, 0x600, 0x602, 0x604, 0x608, 0xC000, 0xC002, 0xC004, 0xC008, 0xC00A, 0xC00C,
        0x3C0, 0x3C1, 0x3C2, 0x3C4, 0x3C5, 0x3C7, 0x3C8, 0x3C9, 0x3CE, 0x3CF, 0x3D4, 0x3D5, 0x3DA, 0x3B4, 0x3B5, 0x1CE, 0x1CF,
    ];

    // Mostly the values that steer devices (small numbers, all-ones, command-like bytes), sometimes anything.
    private static uint Value(Random random) => random.Next(4) switch
    {
        0 => (uint)random.Next(16),
        1 => 0xFFFF_FFFF,
        2 => (uint)random.Next(256),
        _ => (uint)random.Next() | (uint)random.Next(2) << 31,
    };

    /// <summary>The full device set, wired like the machine layer does, with the PCI ranges the fuzzer aims at mapped.</summary>
    private sealed class Machine
    {
        public readonly Bus Bus = new(8 << 20);
        public readonly Pic8259 Pic;
        public readonly IdeController Ide;
        public readonly Vga Vga;

        public Machine()
        {
            Pic = new Pic8259(Bus);
            _ = new Pit8254(Bus);
            _ = new CmosRtc(Bus, new DateTime(2024, 6, 1));
            _ = new I8042(Bus);
            _ = new Port92(Bus);
            _ = new Uart16550(Bus, _ => { });
            _ = new DebugConsole(Bus, _ => { });
            _ = new DebugExit(Bus);
            var pci = new PciBus(Bus);
            _ = new I440fx(pci);
            _ = new Piix3Isa(pci);
            Ide = new IdeController(Bus);
            _ = new Piix4Ide(pci, Ide);
            _ = new Piix4Pm(pci);
            AcpiTables.Install(new FwCfg(Bus));
            Vga = new Vga(pci, [0x55, 0xAA, 0x01]);
            Ide.AttachDisk(0, 0, new DeferredDisk(Bus, 256));
            Ide.AttachCdrom(1, 0, new DeferredDisk(Bus, 64));
            Bus.Io.Out32(0xCF8, 0x8000_0920); Bus.Io.Out32(0xCFC, 0xC000);
            Bus.Io.Out32(0xCF8, 0x8000_0904); Bus.Io.Out16(0xCFC, 0x0005);
            Bus.Io.Out32(0xCF8, 0x8000_0B40); Bus.Io.Out32(0xCFC, 0x601);
            Bus.Io.Out32(0xCF8, 0x8000_0B80); Bus.Io.Out8(0xCFC, 0x01);
        }

        // savevm's precondition: no disk request in flight.
        public void Drain()
        {
            while (Ide.Busy)
                Bus.Events.RunPending();
        }

        public byte[] Save()
        {
            var stream = new MemoryStream();
            Bus.SaveState(new BinaryWriter(stream));
            return stream.ToArray();
        }
    }

    private static void Step(Machine machine, Random random, int i)
    {
        var bus = machine.Bus;
        ushort port = Ports[random.Next(Ports.Length)];
        int size = Sizes[random.Next(Sizes.Length)];
        switch (random.Next(16))
        {
            case 0:
                bus.Io.ReadString(port, size, new byte[size * random.Next(1, 600)]);
                break;
            case 1:
                var data = new byte[size * random.Next(1, 600)];
                random.NextBytes(data);
                bus.Io.WriteString(port, size, data);
                break;
            case < 9:
                bus.Io.Read(port, size);
                break;
            default:
                bus.Io.Write(port, size, Value(random));
                break;
        }
        if (random.Next(4) == 0)
        {
            // The VGA window: text, planar and banked VBE accesses depending on what the ports above selected.
            ulong address = 0xA_0000 + (ulong)random.Next(0x2_0000);
            uint value = Value(random);
            switch (size + (random.Next(2) == 0 ? 0 : 8))
            {
                case 1: bus.Memory.Read8(address); break;
                case 2: bus.Memory.Read16(address); break;
                case 4: bus.Memory.Read32(address); break;
                case 9: bus.Memory.Write8(address, (byte)value); break;
                case 10: bus.Memory.Write16(address, (ushort)value); break;
                default: bus.Memory.Write32(address, value); break;
            }
            if (random.Next(64) == 0)
                _ = machine.Vga.GetTextLines();
        }
        if (i % 64 == 0)
        {
            bus.Clock.Advance(random.Next(1, 2_000_000));
            bus.Events.RunPending();
        }
        if (machine.Pic.HasInterrupt && random.Next(4) == 0)
            machine.Pic.Acknowledge();
        if (bus.PendingRequest == MachineRequest.Reset)
        {
            bus.ClearRequest();
            bus.ResetDevices();
        }
    }

    private static readonly int[] Sizes = [1, 1, 1, 2, 4];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public void RandomPortIoNeverThrows(int seed)
    {
        var random = new Random(seed);
        var machine = new Machine();
        var ram = machine.Bus.Memory.Ram;
        for (int i = 0; i < ram.Length; i += 4)
            ram[i] = (byte)random.Next(); // PRD tables and fw_cfg descriptors read garbage
        for (int i = 0; i < 200_000; i++)
            Step(machine, random, i);
        machine.Drain();
        Assert.False(machine.Ide.Busy);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void SavedStateReloadsToIdenticalState(int seed)
    {
        var random = new Random(seed);
        var machine = new Machine();
        for (int round = 0; round < 40; round++)
        {
            for (int i = 0; i < 2_000; i++)
                Step(machine, random, i);
            machine.Drain();
            byte[] saved = machine.Save();
            var copy = new Machine();
            copy.Bus.LoadState(new BinaryReader(new MemoryStream(saved)));
            var original = Blobs(saved);
            foreach (var (name, blob) in Blobs(copy.Save()))
            {
                int differs = Enumerable.Range(0, Math.Min(blob.Length, original[name].Length))
                    .FirstOrDefault(i => blob[i] != original[name][i], -1);
                Assert.True(differs < 0 && blob.Length == original[name].Length,
                    $"round {round}: device '{name}' reloads differently at byte {differs}");
            }
        }
    }

    // Splits Bus.SaveState output into its per-device blobs (after the clock and A20 state).
    private static Dictionary<string, byte[]> Blobs(byte[] state)
    {
        var reader = new BinaryReader(new MemoryStream(state));
        var blobs = new Dictionary<string, byte[]> { ["(bus)"] = reader.ReadBytes(8 + 1 + 16) };
        int count = reader.ReadInt32();
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            blobs[name] = reader.ReadBytes(reader.ReadInt32());
        }
        return blobs;
    }
}
