namespace Emu.Hardware;

/// <summary>The PC's cascaded 8259A interrupt controllers (master 0x20, slave 0xA0 on IRQ2) with the PIIX ELCR at 0x4D0/0x4D1.</summary>
public sealed class Pic8259 : IDevice, IIoHandler, IIrqSink, IInterruptController
{
    // IRQ0-2 on the master and IRQ8 (RTC) and IRQ13 (FPU) on the slave are always edge on the PIIX.
    private readonly Chip master = new(isMaster: true, elcrMask: 0xF8);
    private readonly Chip slave = new(isMaster: false, elcrMask: 0xDE);
    private readonly Bus bus;

    /// <summary>Creates the pair, claims its ports and becomes the bus's interrupt controller.</summary>
    public Pic8259(Bus bus)
    {
        this.bus = bus;
        bus.Io.Register(0x20, 2, this);
        bus.Io.Register(0xA0, 2, this);
        bus.Io.Register(0x4D0, 2, this);
        bus.AddIrqSink(this);
        bus.InterruptController = this;
        bus.AddDevice(this);
    }

    public string Name => "pic";

    /// <inheritdoc/>
    public bool HasInterrupt { get; private set; }

    /// <summary>Raised when <see cref="HasInterrupt"/> becomes true, e.g. to wake a halted CPU.</summary>
    public event Action? InterruptPending;

    /// <summary>Master (0-7) and slave (8-15) IRQ masks as one 16-bit value, for debugging and tests.</summary>
    public ushort Imr => (ushort)(master.Imr | slave.Imr << 8);

    /// <summary>In-service registers of both chips as one 16-bit value.</summary>
    public ushort Isr => (ushort)(master.Isr | slave.Isr << 8);

    /// <summary>Interrupt request registers of both chips as one 16-bit value.</summary>
    public ushort Irr => (ushort)(master.Irr | slave.Irr << 8);

    public void SetIrq(int irq, bool level)
    {
        if (irq < 8)
            master.SetLine(irq, level);
        else
            slave.SetLine(irq - 8, level);
        Update();
    }

    public int Acknowledge()
    {
        int irq = master.Pending();
        int vector, taken = -1;
        if (irq < 0)
        {
            // The request went away before INTA: the 8259 answers with IRQ7 without setting ISR.
            vector = master.VectorBase + 7;
        }
        else
        {
            master.Acknowledge(irq);
            if (irq == 2)
            {
                int slaveIrq = slave.Pending();
                if (slaveIrq < 0)
                    vector = slave.VectorBase + 7;
                else
                {
                    slave.Acknowledge(slaveIrq);
                    vector = slave.VectorBase + slaveIrq;
                    taken = 8 + slaveIrq;
                }
            }
            else
            {
                vector = master.VectorBase + irq;
                taken = irq;
            }
        }
        Update();
        if (taken >= 0)
            bus.NotifyIrqAcknowledged(taken);
        return vector;
    }

    public uint Read(ushort port, int size)
    {
        if (port == 0x4D0)
            return master.Elcr;
        if (port == 0x4D1)
            return slave.Elcr;
        var chip = port < 0xA0 ? master : slave;
        uint value;
        if (chip.Poll)
        {
            value = chip.PollRead();
            if (chip == slave)
                master.ClearCascade();
            Update();
            // A poll read takes the request as INTA would (IRQ2 on the master only reports the cascade).
            if ((value & 0x80) != 0 && (chip == slave || (value & 7) != 2))
                bus.NotifyIrqAcknowledged((chip == slave ? 8 : 0) + (int)(value & 7));
        }
        else
            value = chip.ReadRegister(port & 1);
        return value;
    }

    public void Write(ushort port, int size, uint value)
    {
        if (port == 0x4D0)
            master.Elcr = (byte)(value & master.ElcrMask);
        else if (port == 0x4D1)
            slave.Elcr = (byte)(value & slave.ElcrMask);
        else
            (port < 0xA0 ? master : slave).WriteRegister(port & 1, (byte)value);
        Update();
    }

    public void Reset()
    {
        master.Reset();
        slave.Reset();
        master.Elcr = slave.Elcr = 0;
        Update();
    }

    public void Save(BinaryWriter writer)
    {
        master.Save(writer);
        slave.Save(writer);
    }

    public void Load(BinaryReader reader)
    {
        master.Load(reader);
        slave.Load(reader);
        Update();
    }

    private void Update()
    {
        // The slave's INT output is a level on the master's IRQ2 input.
        master.SetLine(2, slave.Pending() >= 0);
        bool had = HasInterrupt;
        HasInterrupt = master.Pending() >= 0;
        if (HasInterrupt && !had)
            InterruptPending?.Invoke();
    }

    /// <summary>One 8259A.</summary>
    private sealed class Chip(bool isMaster, byte elcrMask)
    {
        public readonly byte ElcrMask = elcrMask;
        public byte Irr, Isr, Imr, Elcr;
        public bool Poll;
        private byte lineLevels;       // input levels, for edge detection
        private byte priorityAdd;      // rotation: the lowest-priority IRQ is priorityAdd - 1
        private bool readIsr, specialMask, autoEoi, rotateOnAutoEoi, specialFullyNested;
        private bool expectIcw4, singleMode;
        private int initStep;          // 0 = operational, 1-3 = expecting ICW2-ICW4

        public int VectorBase { get; private set; }

        public void SetLine(int irq, bool level)
        {
            byte bit = (byte)(1 << irq);
            if ((Elcr & bit) != 0)
            {
                if (level) Irr |= bit; else Irr &= (byte)~bit;
            }
            else if (level && (lineLevels & bit) == 0)
            {
                Irr |= bit;
            }
            lineLevels = level ? (byte)(lineLevels | bit) : (byte)(lineLevels & ~bit);
        }

        /// <summary>The IRQ this chip would raise now, or -1.</summary>
        public int Pending()
        {
            int priority = Priority((byte)(Irr & ~Imr));
            if (priority == 8)
                return -1;
            byte inService = Isr;
            if (specialMask)
                inService &= (byte)~Imr;
            // In special fully nested mode the master lets a higher slave IRQ through while IRQ2 is in service.
            if (specialFullyNested && isMaster)
                inService &= unchecked((byte)~(1 << 2));
            return priority < Priority(inService) ? (priority + priorityAdd) & 7 : -1;
        }

        public void Acknowledge(int irq)
        {
            byte bit = (byte)(1 << irq);
            if (autoEoi)
            {
                if (rotateOnAutoEoi)
                    priorityAdd = (byte)((irq + 1) & 7);
            }
            else
                Isr |= bit;
            // A level-triggered request stays in IRR while its line is high.
            if ((Elcr & bit) == 0)
                Irr &= (byte)~bit;
        }

        public void ClearCascade()
        {
            Irr &= unchecked((byte)~(1 << 2));
            Isr &= unchecked((byte)~(1 << 2));
        }

        public uint PollRead()
        {
            Poll = false;
            int irq = Pending();
            if (irq < 0)
                return 0;
            Acknowledge(irq);
            return 0x80u | (uint)irq;
        }

        public uint ReadRegister(int a0) => a0 == 1 ? Imr : readIsr ? Isr : Irr;

        public void WriteRegister(int a0, byte value)
        {
            if (a0 == 0)
            {
                if ((value & 0x10) != 0)
                    Icw1(value);
                else if ((value & 0x08) != 0)
                    Ocw3(value);
                else
                    Ocw2(value);
                return;
            }
            switch (initStep)
            {
                case 0:
                    Imr = value;
                    break;
                case 1:
                    VectorBase = value & 0xF8;
                    initStep = singleMode ? (expectIcw4 ? 3 : 0) : 2;
                    break;
                case 2:
                    initStep = expectIcw4 ? 3 : 0;
                    break;
                default:
                    specialFullyNested = (value & 0x10) != 0;
                    autoEoi = (value & 0x02) != 0;
                    initStep = 0;
                    break;
            }
        }

        private void Icw1(byte value)
        {
            Reset();
            expectIcw4 = (value & 0x01) != 0;
            singleMode = (value & 0x02) != 0;
            initStep = 1;
        }

        private void Ocw3(byte value)
        {
            if ((value & 0x04) != 0)
                Poll = true;
            if ((value & 0x02) != 0)
                readIsr = (value & 0x01) != 0;
            if ((value & 0x40) != 0)
                specialMask = (value & 0x20) != 0;
        }

        private void Ocw2(byte value)
        {
            int command = value >> 5;
            switch (command)
            {
                case 0:
                case 4:
                    rotateOnAutoEoi = command == 4;
                    break;
                case 1:
                case 5:
                    int priority = Priority(Isr);
                    if (priority == 8)
                        break;
                    int irq = (priority + priorityAdd) & 7;
                    Isr &= (byte)~(1 << irq);
                    if (command == 5)
                        priorityAdd = (byte)((irq + 1) & 7);
                    break;
                case 3:
                case 7:
                    Isr &= (byte)~(1 << (value & 7));
                    if (command == 7)
                        priorityAdd = (byte)((value + 1) & 7);
                    break;
                case 6:
                    priorityAdd = (byte)((value + 1) & 7);
                    break;
            }
        }

        // 0 = highest priority pending bit in rotated order, 8 = none.
        private int Priority(byte mask)
        {
            if (mask == 0)
                return 8;
            int priority = 0;
            while ((mask & (1 << ((priority + priorityAdd) & 7))) == 0)
                priority++;
            return priority;
        }

        public void Reset()
        {
            // ICW1 clears the edge memory, masks, in-service bits and modes; ELCR is a PIIX register and survives.
            lineLevels = 0;
            Irr &= Elcr;
            Imr = Isr = 0;
            priorityAdd = 0;
            VectorBase = 0;
            readIsr = Poll = specialMask = autoEoi = rotateOnAutoEoi = specialFullyNested = false;
            expectIcw4 = singleMode = false;
            initStep = 0;
        }

        public void Save(BinaryWriter w)
        {
            w.Write(Irr); w.Write(Isr); w.Write(Imr); w.Write(Elcr); w.Write(Poll);
            w.Write(lineLevels); w.Write(priorityAdd); w.Write(readIsr); w.Write(specialMask);
            w.Write(autoEoi); w.Write(rotateOnAutoEoi); w.Write(specialFullyNested);
            w.Write(expectIcw4); w.Write(singleMode); w.Write(initStep); w.Write(VectorBase);
        }

        public void Load(BinaryReader r)
        {
            Irr = r.ReadByte(); Isr = r.ReadByte(); Imr = r.ReadByte(); Elcr = r.ReadByte(); Poll = r.ReadBoolean();
            lineLevels = r.ReadByte(); priorityAdd = r.ReadByte(); readIsr = r.ReadBoolean(); specialMask = r.ReadBoolean();
            autoEoi = r.ReadBoolean(); rotateOnAutoEoi = r.ReadBoolean(); specialFullyNested = r.ReadBoolean();
            expectIcw4 = r.ReadBoolean(); singleMode = r.ReadBoolean(); initStep = r.ReadInt32(); VectorBase = r.ReadInt32();
        }
    }
}
