namespace Emu.Hardware;

/// <summary>The i8042 keyboard controller at 0x60/0x64 with a PS/2 keyboard (IRQ1) and mouse (IRQ12), A20 and reset lines.</summary>
/// <remarks>Host scancodes are delivered as given: with the controller's translation on (the BIOS default), feed set 1.</remarks>
public sealed class I8042 : IDevice, IIoHandler
{
    private const byte StatusOutputFull = 0x01, StatusSystem = 0x04, StatusCommand = 0x08, StatusUnlocked = 0x10;
    private const byte StatusAuxData = 0x20;
    private const byte ModeKbdInt = 0x01, ModeAuxInt = 0x02, ModeSystem = 0x04, ModeKbdDisabled = 0x10, ModeAuxDisabled = 0x20;
    private const byte ModeTranslate = 0x40;
    private const byte OutReset = 0x01, OutA20 = 0x02, OutKbdFull = 0x10, OutAuxFull = 0x20;
    private const byte Ack = 0xFA, Resend = 0xFE;
    private const int QueueLimit = 256;

    private readonly Bus bus;
    private readonly Queue<(byte Value, Source From)> queue = new();
    private byte status, mode, outputPort, outputValue;
    private Source outputFrom;
    private byte pendingCommand;     // controller command waiting for its data byte on port 0x60
    private byte pendingKeyboard;    // keyboard command waiting for its argument
    private byte pendingAux;         // mouse command waiting for its argument
    private bool keyboardScanning, auxStreaming;
    private byte auxRate, auxResolution;

    private enum Source : byte { Controller, Keyboard, Aux }

    /// <summary>Creates the controller, claims ports 0x60 and 0x64 and attaches to the bus.</summary>
    public I8042(Bus bus)
    {
        this.bus = bus;
        bus.Io.Register(0x60, 1, this);
        bus.Io.Register(0x64, 1, this);
        bus.AddDevice(this);
        Reset();
    }

    public string Name => "i8042";

    /// <summary>Queues a scancode byte from the host keyboard (machine thread); dropped while the keyboard is not scanning.</summary>
    public void KeyboardInput(byte scancode)
    {
        if (keyboardScanning)
            Enqueue(scancode, Source.Keyboard);
    }

    /// <summary>Queues a 3-byte PS/2 mouse movement packet (machine thread); dropped unless streaming is enabled.</summary>
    public void MouseInput(int dx, int dy, int buttons)
    {
        if (!auxStreaming)
            return;
        dx = Math.Clamp(dx, -256, 255);
        dy = Math.Clamp(dy, -256, 255);
        byte flags = (byte)(0x08 | (buttons & 7) | (dx < 0 ? 0x10 : 0) | (dy < 0 ? 0x20 : 0));
        Enqueue(flags, Source.Aux);
        Enqueue((byte)dx, Source.Aux);
        Enqueue((byte)dy, Source.Aux);
    }

    public uint Read(ushort port, int size)
    {
        if (port == 0x64)
            return status;
        byte value = outputValue;
        if ((status & StatusOutputFull) != 0)
        {
            status &= unchecked((byte)~(StatusOutputFull | StatusAuxData));
            // Drop the lines first so the next queued byte makes a fresh edge.
            bus.SetIrq(1, false);
            bus.SetIrq(12, false);
            Refill();
        }
        return value;
    }

    public void Write(ushort port, int size, uint value)
    {
        byte data = (byte)value;
        if (port == 0x64)
        {
            status |= StatusCommand;
            Command(data);
        }
        else
        {
            status &= unchecked((byte)~StatusCommand);
            Data(data);
        }
        Refill();
    }

    private void Command(byte command)
    {
        pendingCommand = 0;
        switch (command)
        {
            case 0x20: Reply(mode); break;
            case 0x60 or 0xD1 or 0xD2 or 0xD3 or 0xD4: pendingCommand = command; break;
            case 0xA7: mode |= ModeAuxDisabled; break;
            case 0xA8: mode &= unchecked((byte)~ModeAuxDisabled); break;
            case 0xA9 or 0xAB: Reply(0x00); break; // interface tests pass
            case 0xAA:
                status |= StatusSystem;
                Reply(0x55);
                break;
            case 0xAD: mode |= ModeKbdDisabled; break;
            case 0xAE: mode &= unchecked((byte)~ModeKbdDisabled); break;
            case 0xC0: Reply(0x80); break; // input port: keyboard not locked
            case 0xD0: Reply(ReadOutputPort()); break;
            case 0xDD: SetOutputPort((byte)(outputPort & ~OutA20)); break;
            case 0xDF: SetOutputPort((byte)(outputPort | OutA20)); break;
            case 0xE0: Reply(0x00); break;
            case >= 0xF0:
                // Pulse output port bits low for 6 us: only the reset line (bit 0) matters.
                if ((command & 0x01) == 0)
                    bus.Request(MachineRequest.Reset);
                break;
        }
    }

    private void Data(byte data)
    {
        byte command = pendingCommand;
        pendingCommand = 0;
        switch (command)
        {
            case 0x60:
                mode = data;
                status = (byte)((status & ~StatusSystem) | (data & ModeSystem));
                break;
            case 0xD1: SetOutputPort(data); break;
            case 0xD2: Enqueue(data, Source.Keyboard); break;
            case 0xD3: Enqueue(data, Source.Aux); break;
            case 0xD4: AuxCommand(data); break;
            default:
                // Writing to the keyboard re-enables its clock line.
                mode &= unchecked((byte)~ModeKbdDisabled);
                KeyboardCommand(data);
                break;
        }
    }

    private void KeyboardCommand(byte data)
    {
        if (pendingKeyboard != 0)
        {
            byte command = pendingKeyboard;
            pendingKeyboard = 0;
            Enqueue(Ack, Source.Keyboard);
            // "Get scancode set" answers with the set in use: 2.
            if (command == 0xF0 && data == 0)
                Enqueue(0x02, Source.Keyboard);
            return;
        }
        switch (data)
        {
            case 0xFF:
                keyboardScanning = true;
                Enqueue(Ack, Source.Keyboard);
                Enqueue(0xAA, Source.Keyboard); // basic assurance test passed
                break;
            case 0xF2:
                Enqueue(Ack, Source.Keyboard);
                Enqueue(0xAB, Source.Keyboard);
                // MF2 keyboard; the controller translates the second ID byte when translation is on.
                Enqueue((byte)((mode & ModeTranslate) != 0 ? 0x41 : 0x83), Source.Keyboard);
                break;
            case 0xF4: keyboardScanning = true; Enqueue(Ack, Source.Keyboard); break;
            case 0xF5: keyboardScanning = false; Enqueue(Ack, Source.Keyboard); break;
            case 0xEE: Enqueue(0xEE, Source.Keyboard); break;
            case 0xED or 0xF0 or 0xF3:
                pendingKeyboard = data;
                Enqueue(Ack, Source.Keyboard);
                break;
            case 0xF6 or 0xF7 or 0xF8 or 0xF9 or 0xFA or 0xFB or 0xFC or 0xFD:
                Enqueue(Ack, Source.Keyboard);
                break;
            default:
                Enqueue(Resend, Source.Keyboard);
                break;
        }
    }

    private void AuxCommand(byte data)
    {
        if (pendingAux != 0)
        {
            if (pendingAux == 0xF3) auxRate = data;
            else auxResolution = data;
            pendingAux = 0;
            Enqueue(Ack, Source.Aux);
            return;
        }
        switch (data)
        {
            case 0xFF:
                auxStreaming = false;
                auxRate = 100;
                auxResolution = 2;
                Enqueue(Ack, Source.Aux);
                Enqueue(0xAA, Source.Aux);
                Enqueue(0x00, Source.Aux); // device ID: standard mouse
                break;
            case 0xF2:
                Enqueue(Ack, Source.Aux);
                Enqueue(0x00, Source.Aux);
                break;
            case 0xE9:
                Enqueue(Ack, Source.Aux);
                Enqueue((byte)(auxStreaming ? 0x20 : 0), Source.Aux);
                Enqueue(auxResolution, Source.Aux);
                Enqueue(auxRate, Source.Aux);
                break;
            case 0xF4: auxStreaming = true; Enqueue(Ack, Source.Aux); break;
            case 0xF5: auxStreaming = false; Enqueue(Ack, Source.Aux); break;
            case 0xF3 or 0xE8:
                pendingAux = data;
                Enqueue(Ack, Source.Aux);
                break;
            case 0xF6 or 0xE6 or 0xE7 or 0xEA or 0xF0 or 0xEB:
                Enqueue(Ack, Source.Aux);
                break;
            default:
                Enqueue(Resend, Source.Aux);
                break;
        }
    }

    private byte ReadOutputPort()
    {
        byte value = (byte)(outputPort & ~(OutKbdFull | OutAuxFull));
        if ((status & StatusOutputFull) != 0)
            value |= outputFrom == Source.Aux ? OutAuxFull : OutKbdFull;
        return value;
    }

    private void SetOutputPort(byte value)
    {
        outputPort = value;
        bus.Memory.A20Enabled = (value & OutA20) != 0;
        if ((value & OutReset) == 0)
            bus.Request(MachineRequest.Reset);
    }

    private void Reply(byte value) => Enqueue(value, Source.Controller, front: true);

    private void Enqueue(byte value, Source from, bool front = false)
    {
        if (queue.Count >= QueueLimit)
            return; // like a real device's buffer, overflow drops input
        if (front && queue.Count > 0)
        {
            // A controller reply must be the next byte the guest reads.
            var rest = queue.ToArray();
            queue.Clear();
            queue.Enqueue((value, from));
            foreach (var item in rest)
                queue.Enqueue(item);
        }
        else
            queue.Enqueue((value, from));
        Refill();
    }

    // Moves the next deliverable byte into the output buffer and updates IRQ1/IRQ12.
    private void Refill()
    {
        if ((status & StatusOutputFull) == 0 && queue.Count > 0)
        {
            var (value, from) = queue.Peek();
            bool held = (from == Source.Keyboard && (mode & ModeKbdDisabled) != 0)
                || (from == Source.Aux && (mode & ModeAuxDisabled) != 0);
            if (!held)
            {
                queue.Dequeue();
                outputValue = value;
                outputFrom = from;
                status |= StatusOutputFull;
                if (from == Source.Aux)
                    status |= StatusAuxData;
            }
        }
        bool full = (status & StatusOutputFull) != 0;
        bus.SetIrq(1, full && outputFrom != Source.Aux && (mode & ModeKbdInt) != 0);
        bus.SetIrq(12, full && outputFrom == Source.Aux && (mode & ModeAuxInt) != 0);
    }

    public void Reset()
    {
        queue.Clear();
        status = StatusCommand | StatusUnlocked;
        mode = ModeKbdInt | ModeAuxInt;
        outputPort = OutReset | OutA20 | 0xCC;
        outputValue = 0;
        outputFrom = Source.Controller;
        pendingCommand = pendingKeyboard = pendingAux = 0;
        keyboardScanning = true;
        auxStreaming = false;
        auxRate = 100;
        auxResolution = 2;
        Refill();
    }

    public void Save(BinaryWriter writer)
    {
        writer.Write(queue.Count);
        foreach (var (value, from) in queue)
        {
            writer.Write(value);
            writer.Write((byte)from);
        }
        writer.Write(status); writer.Write(mode); writer.Write(outputPort); writer.Write(outputValue);
        writer.Write((byte)outputFrom); writer.Write(pendingCommand); writer.Write(pendingKeyboard); writer.Write(pendingAux);
        writer.Write(keyboardScanning); writer.Write(auxStreaming); writer.Write(auxRate); writer.Write(auxResolution);
    }

    public void Load(BinaryReader reader)
    {
        queue.Clear();
        int count = reader.ReadInt32();
        for (int i = 0; i < count; i++)
            queue.Enqueue((reader.ReadByte(), (Source)reader.ReadByte()));
        status = reader.ReadByte(); mode = reader.ReadByte(); outputPort = reader.ReadByte(); outputValue = reader.ReadByte();
        outputFrom = (Source)reader.ReadByte(); pendingCommand = reader.ReadByte(); pendingKeyboard = reader.ReadByte();
        pendingAux = reader.ReadByte(); keyboardScanning = reader.ReadBoolean(); auxStreaming = reader.ReadBoolean();
        auxRate = reader.ReadByte(); auxResolution = reader.ReadByte();
        Refill();
    }
}
