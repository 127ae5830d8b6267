namespace Emu.Hardware.Pci;

/// <summary>PIIX4 power management function (8086:7113) at 01.3: ACPI PM1 registers and PM timer at PMBA (0x40), SCI on IRQ9, APM ports 0xB2/0xB3.</summary>
/// <remarks>Writing PM1a_CNT with SLP_EN and sleep type <see cref="S5SleepType"/> powers off; 0 is what QEMU's
/// tables give S5 and what SeaBIOS's APM shutdown writes (0x2000).</remarks>
public sealed class Piix4Pm : PciFunction, IIoHandler
{
    /// <summary>SLP_TYP value that means soft-off (S5).</summary>
    public const int S5SleepType = 0;
    /// <summary>The ACPI PM timer's rate in Hz.</summary>
    public const long TimerFrequency = 3_579_545;
    private const int PmBase = 0x40, PmRegMisc = 0x80, DevActB = 0x58, SmbusBase = 0x90, SmbusConfig = 0xD2;
    private const int IoSize = 64;
    private const int Pm1Status = 0x00, Pm1Enable = 0x02, Pm1Control = 0x04, PmTimer = 0x08;
    private const ushort StatusTimer = 0x0001, StatusGlobal = 0x0020, StatusPowerButton = 0x0100, StatusRtc = 0x0400;
    private const ushort SciEvents = StatusTimer | StatusGlobal | StatusPowerButton | StatusRtc;
    private const ushort ControlSciEnable = 0x0001, ControlSleepEnable = 0x2000;
    private const byte AcpiEnable = 0xF1, AcpiDisable = 0xF0; // the SMI_CMD values QEMU's FADT advertises
    private const int SciIrq = 9;

    private readonly byte[] registers = new byte[IoSize];
    private readonly ApmPorts apm;
    private readonly GpeBlock gpe = new();
    private readonly TimerEvent overflowTimer;
    private int mappedBase = -1;
    private long lastOverflow;   // PM timer overflow count (bit 23 flips) already reflected in TMR_STS
    private bool sciLevel;

    /// <summary>Creates the PM function at 01.3 for a one-CPU machine.</summary>
    public Piix4Pm(PciBus pci)
        : this(pci, cpuCount: 1)
    {
    }

    /// <summary>Creates the PM function at 01.3 and claims the APM ports 0xB2/0xB3, the GPE0 block and QEMU's hotplug
    /// status ports (0xAE00 PCI, 0xAF00 CPU) for a machine of <paramref name="cpuCount"/> CPUs.</summary>
    public Piix4Pm(PciBus pci, int cpuCount)
        : base(pci, "piix4-pm", device: 1, function: 3, vendorId: 0x8086, deviceId: 0x7113, revision: 0x03,
            classCode: 0x068000, interruptPin: 1)
    {
        Write8(InterruptLine, SciIrq);
        Write32(PmBase, 0x0000_0001);     // I/O space indicator
        SetWritable(PmBase, 0xC0, 0xFF);
        SetWritable(PmRegMisc, 0x01);
        Write32(SmbusBase, 0x0000_0001);
        SetWritable(SmbusBase, 0xF0, 0xFF);
        SetWritable(SmbusConfig, 0x0F);
        SetWritable(DevActB, 0xFF, 0xFF, 0xFF, 0xFF);
        // Our CPU has no SMM: report APMC_EN (DEVACTB bit 25) as already set, as QEMU does without SMM,
        // so SeaBIOS skips the SMI handshake it would otherwise wait on forever.
        Write8(DevActB + 3, 0x02);
        overflowTimer = Bus.Clock.CreateTimer(OnOverflow);
        apm = new ApmPorts(this);
        Bus.Io.Register(0xB2, 2, apm);
        Bus.Io.Register(GpeBlock.Port, 4, gpe, IoWidth.All);
        var hotplug = new HotplugPorts(cpuCount);
        Bus.Io.Register(HotplugPorts.PciPort, HotplugPorts.PciLength, hotplug, IoWidth.All);
        Bus.Io.Register(HotplugPorts.CpuPort, HotplugPorts.CpuLength, hotplug, IoWidth.All);
        CapturePowerOnState();
    }

    /// <summary>First PM I/O port, or -1 while PM I/O is disabled.</summary>
    public int IoBase => mappedBase;

    /// <summary>Presses the power button: raises PWRBTN_STS and, if enabled, an SCI.</summary>
    public void PressPowerButton()
    {
        SetStatus(StatusPowerButton);
        UpdateSci();
    }

    public uint Read(ushort port, int size)
    {
        int offset = port - mappedBase;
        if (offset >= PmTimer && offset < PmTimer + 4)
            return TimerValue() >> (8 * (offset - PmTimer));
        if (offset < Pm1Enable)
            CatchUpOverflow();
        uint value = 0;
        for (int i = 0; i < size && offset + i < IoSize; i++)
            value |= (uint)registers[offset + i] << (8 * i);
        return value;
    }

    public void Write(ushort port, int size, uint value)
    {
        int offset = port - mappedBase;
        for (int i = 0; i < size && offset + i < IoSize; i++)
        {
            int at = offset + i;
            byte data = (byte)(value >> (8 * i));
            if (at < Pm1Enable)
                registers[at] &= (byte)~data; // status bits are write-one-to-clear
            else if (at < PmTimer || at >= PmTimer + 4)
                registers[at] = data;
        }
        if (Touches(offset, size, Pm1Control, 2))
            WriteControl();
        if (Touches(offset, size, Pm1Enable, 2))
            ArmOverflowTimer();
        UpdateSci();
    }

    private void WriteControl()
    {
        ushort control = ReadRegister(Pm1Control);
        if ((control & ControlSleepEnable) == 0)
            return;
        // SLP_EN is write-only: it triggers the transition and reads back as zero.
        WriteRegister(Pm1Control, (ushort)(control & ~ControlSleepEnable));
        if ((control >> 10 & 7) == S5SleepType)
            Bus.Request(MachineRequest.PowerOff);
    }

    private uint TimerValue() => (uint)(TimerTicks(Bus.Clock.Now) & 0xFF_FFFF);

    private static long TimerTicks(long now) => (long)((Int128)now * TimerFrequency / 1_000_000_000);

    // TMR_STS is set each time bit 23 of the 24-bit timer changes.
    private void CatchUpOverflow()
    {
        long overflow = TimerTicks(Bus.Clock.Now) >> 23;
        if (overflow == lastOverflow)
            return;
        lastOverflow = overflow;
        SetStatus(StatusTimer);
    }

    private void ArmOverflowTimer()
    {
        if ((ReadRegister(Pm1Enable) & StatusTimer) == 0)
        {
            overflowTimer.Cancel();
            return;
        }
        long next = (TimerTicks(Bus.Clock.Now) >> 23) + 1 << 23;
        overflowTimer.Arm((long)(((Int128)next * 1_000_000_000 + TimerFrequency - 1) / TimerFrequency));
    }

    private void OnOverflow()
    {
        CatchUpOverflow();
        UpdateSci();
        ArmOverflowTimer();
    }

    private void SetStatus(ushort bits) => WriteRegister(Pm1Status, (ushort)(ReadRegister(Pm1Status) | bits));

    private ushort ReadRegister(int offset) => (ushort)(registers[offset] | registers[offset + 1] << 8);

    private void WriteRegister(int offset, ushort value)
    {
        registers[offset] = (byte)value;
        registers[offset + 1] = (byte)(value >> 8);
    }

    private void UpdateSci(bool force = false)
    {
        bool level = (ReadRegister(Pm1Status) & ReadRegister(Pm1Enable) & SciEvents) != 0;
        if (level == sciLevel && !force)
            return;
        sciLevel = level;
        Bus.SetIrq(SciIrq, level);
    }

    protected override void OnConfigWritten(int offset, int size)
    {
        if (Touches(offset, size, PmBase, 4) || Touches(offset, size, PmRegMisc, 1))
            UpdateMapping();
    }

    protected override void OnConfigRestored()
    {
        UpdateMapping();
        ArmOverflowTimer();
        UpdateSci(force: true);
    }

    private void UpdateMapping()
    {
        int target = (Read8(PmRegMisc) & 0x01) != 0 ? (int)(Read32(PmBase) & 0xFFC0) : -1;
        MapIo(ref mappedBase, target, IoSize, this, IoWidth.All);
    }

    protected override void SaveExtra(BinaryWriter writer)
    {
        writer.Write(registers);
        writer.Write(lastOverflow);
        apm.Save(writer);
        gpe.Save(writer);
    }

    protected override void LoadExtra(BinaryReader reader)
    {
        reader.ReadBytes(IoSize).CopyTo(registers, 0);
        lastOverflow = reader.ReadInt64();
        apm.Load(reader);
        gpe.Load(reader);
    }

    protected override void ResetExtra()
    {
        Array.Clear(registers);
        lastOverflow = TimerTicks(Bus.Clock.Now) >> 23;
        apm.Reset();
        gpe.Reset();
    }

    /// <summary>APM control (0xB2) and status (0xB3) ports; the ACPI enable/disable commands toggle SCI_EN directly since there is no SMM.</summary>
    private sealed class ApmPorts(Piix4Pm pm) : IIoHandler
    {
        private byte control, status;

        public uint Read(ushort port, int size) => port == 0xB2 ? control : status;

        public void Write(ushort port, int size, uint value)
        {
            if (port == 0xB3)
            {
                status = (byte)value;
                return;
            }
            control = (byte)value;
            ushort pm1 = pm.ReadRegister(Pm1Control);
            if (control == AcpiEnable)
                pm.WriteRegister(Pm1Control, (ushort)(pm1 | ControlSciEnable));
            else if (control == AcpiDisable)
                pm.WriteRegister(Pm1Control, (ushort)(pm1 & ~ControlSciEnable));
        }

        public void Reset() => control = status = 0;

        public void Save(BinaryWriter writer)
        {
            writer.Write(control);
            writer.Write(status);
        }

        public void Load(BinaryReader reader)
        {
            control = reader.ReadByte();
            status = reader.ReadByte();
        }
    }

    /// <summary>The GPE0 block at QEMU's fixed 0xAFE0: 16 status bits (write-one-to-clear) and 16 enable bits.</summary>
    /// <remarks>No event source raises GPEs yet; the registers exist so ACPI tables that name them read sane values.</remarks>
    private sealed class GpeBlock : IIoHandler
    {
        public const ushort Port = 0xAFE0;
        private readonly byte[] registers = new byte[4];

        public uint Read(ushort port, int size)
        {
            uint value = 0;
            for (int i = 0; i < size && port - Port + i < 4; i++)
                value |= (uint)registers[port - Port + i] << (8 * i);
            return value;
        }

        public void Write(ushort port, int size, uint value)
        {
            for (int i = 0; i < size && port - Port + i < 4; i++)
            {
                int at = port - Port + i;
                byte data = (byte)(value >> (8 * i));
                registers[at] = at < 2 ? (byte)(registers[at] & ~data) : data;
            }
        }

        public void Reset() => Array.Clear(registers);

        public void Save(BinaryWriter writer) => writer.Write(registers);

        public void Load(BinaryReader reader) => reader.ReadBytes(registers.Length).CopyTo(registers, 0);
    }

    /// <summary>QEMU's piix4 hotplug status ports, which SeaBIOS's built-in ACPI tables (used when fw_cfg offers none)
    /// read: PCI slots up/down/eject/removable/select at 0xAE00-0xAE13 (all 0: nothing is hotplugged), and the CPU
    /// present bitmap at 0xAF00-0xAF1F (one bit per CPU). Without them the tables would read 0xFF: every slot
    /// changing and 256 CPUs present.</summary>
    private sealed class HotplugPorts(int cpuCount) : IIoHandler
    {
        public const ushort PciPort = 0xAE00, PciLength = 0x14, CpuPort = 0xAF00, CpuLength = 32;

        public uint Read(ushort port, int size)
        {
            uint value = 0;
            for (int i = 0; i < size; i++)
                value |= (uint)ReadByte(port + i) << (8 * i);
            return value;
        }

        private byte ReadByte(int port)
        {
            if (port < CpuPort || port >= CpuPort + CpuLength)
                return 0;
            int first = (port - CpuPort) * 8;
            int present = Math.Clamp(cpuCount - first, 0, 8);
            return (byte)((1 << present) - 1);
        }

        public void Write(ushort port, int size, uint value) { } // ejecting or selecting a slot: nothing to do
    }
}
