namespace Emu.Hardware;

/// <summary>The 8254 interval timer at 0x40-0x43 (channel 0 on IRQ0) and port 0x61 (channel 2 gate, speaker, refresh).</summary>
/// <remarks>Counters are not stepped: each channel derives its count and output from the virtual clock and the
/// time its count was loaded, and channel 0 schedules a timer only for its next output transition.
/// As in QEMU, a low gate does not pause counting in modes 0 and 4 (only channel 2 has a gate, and guests keep it high).
/// Periodic ticks that fall while the previous IRQ0 is still waiting for the CPU would merge into one request and be
/// lost (the guest runs slower than real hardware, so its interrupts-off stretches last longer in real time); they are
/// counted and delivered one by one as the CPU takes IRQ0, as KVM's PIT does, so a guest counting ticks keeps time.</remarks>
public sealed class Pit8254 : IDevice, IIoHandler
{
    /// <summary>Input clock of every channel, in Hz.</summary>
    public const long Frequency = 1_193_182;
    // Port 0x61 bit 4 toggles with each DRAM refresh request, every 15.085 us.
    private const long RefreshPeriodNs = 15_085;

    private readonly Bus bus;
    private readonly Channel[] channels;
    private readonly TimerEvent irqTimer;
    private bool speakerData;
    private byte port61Extra; // bits 2-3 (parity/IO check enables) are stored only
    private bool irq0Waiting;  // IRQ0 was raised and the CPU has not taken it yet
    private int lostTicks;     // periodic ticks that fell while irq0Waiting, still to deliver

    /// <summary>Creates the PIT, claims its ports and attaches to the bus.</summary>
    public Pit8254(Bus bus)
    {
        this.bus = bus;
        channels = [new Channel(), new Channel(), new Channel()];
        irqTimer = bus.Clock.CreateTimer(OnIrqTimer);
        bus.IrqAcknowledged += OnIrqAcknowledged;
        bus.Io.Register(0x40, 4, this);
        bus.Io.Register(0x61, 1, this);
        bus.AddDevice(this);
        Reset();
    }

    public string Name => "pit";

    /// <summary>True while the speaker is driven by channel 2 (gate and data enable both set).</summary>
    public bool SpeakerEnabled => channels[2].Gate && speakerData;

    /// <summary>Output pin of channel <paramref name="index"/> now.</summary>
    public bool Output(int index) => channels[index].Output(bus.Clock.Now);

    /// <summary>Current count of channel <paramref name="index"/> as it would be latched.</summary>
    public int Count(int index) => channels[index].CurrentCount(bus.Clock.Now);

    public uint Read(ushort port, int size)
    {
        long now = bus.Clock.Now;
        if (port == 0x61)
        {
            var ch2 = channels[2];
            uint value = port61Extra;
            if (ch2.Gate) value |= 0x01;
            if (speakerData) value |= 0x02;
            if ((now / RefreshPeriodNs & 1) != 0) value |= 0x10;
            if (ch2.Output(now)) value |= 0x20;
            return value;
        }
        return port == 0x43 ? 0xFFu : channels[port - 0x40].ReadPort(now);
    }

    public void Write(ushort port, int size, uint value)
    {
        long now = bus.Clock.Now;
        byte data = (byte)value;
        if (port == 0x61)
        {
            channels[2].SetGate(data & 0x01, now);
            speakerData = (data & 0x02) != 0;
            port61Extra = (byte)(data & 0x0C);
            return;
        }
        // Reprogramming channel 0 (not latching it) drops the ticks of its old rate; a new mode also forgets a
        // request left from before (the PIC may have been reinitialised since), so it cannot make ticks count as lost.
        if (port == 0x40)
            lostTicks = 0;
        else if (port == 0x43 && data >> 6 == 0 && (data & 0x30) != 0)
        {
            lostTicks = 0;
            irq0Waiting = false;
        }
        if (port == 0x43)
            WriteControl(data, now);
        else
            channels[port - 0x40].WritePort(data, now);
        if (port == 0x40 || port == 0x43)
            UpdateIrq0();
    }

    private void WriteControl(byte control, long now)
    {
        int select = control >> 6;
        if (select == 3)
        {
            // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1-3 pick channels.
            for (int i = 0; i < 3; i++)
            {
                if ((control & (2 << i)) == 0)
                    continue;
                if ((control & 0x20) == 0) channels[i].LatchCount(now);
                if ((control & 0x10) == 0) channels[i].LatchStatus(now);
            }
            return;
        }
        var channel = channels[select];
        if ((control & 0x30) == 0)
            channel.LatchCount(now);
        else
            channel.Program(control);
    }

    // Drives IRQ0 with channel 0's output and arms the timer for its next transition.
    private void UpdateIrq0()
    {
        long now = bus.Clock.Now;
        var ch0 = channels[0];
        bool output = ch0.Output(now);
        if (output && !bus.IrqLevel(0))
        {
            // At most a second of ticks is kept: a guest that leaves interrupts off longer loses the rest, as on
            // real hardware, instead of getting a flood (the BIOS's 18.2 Hz ticks run on through boot loaders).
            if (irq0Waiting && ch0.Periodic)
                lostTicks = (int)Math.Min(lostTicks + 1, Math.Max(1, Frequency / ch0.PeriodTicks));
            irq0Waiting = true;
        }
        bus.SetIrq(0, output);
        long next = ch0.NextTransition(now);
        if (next < 0)
            irqTimer.Cancel();
        else
            irqTimer.Arm(next);
    }

    private void OnIrqTimer() => UpdateIrq0();

    // The CPU took IRQ0: deliver one lost tick as a fresh edge, after which the line follows the counter again.
    private void OnIrqAcknowledged(int irq)
    {
        if (irq != 0)
            return;
        irq0Waiting = false;
        if (lostTicks == 0)
            return;
        lostTicks--;
        irq0Waiting = true;
        bus.SetIrq(0, false);
        bus.SetIrq(0, true);
        bus.SetIrq(0, channels[0].Output(bus.Clock.Now));
    }

    public void Reset()
    {
        foreach (var channel in channels)
            channel.Reset();
        channels[0].Gate = channels[1].Gate = true;
        speakerData = false;
        port61Extra = 0;
        irq0Waiting = false;
        lostTicks = 0;
        irqTimer.Cancel();
        bus.SetIrq(0, false);
    }

    public void Save(BinaryWriter writer)
    {
        foreach (var channel in channels)
            channel.Save(writer);
        writer.Write(speakerData);
        writer.Write(port61Extra);
        irqTimer.Save(writer);
        writer.Write(irq0Waiting);
        writer.Write(lostTicks);
    }

    public void Load(BinaryReader reader)
    {
        foreach (var channel in channels)
            channel.Load(reader);
        speakerData = reader.ReadBoolean();
        port61Extra = reader.ReadByte();
        irqTimer.Load(reader);
        // States saved before lost ticks were tracked end here.
        bool more = reader.BaseStream.Position < reader.BaseStream.Length;
        irq0Waiting = more && reader.ReadBoolean();
        lostTicks = more ? Math.Clamp(reader.ReadInt32(), 0, (int)Frequency) : 0;
    }

    /// <summary>One counter: its programming, latches and the time its count was loaded.</summary>
    private sealed class Channel
    {
        private const int AccessLatch = 0, AccessLow = 1, AccessHigh = 2, AccessWord = 3;
        private int mode, access;
        private bool bcd;
        private int count;           // 1..65536 (binary) or 1..10000 (BCD), as a tick count
        private long loadTime;       // guest ns at which counting started
        private bool counting;       // a count was loaded (and, in modes 1/5, the gate triggered)
        private bool nullCount;      // a count was written but not yet loaded into the counter
        private bool initialOutput;  // output level after the control word, before counting starts
        private bool readHigh, writeHigh;
        private byte writeLow;
        private int latchedCount = -1;
        private bool latchedReadHigh;
        private int latchedStatus = -1;
        public bool Gate;

        /// <summary>Counting in a mode whose output repeats every period (2 and 3).</summary>
        public bool Periodic => counting && mode is 2 or 3;

        /// <summary>Input clock ticks per period of a periodic mode.</summary>
        public int PeriodTicks => count;

        public void Reset()
        {
            mode = 0; access = AccessWord; bcd = false; count = 0x10000; loadTime = 0;
            counting = false; nullCount = true; initialOutput = false;
            readHigh = writeHigh = false; writeLow = 0; latchedCount = -1; latchedReadHigh = false; latchedStatus = -1;
            Gate = false;
        }

        public void Program(byte control)
        {
            access = (control >> 4) & 3;
            mode = (control >> 1) & 7;
            if (mode > 5) mode -= 4; // 6 and 7 alias modes 2 and 3
            bcd = (control & 1) != 0;
            readHigh = writeHigh = false;
            latchedCount = latchedStatus = -1;
            counting = false;
            nullCount = true;
            initialOutput = mode != 0;
        }

        public void WritePort(byte data, long now)
        {
            int value;
            switch (access)
            {
                case AccessLow: value = data; break;
                case AccessHigh: value = data << 8; break;
                default:
                    if (!writeHigh)
                    {
                        writeLow = data;
                        writeHigh = true;
                        // Mode 0 stops counting (output low) while a new 16-bit count is half written.
                        if (mode == 0 && counting) { counting = false; initialOutput = false; }
                        return;
                    }
                    writeHigh = false;
                    value = writeLow | data << 8;
                    break;
            }
            Load(value, now);
        }

        private void Load(int value, long now)
        {
            if (bcd)
                value = FromBcd(value);
            count = value == 0 ? (bcd ? 10000 : 0x10000) : value;
            nullCount = false;
            loadTime = now;
            // Modes 1 and 5 wait for a rising gate edge; the others start at once.
            counting = mode != 1 && mode != 5;
            if (!counting)
                initialOutput = true;
        }

        public void SetGate(int level, long now)
        {
            bool high = level != 0;
            if (high && !Gate)
            {
                // A rising edge (re)starts modes 1, 2, 3 and 5.
                if (!nullCount && mode is 1 or 2 or 3 or 5)
                {
                    loadTime = now;
                    counting = true;
                }
            }
            Gate = high;
        }

        private long Ticks(long now) => (long)((Int128)(now - loadTime) * Frequency / 1_000_000_000);

        private long TickTime(long tick) => loadTime + (long)(((Int128)tick * 1_000_000_000 + Frequency - 1) / Frequency);

        public bool Output(long now)
        {
            if (!counting)
                return initialOutput;
            // Modes 2 and 3 hold the output high while the gate is low.
            if (!Gate && mode is 2 or 3)
                return true;
            return OutputAt(Ticks(now));
        }

        private bool OutputAt(long d) => mode switch
        {
            0 or 1 => d >= count,
            2 => count < 2 || d % count != count - 1,
            3 => d % count < (count + 1) / 2,
            _ => d != count, // modes 4 and 5: one low tick when the count expires
        };

        /// <summary>Guest time of the next output change after <paramref name="now"/>, or -1 if none is coming.</summary>
        public long NextTransition(long now)
        {
            if (!counting || (!Gate && mode is 2 or 3))
                return -1;
            long d = Ticks(now);
            long r = d % count;
            long next = mode switch
            {
                0 or 1 => d < count ? count : -1,
                2 => count < 2 ? -1 : r < count - 1 ? d - r + count - 1 : d - r + count,
                3 => count < 2 ? -1 : r < (count + 1) / 2 ? d - r + (count + 1) / 2 : d - r + count,
                _ => d < count ? count : d == count ? count + 1 : -1,
            };
            return next < 0 ? -1 : TickTime(next);
        }

        public int CurrentCount(long now)
        {
            if (!counting)
                return count & 0xFFFF;
            long d = Ticks(now);
            long value = mode switch
            {
                2 => count - d % count,
                3 => count - (2 * d) % count,
                _ => count - d,
            };
            int modulus = bcd ? 10000 : 0x10000;
            value %= modulus;
            if (value < 0) value += modulus;
            return (int)value;
        }

        public void LatchCount(long now)
        {
            if (latchedCount >= 0)
                return; // a second latch before the first is read is ignored
            int value = CurrentCount(now);
            latchedCount = bcd ? ToBcd(value) : value & 0xFFFF;
            latchedReadHigh = false;
        }

        public void LatchStatus(long now)
        {
            if (latchedStatus >= 0)
                return;
            int status = (Output(now) ? 0x80 : 0) | (nullCount ? 0x40 : 0) | access << 4 | mode << 1 | (bcd ? 1 : 0);
            latchedStatus = status;
        }

        public uint ReadPort(long now)
        {
            if (latchedStatus >= 0)
            {
                uint status = (uint)latchedStatus;
                latchedStatus = -1;
                return status;
            }
            int value;
            bool latched = latchedCount >= 0;
            if (latched)
                value = latchedCount;
            else
            {
                int current = CurrentCount(now);
                value = bcd ? ToBcd(current) : current & 0xFFFF;
            }
            switch (access)
            {
                case AccessLow:
                    latchedCount = -1;
                    return (uint)(value & 0xFF);
                case AccessHigh:
                    latchedCount = -1;
                    return (uint)(value >> 8);
                default:
                    bool high = latched ? latchedReadHigh : readHigh;
                    if (latched)
                    {
                        latchedReadHigh = !high;
                        if (high) latchedCount = -1;
                    }
                    else
                        readHigh = !high;
                    return (uint)(high ? value >> 8 : value & 0xFF);
            }
        }

        private static int FromBcd(int value) =>
            (value >> 12 & 0xF) * 1000 + (value >> 8 & 0xF) * 100 + (value >> 4 & 0xF) * 10 + (value & 0xF);

        private static int ToBcd(int value) =>
            (value / 1000 % 10) << 12 | (value / 100 % 10) << 8 | (value / 10 % 10) << 4 | value % 10;

        public void Save(BinaryWriter w)
        {
            w.Write(mode); w.Write(access); w.Write(bcd); w.Write(count); w.Write(loadTime);
            w.Write(counting); w.Write(nullCount); w.Write(initialOutput); w.Write(readHigh); w.Write(writeHigh);
            w.Write(writeLow); w.Write(latchedCount); w.Write(latchedReadHigh); w.Write(latchedStatus); w.Write(Gate);
        }

        public void Load(BinaryReader r)
        {
            mode = r.ReadInt32(); access = r.ReadInt32(); bcd = r.ReadBoolean(); count = r.ReadInt32(); loadTime = r.ReadInt64();
            counting = r.ReadBoolean(); nullCount = r.ReadBoolean(); initialOutput = r.ReadBoolean(); readHigh = r.ReadBoolean();
            writeHigh = r.ReadBoolean(); writeLow = r.ReadByte(); latchedCount = r.ReadInt32(); latchedReadHigh = r.ReadBoolean();
            latchedStatus = r.ReadInt32(); Gate = r.ReadBoolean();
        }
    }
}
