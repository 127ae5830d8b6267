namespace Emu.Hardware;

/// <summary>16550A UART (COM1 at 0x3F8, IRQ4 by default) with 16-byte receive FIFO, modem lines and loopback.</summary>
/// <remarks>Transmission is instantaneous: a byte written to THR goes straight to the output sink and THR is empty
/// again at once. Host input waits in an unbounded queue and enters the FIFO as room frees, so pasting never overruns.</remarks>
public sealed class Uart16550 : IDevice, IIoHandler
{
    private const int FifoSize = 16;
    private const byte IerRda = 0x01, IerThre = 0x02, IerRls = 0x04, IerMsi = 0x08;
    private const byte IirNone = 0x01, IirMsi = 0x00, IirThre = 0x02, IirRda = 0x04, IirRls = 0x06, IirTimeout = 0x0C;
    private const byte LsrDataReady = 0x01, LsrOverrun = 0x02, LsrBreak = 0x10, LsrThrEmpty = 0x20, LsrIdle = 0x40;
    private const byte LsrErrors = 0x1E;
    private const byte McrDtr = 0x01, McrRts = 0x02, McrOut1 = 0x04, McrOut2 = 0x08, McrLoop = 0x10;
    private const byte LcrDlab = 0x80;
    private const byte MsrCts = 0x10, MsrDsr = 0x20, MsrRi = 0x40, MsrDcd = 0x80;
    private const long ClockHz = 115200;

    private readonly Bus bus;
    private readonly ushort basePort;
    private readonly int irq;
    private readonly Queue<byte> rxFifo = new();
    private readonly Queue<byte> hostInput = new();
    private volatile int hostInputPending;   // hostInput.Count, readable from the host's input thread
    private readonly TimerEvent timeoutTimer;
    private byte ier, lcr, mcr, lsr, msr, scr, fcr;
    private ushort divisor;
    private bool thrInterrupt;      // THRE interrupt latched until IIR read or THR write
    private bool timeoutInterrupt;  // character timeout indication (FIFO mode)

    /// <summary>Creates the UART at <paramref name="basePort"/> on <paramref name="irq"/>, sending output to <paramref name="output"/>.</summary>
    public Uart16550(Bus bus, Action<byte>? output, ushort basePort = 0x3F8, int irq = 4)
    {
        this.bus = bus;
        Output = output;
        this.basePort = basePort;
        this.irq = irq;
        timeoutTimer = bus.Clock.CreateTimer(OnTimeout);
        bus.Io.Register(basePort, 8, this);
        bus.AddDevice(this);
        Reset();
    }

    public string Name => $"uart@{basePort:x}";

    /// <summary>Sink for transmitted bytes (null discards them).</summary>
    public Action<byte>? Output { get; set; }

    /// <summary>Programmed baud rate.</summary>
    public long BaudRate => ClockHz / Math.Max((int)divisor, 1);

    private bool FifoEnabled => (fcr & 0x01) != 0;

    private int TriggerLevel => FifoEnabled ? (fcr >> 6) switch { 0 => 1, 1 => 4, 2 => 8, _ => 14 } : 1;

    /// <summary>Queues bytes received from the host (call on the machine thread, e.g. via <see cref="Bus.Post"/>).</summary>
    public void Receive(ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
            hostInput.Enqueue(b);
        hostInputPending = hostInput.Count;
        if ((mcr & McrLoop) == 0)
            PullHostInput();
        Update();
    }

    /// <summary>Host bytes still waiting for room in the receive FIFO (safe to read from any thread): a host
    /// feeding the line waits while this is large, so input the guest does not read cannot pile up.</summary>
    public int PendingHostInput => hostInputPending;

    public uint Read(ushort port, int size)
    {
        int register = port - basePort;
        bool dlab = (lcr & LcrDlab) != 0;
        switch (register)
        {
            case 0 when dlab: return (byte)divisor;
            case 1 when dlab: return (byte)(divisor >> 8);
            case 0: return ReadReceiver();
            case 1: return ier;
            case 2: return ReadIir();
            case 3: return lcr;
            case 4: return mcr;
            case 5:
                byte value = CurrentLsr();
                lsr &= unchecked((byte)~LsrErrors);
                Update();
                return value;
            case 6:
                byte modem = msr;
                msr &= 0xF0;
                Update();
                return modem;
            default: return scr;
        }
    }

    public void Write(ushort port, int size, uint value)
    {
        int register = port - basePort;
        byte data = (byte)value;
        bool dlab = (lcr & LcrDlab) != 0;
        switch (register)
        {
            case 0 when dlab: divisor = (ushort)((divisor & 0xFF00) | data); break;
            case 1 when dlab: divisor = (ushort)((divisor & 0x00FF) | data << 8); break;
            case 0: Transmit(data); break;
            case 1:
                // Enabling THRE interrupts while THR is empty interrupts at once, as on a real 16550.
                if ((data & IerThre) != 0 && (ier & IerThre) == 0)
                    thrInterrupt = true;
                ier = (byte)(data & 0x0F);
                break;
            case 2: WriteFcr(data); break;
            case 3: lcr = data; break;
            case 4: WriteMcr((byte)(data & 0x1F)); break;
            case 5 or 6: break; // read-only
            default: scr = data; break;
        }
        Update();
    }

    private uint ReadReceiver()
    {
        if (rxFifo.Count == 0)
            return 0;
        byte value = rxFifo.Dequeue();
        timeoutInterrupt = false;
        if ((mcr & McrLoop) == 0)
            PullHostInput();
        ArmTimeout();
        Update();
        return value;
    }

    private uint ReadIir()
    {
        byte id = Identify();
        // Reading IIR acknowledges a THRE interrupt when it is the one reported.
        if (id == IirThre)
        {
            thrInterrupt = false;
            Update();
        }
        return (uint)(id | (FifoEnabled ? 0xC0 : 0));
    }

    private byte Identify()
    {
        if ((ier & IerRls) != 0 && (lsr & LsrErrors) != 0) return IirRls;
        if ((ier & IerRda) != 0 && rxFifo.Count >= TriggerLevel) return IirRda;
        if ((ier & IerRda) != 0 && timeoutInterrupt && rxFifo.Count > 0) return IirTimeout;
        if ((ier & IerThre) != 0 && thrInterrupt) return IirThre;
        if ((ier & IerMsi) != 0 && (msr & 0x0F) != 0) return IirMsi;
        return IirNone;
    }

    private byte CurrentLsr() => (byte)(lsr | LsrThrEmpty | LsrIdle | (rxFifo.Count > 0 ? LsrDataReady : 0));

    private void Transmit(byte data)
    {
        thrInterrupt = false;
        if ((mcr & McrLoop) != 0)
            ReceiveByte(data);
        else
            Output?.Invoke(data);
        // The byte left at once, so THR is empty again.
        thrInterrupt = true;
    }

    private void WriteFcr(byte data)
    {
        if (((data ^ fcr) & 0x01) != 0 || (data & 0x02) != 0)
        {
            rxFifo.Clear();
            timeoutInterrupt = false;
        }
        fcr = (byte)(data & 0xC9);
        if ((mcr & McrLoop) == 0)
            PullHostInput();
    }

    private void WriteMcr(byte data)
    {
        mcr = data;
        byte lines = (mcr & McrLoop) != 0
            ? (byte)(((mcr & McrRts) != 0 ? MsrCts : 0) | ((mcr & McrDtr) != 0 ? MsrDsr : 0)
                | ((mcr & McrOut1) != 0 ? MsrRi : 0) | ((mcr & McrOut2) != 0 ? MsrDcd : 0))
            : (byte)(MsrCts | MsrDsr | MsrDcd); // an attached host terminal is always ready
        byte changed = (byte)((lines ^ msr) & 0xF0);
        byte deltas = (byte)(((changed & MsrCts) != 0 ? 0x01 : 0) | ((changed & MsrDsr) != 0 ? 0x02 : 0)
            | ((changed & MsrDcd) != 0 ? 0x08 : 0)
            | ((msr & MsrRi) != 0 && (lines & MsrRi) == 0 ? 0x04 : 0)); // TERI: trailing edge of RI only
        msr = (byte)(lines | (msr & 0x0F) | deltas);
        if ((mcr & McrLoop) == 0)
            PullHostInput();
    }

    private void PullHostInput()
    {
        int capacity = FifoEnabled ? FifoSize : 1;
        bool added = false;
        while (hostInput.Count > 0 && rxFifo.Count < capacity)
        {
            rxFifo.Enqueue(hostInput.Dequeue());
            added = true;
        }
        hostInputPending = hostInput.Count;
        if (added)
            ArmTimeout();
    }

    private void ReceiveByte(byte data)
    {
        int capacity = FifoEnabled ? FifoSize : 1;
        if (rxFifo.Count >= capacity)
        {
            lsr |= LsrOverrun;
            return;
        }
        rxFifo.Enqueue(data);
        ArmTimeout();
    }

    // A FIFO holding fewer bytes than the trigger level reports a timeout after four character times of silence.
    private void ArmTimeout()
    {
        if (!FifoEnabled || rxFifo.Count == 0)
        {
            timeoutTimer.Cancel();
            return;
        }
        long charNs = 10 * 1_000_000_000L / BaudRate;
        timeoutTimer.Arm(bus.Clock.Now + 4 * charNs);
    }

    private void OnTimeout()
    {
        if (rxFifo.Count > 0)
            timeoutInterrupt = true;
        Update();
    }

    private void Update() => bus.SetIrq(irq, Identify() != IirNone);

    /// <summary>Sends a break condition to the guest (line status BI).</summary>
    public void ReceiveBreak()
    {
        lsr |= LsrBreak;
        Update();
    }

    public void Reset()
    {
        rxFifo.Clear();
        timeoutTimer.Cancel();
        ier = lcr = scr = fcr = 0;
        lsr = 0;
        msr = 0;
        divisor = 12; // 9600 baud
        thrInterrupt = timeoutInterrupt = false;
        WriteMcr(0);
        msr &= 0xF0;
        bus.SetIrq(irq, false);
    }

    public void Save(BinaryWriter writer)
    {
        writer.Write(rxFifo.Count);
        writer.Write(rxFifo.ToArray());
        writer.Write(hostInput.Count);
        writer.Write(hostInput.ToArray());
        writer.Write(ier); writer.Write(lcr); writer.Write(mcr); writer.Write(lsr); writer.Write(msr);
        writer.Write(scr); writer.Write(fcr); writer.Write(divisor); writer.Write(thrInterrupt); writer.Write(timeoutInterrupt);
        timeoutTimer.Save(writer);
    }

    public void Load(BinaryReader reader)
    {
        rxFifo.Clear();
        foreach (byte b in reader.ReadBytes(reader.ReadInt32()))
            rxFifo.Enqueue(b);
        hostInput.Clear();
        foreach (byte b in reader.ReadBytes(reader.ReadInt32()))
            hostInput.Enqueue(b);
        hostInputPending = hostInput.Count;
        ier = reader.ReadByte(); lcr = reader.ReadByte(); mcr = reader.ReadByte(); lsr = reader.ReadByte(); msr = reader.ReadByte();
        scr = reader.ReadByte(); fcr = reader.ReadByte(); divisor = reader.ReadUInt16(); thrInterrupt = reader.ReadBoolean();
        timeoutInterrupt = reader.ReadBoolean();
        timeoutTimer.Load(reader);
        Update();
    }
}
