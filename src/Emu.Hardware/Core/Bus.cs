namespace Emu.Hardware;

/// <summary>Receives the levels of the ISA interrupt lines (a PIC, later an I/O APIC).</summary>
public interface IIrqSink
{
    /// <summary>Sets line <paramref name="irq"/> (0-15) to <paramref name="level"/>.</summary>
    void SetIrq(int irq, bool level);
}

/// <summary>What the CPU needs from the interrupt controller.</summary>
public interface IInterruptController
{
    /// <summary>True when an unmasked interrupt is waiting for the CPU (check with IF set).</summary>
    bool HasInterrupt { get; }

    /// <summary>Performs the INTA cycle: returns the vector and marks the interrupt in service.</summary>
    int Acknowledge();
}

/// <summary>A request from the guest to the machine loop.</summary>
public enum MachineRequest
{
    None,
    Reset,
    PowerOff,
    Exit,
}

/// <summary>The machine bus: I/O ports, memory map, IRQ lines, clock and scheduler, event loop, and the device list.</summary>
public sealed class Bus
{
    private readonly List<IIrqSink> irqSinks = new();
    private readonly List<IDevice> devices = new();
    private readonly bool[] irqLevels = new bool[16];

    /// <summary>Creates a bus with <paramref name="ramSize"/> bytes of guest RAM.</summary>
    public Bus(long ramSize)
    {
        Memory = new PhysicalMemory(ramSize);
    }

    public IoBus Io { get; } = new();
    public PhysicalMemory Memory { get; }
    public VirtualClock Clock { get; } = new();
    public EventLoop Events { get; } = new();

    /// <summary>The controller the CPU asks for interrupts (set by the PIC when it is created).</summary>
    public IInterruptController? InterruptController { get; set; }

    /// <summary>Devices in attachment order.</summary>
    public IReadOnlyList<IDevice> Devices => devices;

    /// <summary>The guest's most recent request to the machine loop.</summary>
    public MachineRequest PendingRequest { get; private set; }

    /// <summary>Process exit status for <see cref="MachineRequest.Exit"/> (isa-debug-exit).</summary>
    public int ExitStatus { get; private set; }

    /// <summary>Raised when the guest makes a request, so the run loop can stop the CPU promptly.</summary>
    public event Action<MachineRequest>? RequestRaised;

    /// <summary>Adds a receiver of IRQ line levels.</summary>
    public void AddIrqSink(IIrqSink sink) => irqSinks.Add(sink);

    /// <summary>Drives ISA IRQ line <paramref name="irq"/>; devices call this. Only changes reach the interrupt controllers.</summary>
    /// <remarks>Like a wire, re-driving the same level is no event: an edge-triggered input sees a new edge only
    /// after the line went low and high again, and devices re-asserting their lines after loadvm change nothing.</remarks>
    public void SetIrq(int irq, bool level)
    {
        if (irqLevels[irq] == level)
            return;
        irqLevels[irq] = level;
        foreach (var sink in irqSinks)
            sink.SetIrq(irq, level);
    }

    /// <summary>Raised by the interrupt controller when the CPU takes IRQ <c>irq</c> (0-15) from it.</summary>
    public event Action<int>? IrqAcknowledged;

    /// <summary>The interrupt controller reports that the CPU took IRQ <paramref name="irq"/>.</summary>
    public void NotifyIrqAcknowledged(int irq) => IrqAcknowledged?.Invoke(irq);

    /// <summary>Current level of ISA IRQ line <paramref name="irq"/>.</summary>
    public bool IrqLevel(int irq) => irqLevels[irq];

    /// <summary>Queues work for the machine thread; callable from any thread.</summary>
    public void Post(Action work) => Events.Post(work);

    /// <summary>Attaches a device for reset and savevm; names must be unique.</summary>
    public void AddDevice(IDevice device)
    {
        if (devices.Any(d => d.Name == device.Name))
            throw new InvalidOperationException($"A device named '{device.Name}' is already attached.");
        devices.Add(device);
    }

    /// <summary>Records a guest request for the machine loop.</summary>
    public void Request(MachineRequest request, int exitStatus = 0)
    {
        PendingRequest = request;
        ExitStatus = exitStatus;
        RequestRaised?.Invoke(request);
    }

    /// <summary>Clears the pending request once the machine loop handled it.</summary>
    public void ClearRequest() => PendingRequest = MachineRequest.None;

    /// <summary>Resets every device and re-enables A20 (system_reset).</summary>
    public void ResetDevices()
    {
        foreach (var device in devices)
            device.Reset();
        Memory.A20Enabled = true;
    }

    /// <summary>Writes the clock and every device's state, each as a named, length-prefixed blob (RAM is saved separately).</summary>
    public void SaveState(BinaryWriter writer)
    {
        Clock.Save(writer);
        writer.Write(Memory.A20Enabled);
        foreach (bool level in irqLevels)
            writer.Write(level);
        writer.Write(devices.Count);
        foreach (var device in devices)
        {
            using var blob = new MemoryStream();
            using (var blobWriter = new BinaryWriter(blob, System.Text.Encoding.UTF8, leaveOpen: true))
                device.Save(blobWriter);
            writer.Write(device.Name);
            writer.Write((int)blob.Length);
            writer.Write(blob.GetBuffer(), 0, (int)blob.Length);
        }
    }

    /// <summary>Restores state written by <see cref="SaveState"/>; throws if a saved device is missing.</summary>
    public void LoadState(BinaryReader reader)
    {
        Clock.Load(reader);
        Memory.A20Enabled = reader.ReadBoolean();
        // Line levels come back silently: the controllers restore their own view of them.
        for (int i = 0; i < irqLevels.Length; i++)
            irqLevels[i] = reader.ReadBoolean();
        int count = reader.ReadInt32();
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            byte[] blob = reader.ReadBytes(reader.ReadInt32());
            var device = devices.FirstOrDefault(d => d.Name == name)
                ?? throw new InvalidDataException($"Saved state has device '{name}', which this machine lacks.");
            using var blobReader = new BinaryReader(new MemoryStream(blob));
            device.Load(blobReader);
        }
    }
}
