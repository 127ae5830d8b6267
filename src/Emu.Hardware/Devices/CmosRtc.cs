namespace Emu.Hardware;

/// <summary>MC146818 RTC and 128-byte CMOS NVRAM at 0x70/0x71 with IRQ8, plus the NVRAM fields SeaBIOS and guests read.</summary>
/// <remarks>Time is a settable base plus elapsed virtual time; the time registers are encoded on demand in
/// the format selected by register B, and decoded back when the guest sets the clock.</remarks>
public sealed class CmosRtc : IDevice, IIoHandler
{
    private const int RegSeconds = 0x00, RegSecondsAlarm = 0x01, RegMinutes = 0x02, RegMinutesAlarm = 0x03;
    private const int RegHours = 0x04, RegHoursAlarm = 0x05, RegDayOfWeek = 0x06, RegDay = 0x07;
    private const int RegMonth = 0x08, RegYear = 0x09, RegA = 0x0A, RegB = 0x0B, RegC = 0x0C, RegD = 0x0D;
    private const int RegCentury = 0x32;
    private const byte BSet = 0x80, BPie = 0x40, BAie = 0x20, BUie = 0x10, BBinary = 0x04, B24Hour = 0x02;
    private const byte CIrqf = 0x80, CPf = 0x40, CAf = 0x20, CUf = 0x10;
    private const long NsPerSecond = 1_000_000_000;
    // UIP rises 244 us before each update and the update itself takes under 2 ms; we report the 244 us window.
    private const long UipWindowNs = 244_000;

    private readonly Bus bus;
    private readonly byte[] nvram = new byte[128];
    private readonly TimerEvent periodicTimer;
    private readonly TimerEvent secondTimer;
    private int index;
    private DateTime baseTime;      // guest wall-clock time at virtual time baseNs
    private long baseNs;
    private DateTime frozenTime;    // the time while register B's SET bit stops the clock
    private long lastPeriod;        // periodic-interrupt period index last reported in register C

    /// <summary>Creates the RTC set to <paramref name="startTime"/> (guest local time; default: host local time now).</summary>
    public CmosRtc(Bus bus, DateTime? startTime = null)
    {
        this.bus = bus;
        periodicTimer = bus.Clock.CreateTimer(OnPeriodic);
        secondTimer = bus.Clock.CreateTimer(OnSecond);
        bus.Io.Register(0x70, 2, this);
        bus.AddDevice(this);
        nvram[RegA] = 0x26;   // 32.768 kHz time base, 1024 Hz periodic rate
        nvram[RegB] = B24Hour;
        nvram[RegD] = 0x80;   // valid RAM and time
        nvram[0x14] = 0x06;   // equipment: FPU and PS/2 mouse present, VGA, no floppy
        nvram[0x15] = 0x80;   // 640 KiB base memory
        nvram[0x16] = 0x02;
        SetTime(startTime ?? DateTime.Now);
        UpdateChecksum();
    }

    public string Name => "rtc";

    /// <summary>True when port 0x70 bit 7 masks NMI.</summary>
    public bool NmiMasked { get; private set; }

    /// <summary>The current RTC time.</summary>
    public DateTime Time => (nvram[RegB] & BSet) != 0 ? frozenTime : Elapsed(baseTime, bus.Clock.Now - baseNs);

    // The clock stops at the end of year 9999 rather than overflowing DateTime.
    private static DateTime Elapsed(DateTime start, long ns) =>
        new(Math.Min(start.Ticks + ns / 100, DateTime.MaxValue.Ticks), start.Kind);

    /// <summary>Sets the RTC to <paramref name="time"/> at the current virtual time.</summary>
    public void SetTime(DateTime time)
    {
        baseTime = frozenTime = time;
        baseNs = bus.Clock.Now;
        ArmSecondTimer();
    }

    /// <summary>Raw NVRAM byte (time registers are as last encoded); for firmware setup and tests.</summary>
    public byte this[int register]
    {
        get => nvram[register & 0x7F];
        set
        {
            nvram[register & 0x7F] = value;
            UpdateChecksum();
        }
    }

    /// <summary>Fills the memory-size fields the way QEMU's pc machine does, from RAM below and above 4 GiB.</summary>
    public void SetMemory(uint lowRam, long highRam)
    {
        uint baseKb = Math.Min(lowRam / 1024, 640);
        SetWord(0x15, baseKb);
        uint extendedKb = lowRam > 0x10_0000 ? Math.Min((lowRam - 0x10_0000) / 1024, 0xFFFF) : 0;
        SetWord(0x17, extendedKb);
        SetWord(0x30, extendedKb);
        uint above16M = lowRam > 0x100_0000 ? Math.Min((lowRam - 0x100_0000) / 0x1_0000, 0xFFFF) : 0;
        SetWord(0x34, above16M);
        long above4G = highRam / 0x1_0000;
        nvram[0x5B] = (byte)above4G;
        nvram[0x5C] = (byte)(above4G >> 8);
        nvram[0x5D] = (byte)(above4G >> 16);
        UpdateChecksum();
    }

    /// <summary>Sets the CPU count field (0x5F holds count - 1).</summary>
    public void SetCpuCount(int count) => nvram[0x5F] = (byte)(count - 1);

    /// <summary>Declares IDE disk <paramref name="index"/> (0 or 1) as type 47 with its CHS geometry.</summary>
    public void SetHardDisk(int index, int cylinders, int heads, int sectors)
    {
        // 0x12 holds a nibble per disk; 0xF means "see the extended type byte" (0x19/0x1A).
        nvram[0x12] = (byte)(index == 0 ? (nvram[0x12] & 0x0F) | 0xF0 : (nvram[0x12] & 0xF0) | 0x0F);
        nvram[0x19 + index] = 47;
        int at = index == 0 ? 0x1B : 0x24;
        nvram[at] = (byte)cylinders;
        nvram[at + 1] = (byte)(cylinders >> 8);
        nvram[at + 2] = (byte)heads;
        nvram[at + 3] = 0xFF; // no write precompensation
        nvram[at + 4] = 0xFF;
        nvram[at + 5] = (byte)(0xC0 | (heads > 8 ? 0x08 : 0));
        nvram[at + 6] = (byte)cylinders; // landing zone
        nvram[at + 7] = (byte)(cylinders >> 8);
        nvram[at + 8] = (byte)sectors;
        UpdateChecksum();
    }

    /// <summary>Writes the legacy boot order (letters a, c, d, n, first to third) to 0x3D/0x38 as QEMU does.</summary>
    public void SetBootOrder(string order)
    {
        int Code(int i) => i < order.Length ? order[i] switch { 'a' => 1, 'c' => 2, 'd' => 3, 'n' => 4, _ => 0 } : 0;
        nvram[0x3D] = (byte)(Code(1) << 4 | Code(0));
        nvram[0x38] = (byte)(Code(2) << 4 | 0x01); // bit 0: skip the floppy boot-signature check
    }

    public uint Read(ushort port, int size)
    {
        if (port == 0x70)
            return 0xFF;
        switch (index)
        {
            case RegA:
                return (uint)(nvram[RegA] & 0x7F) | (UpdateInProgress() ? 0x80u : 0);
            case RegC:
                return ReadRegisterC();
            case RegSeconds or RegMinutes or RegHours or RegDayOfWeek or RegDay or RegMonth or RegYear or RegCentury:
                if ((nvram[RegB] & BSet) == 0)
                    Encode(Time);
                return nvram[index];
            default:
                return nvram[index];
        }
    }

    public void Write(ushort port, int size, uint value)
    {
        byte data = (byte)value;
        if (port == 0x70)
        {
            index = data & 0x7F;
            NmiMasked = (data & 0x80) != 0;
            return;
        }
        switch (index)
        {
            case RegA:
                nvram[RegA] = (byte)(data & 0x7F);
                ArmPeriodicTimer();
                break;
            case RegB:
                WriteRegisterB(data);
                break;
            case RegC or RegD:
                break; // read-only
            case RegSeconds or RegMinutes or RegHours or RegDayOfWeek or RegDay or RegMonth or RegYear or RegCentury:
                if ((nvram[RegB] & BSet) == 0)
                    Encode(Time);
                nvram[index] = data;
                if ((nvram[RegB] & BSet) == 0)
                    SetTime(Decode());
                break;
            default:
                nvram[index] = data;
                break;
        }
    }

    private void WriteRegisterB(byte data)
    {
        byte old = nvram[RegB];
        if ((data & BSet) != 0 && (old & BSet) == 0)
        {
            frozenTime = Time;
            Encode(frozenTime);
            secondTimer.Cancel();
        }
        // SET also stops update-ended interrupts.
        if ((data & BSet) != 0)
            data &= unchecked((byte)~BUie);
        nvram[RegB] = data;
        if ((data & BSet) == 0 && (old & BSet) != 0)
            SetTime(Decode());
        else if ((old & (BBinary | B24Hour)) != (data & (BBinary | B24Hour)) && (data & BSet) != 0)
            Encode(frozenTime);
        ArmPeriodicTimer();
        UpdateIrq();
    }

    private uint ReadRegisterC()
    {
        long now = bus.Clock.Now;
        // Flags are set whether or not their interrupt is enabled; catch up on events with no timer behind them.
        long period = PeriodIndex(now);
        if (period >= 0 && period != lastPeriod)
            nvram[RegC] |= CPf;
        lastPeriod = period;
        byte value = nvram[RegC];
        nvram[RegC] = 0;
        bus.SetIrq(8, false);
        return value;
    }

    private bool UpdateInProgress()
    {
        if ((nvram[RegB] & BSet) != 0)
            return false;
        long phase = Time.Ticks % TimeSpan.TicksPerSecond * 100;
        return phase >= NsPerSecond - UipWindowNs;
    }

    // Length of one periodic-interrupt period in 32.768 kHz ticks, or 0 when off.
    private int PeriodTicks()
    {
        int rate = nvram[RegA] & 0x0F;
        return rate == 0 ? 0 : rate <= 2 ? 1 << (rate + 6) : 1 << (rate - 1);
    }

    private long PeriodIndex(long now)
    {
        int ticks = PeriodTicks();
        return ticks == 0 ? -1 : (long)((Int128)now * 32768 / NsPerSecond / ticks);
    }

    private void ArmPeriodicTimer()
    {
        if ((nvram[RegB] & BPie) == 0 || PeriodTicks() == 0)
        {
            periodicTimer.Cancel();
            return;
        }
        long next = PeriodIndex(bus.Clock.Now) + 1;
        periodicTimer.Arm((long)(((Int128)next * PeriodTicks() * NsPerSecond + 32767) / 32768));
    }

    private void OnPeriodic()
    {
        lastPeriod = PeriodIndex(bus.Clock.Now);
        nvram[RegC] |= CPf;
        UpdateIrq();
        ArmPeriodicTimer();
    }

    private long SecondIndex(long now) => (baseTime.Ticks + (now - baseNs) / 100) / TimeSpan.TicksPerSecond;

    private void ArmSecondTimer()
    {
        if ((nvram[RegB] & BSet) != 0)
        {
            secondTimer.Cancel();
            return;
        }
        long nextSecondTicks = (SecondIndex(bus.Clock.Now) + 1) * TimeSpan.TicksPerSecond;
        secondTimer.Arm(baseNs + (nextSecondTicks - baseTime.Ticks) * 100);
    }

    private void OnSecond()
    {
        nvram[RegC] |= CUf;
        Encode(Time);
        if (AlarmMatches())
            nvram[RegC] |= CAf;
        UpdateIrq();
        ArmSecondTimer();
    }

    // An alarm byte with its two top bits set matches any value.
    private bool AlarmMatches()
    {
        static bool Match(byte alarm, byte value) => (alarm & 0xC0) == 0xC0 || alarm == value;
        return Match(nvram[RegSecondsAlarm], nvram[RegSeconds])
            && Match(nvram[RegMinutesAlarm], nvram[RegMinutes])
            && Match(nvram[RegHoursAlarm], nvram[RegHours]);
    }

    private void UpdateIrq()
    {
        byte b = nvram[RegB], c = nvram[RegC];
        bool pending = ((b & BPie) != 0 && (c & CPf) != 0)
            || ((b & BAie) != 0 && (c & CAf) != 0)
            || ((b & BUie) != 0 && (c & CUf) != 0);
        if (pending && (c & CIrqf) == 0)
        {
            nvram[RegC] |= CIrqf;
            bus.SetIrq(8, true);
        }
    }

    private byte ToRegister(int value) => (nvram[RegB] & BBinary) != 0 ? (byte)value : (byte)((value / 10) << 4 | value % 10);

    private int FromRegister(byte value) => (nvram[RegB] & BBinary) != 0 ? value : (value >> 4) * 10 + (value & 0x0F);

    private void Encode(DateTime time)
    {
        nvram[RegSeconds] = ToRegister(time.Second);
        nvram[RegMinutes] = ToRegister(time.Minute);
        if ((nvram[RegB] & B24Hour) != 0)
            nvram[RegHours] = ToRegister(time.Hour);
        else
        {
            int hour12 = time.Hour % 12 == 0 ? 12 : time.Hour % 12;
            nvram[RegHours] = (byte)(ToRegister(hour12) | (time.Hour >= 12 ? 0x80 : 0));
        }
        nvram[RegDayOfWeek] = ToRegister((int)time.DayOfWeek + 1);
        nvram[RegDay] = ToRegister(time.Day);
        nvram[RegMonth] = ToRegister(time.Month);
        nvram[RegYear] = ToRegister(time.Year % 100);
        nvram[RegCentury] = ToRegister(time.Year / 100);
    }

    private DateTime Decode()
    {
        int hour;
        if ((nvram[RegB] & B24Hour) != 0)
            hour = FromRegister(nvram[RegHours]);
        else
        {
            hour = FromRegister((byte)(nvram[RegHours] & 0x7F)) % 12;
            if ((nvram[RegHours] & 0x80) != 0)
                hour += 12;
        }
        int year = FromRegister(nvram[RegCentury]) * 100 + FromRegister(nvram[RegYear]);
        int month = FromRegister(nvram[RegMonth]);
        int day = FromRegister(nvram[RegDay]);
        int minute = FromRegister(nvram[RegMinutes]);
        int second = FromRegister(nvram[RegSeconds]);
        // Keep the old time if the guest left an impossible date; a real RTC would just count garbage.
        if (year is < 1 or > 9999 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59)
            return Time;
        return new DateTime(year, month, day, hour, minute, second, Time.Kind);
    }

    private void SetWord(int register, uint value)
    {
        nvram[register] = (byte)value;
        nvram[register + 1] = (byte)(value >> 8);
    }

    // Standard AT checksum over 0x10-0x2D, stored big-endian at 0x2E.
    private void UpdateChecksum()
    {
        int sum = 0;
        for (int i = 0x10; i <= 0x2D; i++)
            sum += nvram[i];
        nvram[0x2E] = (byte)(sum >> 8);
        nvram[0x2F] = (byte)sum;
    }

    public void Reset()
    {
        // Only the interrupt enables and flags reset; the clock and NVRAM are battery-backed.
        nvram[RegB] &= unchecked((byte)~(BPie | BAie | BUie));
        nvram[RegC] = 0;
        bus.SetIrq(8, false);
        ArmPeriodicTimer();
    }

    public void Save(BinaryWriter writer)
    {
        writer.Write(nvram);
        writer.Write(index);
        writer.Write(NmiMasked);
        writer.Write(baseTime.Ticks);
        writer.Write((int)baseTime.Kind);
        writer.Write(baseNs);
        writer.Write(frozenTime.Ticks);
        writer.Write(lastPeriod);
        periodicTimer.Save(writer);
        secondTimer.Save(writer);
    }

    public void Load(BinaryReader reader)
    {
        reader.ReadBytes(nvram.Length).CopyTo(nvram, 0);
        index = reader.ReadInt32();
        NmiMasked = reader.ReadBoolean();
        long ticks = reader.ReadInt64();
        baseTime = new DateTime(ticks, (DateTimeKind)reader.ReadInt32());
        baseNs = reader.ReadInt64();
        frozenTime = new DateTime(reader.ReadInt64(), baseTime.Kind);
        lastPeriod = reader.ReadInt64();
        periodicTimer.Load(reader);
        secondTimer.Load(reader);
        bus.SetIrq(8, (nvram[RegC] & CIrqf) != 0);
    }
}
