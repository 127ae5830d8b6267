using System.Diagnostics;
using Emu.Block;
using Emu.Block.Qcow2;
using Emu.Hardware;
using Emu.Hardware.Ide;
using Emu.Hardware.Pci;
using Emu.X86;

namespace Emu.Machine;

/// <summary>The PC: i440FX/PIIX3 chipset, legacy devices, IDE disks on the block layer, SeaBIOS, and the CPU, run on one thread.</summary>
public sealed class Pc : IDisposable
{
    public const int ExitTimeout = 124;

    private readonly MachineConfig _config;
    private readonly Bus _bus;
    private readonly Cpu _cpu;
    private readonly Emu.X86.PhysicalMemory _cpuMemory;
    private readonly OutputSink _serial;
    private Uart16550 _uart = null!;
    private readonly OutputSink _debugcon;
    private readonly List<BlockDevice> _disks = [];
    private readonly List<string> _temporaryFiles = [];
    private readonly Stopwatch _hostClock = new();
    // Guest time runs only while the machine does: like QEMU's virtual clock it stands still while the machine is
    // paused or being saved or restored, so neither the guest's clocks nor its timers see those gaps.
    private readonly Stopwatch _guestClock = new();
    private long _clockBase;
    private bool _paused, _running;
    private volatile bool _quitRequested;
    private long _screenShown = -1;
    private TimeSpan _screenCheckedAt;
    private bool _mapDirty;

    public Bus Bus => _bus;

    /// <summary>The VGA adapter; its text screen is readable headless through <see cref="Vga.GetTextLines"/>.</summary>
    public Vga Vga { get; private set; } = null!;

    /// <summary>While paused (monitor stop) the CPU does not run; devices and the monitor still do.</summary>
    public bool Paused
    {
        get => _paused;
        set
        {
            _paused = value;
            UpdateGuestClock();
            // A profile covers the time the guest runs: not a monitor stop, nor savevm or loadvm work.
            if (!value)
                Profiler?.Restart();
        }
    }

    private void UpdateGuestClock()
    {
        if (_running && !_paused)
            _guestClock.Start();
        else
            _guestClock.Stop();
    }

    /// <summary>Runs work on the whole machine (savevm, loadvm) with the machine paused, as QEMU does: guest time
    /// does not move meanwhile.</summary>
    internal void WhilePaused(Action work) => WhilePaused(() =>
    {
        work();
        return 0;
    });

    /// <inheritdoc cref="WhilePaused(Action)"/>
    internal T WhilePaused<T>(Func<T> work)
    {
        bool was = _paused;
        Paused = true;
        try
        {
            return work();
        }
        finally
        {
            Paused = was;
        }
    }

    /// <summary>Guest time in nanoseconds: the source of the devices' clock and the TSC; it stops while the machine is paused.</summary>
    public long GuestTimeNs => NowNs();

    /// <summary>Runs work on the machine thread between CPU slices (thread-safe).</summary>
    public void Post(Action work)
    {
        _bus.Post(work);
        _cpu?.Stop();
    }
    /// <summary>Host input COM1 holds at most before the reader waits for the guest to take some.</summary>
    public const int SerialInputBacklog = 64 * 1024;

    /// <summary>Feeds COM1's receiver with what <paramref name="input"/> yields (a background thread reads it until
    /// its end), as a terminal attached to the serial port: <c>emu run --serial stdio</c> with stdin.</summary>
    /// <remarks>Reading pauses while <see cref="SerialInputBacklog"/> bytes wait for the guest, so an endless
    /// input (<c>&lt; /dev/zero</c>) that the guest never reads costs bounded memory.</remarks>
    public void AttachSerialInput(Stream input)
    {
        int posted = 0;   // bytes read and posted but not yet handed to the UART
        var reader = new Thread(() =>
        {
            var buffer = new byte[256];
            try
            {
                int n;
                while ((n = input.Read(buffer)) > 0)
                {
                    var chunk = buffer[..n];
                    Interlocked.Add(ref posted, n);
                    Post(() =>
                    {
                        _uart.Receive(chunk);
                        Interlocked.Add(ref posted, -chunk.Length);
                    });
                    while (Volatile.Read(ref posted) + _uart.PendingHostInput > SerialInputBacklog)
                        Thread.Sleep(10);
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // The input went away: the line just goes quiet.
            }
        })
        { IsBackground = true, Name = "serial input" };
        reader.Start();
    }

    public Cpu Cpu => _cpu;
    public IReadOnlyList<BlockDevice> Disks => _disks;

    public Pc(MachineConfig config, Stream? stdout = null)
    {
        _config = config;
        if (config.Memory is < 2 or > 2047)
            throw new MachineException($"Invalid memory size {config.Memory} MiB (2 to 2047)");
        _bus = new Bus((long)config.Memory << 20);
        _serial = new OutputSink(config.Serial, stdout);
        if (config.Display == "none" && config.Serial != "stdio" && config.Debugcon != "stdio" && config.Monitor != "stdio")
            _screenOut = new StreamWriter(stdout ?? Console.OpenStandardOutput()) { AutoFlush = false };
        _debugcon = new OutputSink(config.Debugcon, stdout);
        try
        {
            BuildDevices(stdout);
            _cpuMemory = new Emu.X86.PhysicalMemory(_bus.Memory.Ram, new CpuMemoryBridge(_bus.Memory));
            _cpu = new Cpu(_cpuMemory, new CpuIoBridge(_bus.Io, SyncClockForIo), new CpuInterruptBridge(_bus))
            {
                TimeStampSource = () => (ulong)NowNs(),
            };
            // Map changes happen inside port writes (PAM, A20, PCI BARs) while the CPU runs: stop it after this
            // instruction and re-sync before the next one.
            _bus.Memory.MapChanged += (firstPage, pages) =>
            {
                _mapDirty = true;
                if (pages > 0)
                {
                    _remappedFirst = Math.Min(_remappedFirst, firstPage);
                    _remappedEnd = Math.Max(_remappedEnd, firstPage + pages);
                }
                _cpu?.Stop();
            };
            _bus.Memory.RamWrittenByDevice += (address, length) => _cpu.InvalidateCode((uint)address, (uint)length);
            SyncMemoryMap();
            _cpu.Reset();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private void BuildDevices(Stream? stdout)
    {
        var bios = Firmware.Load(Firmware.Find(_config.Bios, "bios-256k.bin"), 256 * 1024);
        // The BIOS sits just below 4 GiB, and its last 128 KiB also at 0xE0000 (the isa-bios alias).
        _bus.Memory.AddRom((uint)(0x1_0000_0000L - bios.Length), bios);
        int low = Math.Min(bios.Length, 128 * 1024);
        _bus.Memory.AddRom((uint)(0x100000 - low), bios[^low..]);

        var pic = new Pic8259(_bus);
        _ = new Pit8254(_bus);
        var rtc = new CmosRtc(_bus, DateTime.UtcNow);
        rtc.SetMemory(_bus.Memory.LowRamSize, _bus.Memory.HighRamSize);
        rtc.SetCpuCount(1);
        _ = new I8042(_bus);
        _ = new Port92(_bus);
        _uart = new Uart16550(_bus, _serial.Write);
        _ = new DebugConsole(_bus, _debugcon.Write);
        _ = new DebugExit(_bus);
        var pci = new PciBus(_bus);
        _ = new I440fx(pci);
        _ = new Piix3Isa(pci);
        var ide = new IdeController(_bus);
        _ = new Piix4Ide(pci, ide);
        _ = new Piix4Pm(pci);
        Vga = new Vga(pci, Firmware.Load(Firmware.Find(_config.VgaBios, "vgabios-stdvga.bin"), 128 * 1024));
        _ = new FwCfg(_bus, cpuCount: 1);
        // SeaBIOS builds ACPI tables for this machine itself (QEMU-style DSDT with the PCI root windows Linux needs).
        rtc.SetBootOrder(_config.Boot == "d" ? "dc" : "cd");
        GC.KeepAlive(pic);

        int next = 0;
        foreach (var disk in _config.Disks)
        {
            int slot = disk.Channel is int c ? c * 2 + (disk.Position ?? 0) : next;
            if (slot is < 0 or > 3)
                throw new MachineException($"Invalid IDE position for disk '{disk.Path}'");
            next = Math.Max(next, slot + 1);
            var device = OpenDisk(disk);
            ide.AttachDisk(slot / 2, slot % 2, new DiskBackend(device));
        }
        if (_config.Cdrom != null)
        {
            var driver = OpenImage(_config.Cdrom, new ImageOptions { Format = "raw", ReadOnly = true });
            ClaimImageFiles(driver);
            var device = new BlockDevice(driver, new BusEventLoop(_bus, Wake));
            _disks.Add(device);
            int slot = Math.Max(next, 2);
            if (slot > 3)
                throw new MachineException("No free IDE position for the CD-ROM");
            ide.AttachCdrom(slot / 2, slot % 2, new DiskBackend(device));
        }
    }

    private BlockDevice OpenDisk(DiskConfig disk)
    {
        BlockDriver driver;
        if (disk.Snapshot)
        {
            // Writes go to a temporary overlay; the image itself is only read.
            string format = disk.Format ?? ImageOpener.Probe(disk.Path);
            using (var probe = OpenImage(disk.Path, OpenOptions(disk, format) with { ReadOnly = true }))
            {
                string overlay = Qcow2Creator.CreateTemporaryOverlay(disk.Path, format, probe.Size);
                _temporaryFiles.Add(overlay);
                driver = OpenImage(overlay, OpenOptions(disk, "qcow2"));
            }
        }
        else
        {
            driver = OpenImage(disk.Path, OpenOptions(disk, disk.Format));
        }
        ClaimImageFiles(driver);
        var device = new BlockDevice(driver, new BusEventLoop(_bus, Wake));
        _disks.Add(device);
        return device;
    }

    /// <summary>Opens a drive's image; when a file is locked by another of this machine's drives, says so plainly.</summary>
    private BlockDriver OpenImage(string path, ImageOptions options)
    {
        try
        {
            return ImageOpener.Open(path, options);
        }
        catch (BlockException e) when (LockedFile(e) is { } file && _imageFiles.ContainsKey(CanonicalPath(file)))
        {
            throw new MachineException(SharedByDrives(CanonicalPath(file)));
        }

        static string? LockedFile(Exception? e)
        {
            for (; e != null; e = e.InnerException)
                if (e is ImageLockException l)
                    return l.Path;
            return null;
        }
    }

    private static string SharedByDrives(string path) => $"'{path}' is already used by another drive, and one of the two would write it";

    // Every image file the drives use (backing files included), and whether a drive writes it.
    private readonly Dictionary<string, bool> _imageFiles = [];

    /// <summary>Refuses a drive whose image files another drive already uses when either of them writes the file:
    /// one drive's writes would change what the other reads or corrupt its metadata. QEMU's image locking
    /// refuses the same (two drives reading one image, or one backing file, is fine).</summary>
    private void ClaimImageFiles(BlockDriver driver)
    {
        var files = new List<(string Path, bool Writable)>();
        for (BlockDriver? d = driver; d != null; d = d.Backing)
            files.Add((CanonicalPath(d.FileName), !d.ReadOnly));
        foreach (var (path, writable) in files)
        {
            if (_imageFiles.TryGetValue(path, out bool writtenElsewhere) && (writable || writtenElsewhere))
            {
                driver.Dispose();
                throw new MachineException(SharedByDrives(path));
            }
        }
        foreach (var (path, writable) in files)
            _imageFiles[path] = writable || _imageFiles.GetValueOrDefault(path);
    }

    private static string CanonicalPath(string path)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        return info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName;
    }

    private static ImageOptions OpenOptions(DiskConfig disk, string? format) =>
        ImageOpenOptions.Apply(new ImageOptions { Format = format }, disk.Options ?? []);

    /// <summary>Routes the CPU's accesses to pages that are not plain RAM (VGA window, ROM, shadow RAM) through the bus.</summary>
    private void SyncMemoryMap()
    {
        _mapDirty = false;
        var mem = _bus.Memory;
        uint end = (uint)Math.Min(mem.Ram.Length, 0x100000);
        // One routing call per run of pages routed alike: each call flushes the CPU's TLB.
        for (uint run = 0xA0000; run < end;)
        {
            bool readDirect = Direct(run, false), writeDirect = Direct(run, true);
            uint next = run + 4096;
            while (next < end && Direct(next, false) == readDirect && Direct(next, true) == writeDirect)
                next += 4096;
            _cpuMemory?.SetBusRouting(run, next - run, !readDirect, !writeDirect);
            run = next;
        }
        if (_cpu != null)
        {
            _cpu.A20Enabled = mem.A20Enabled;
            InvalidateRemappedCode();
        }

        // Whether the page's accesses of that kind reach its own RAM directly (not the bus: ROM, MMIO, shadowing).
        bool Direct(uint page, bool write) => mem.RamOffset(page, write) == page;
    }

    /// <summary>Drops decoded code only where the bytes behind a page changed target (ROM, shadow RAM, a BAR moving):
    /// Linux sizes every PCI BAR at boot, and dropping all decoded code each time cost tens of milliseconds.</summary>
    private void InvalidateRemappedCode()
    {
        if (_remappedEnd <= _remappedFirst)
            return;
        ulong start = (ulong)_remappedFirst << 12, length = (ulong)(_remappedEnd - _remappedFirst) << 12;
        if (length > uint.MaxValue)
            _cpu.FlushDecodeCache();
        else
            _cpu.InvalidateCode((uint)start, (uint)length);
        _remappedFirst = uint.MaxValue;
        _remappedEnd = 0;
    }

    // Pages whose targets changed since the last sync ([first, end) in pages).
    private uint _remappedFirst = uint.MaxValue, _remappedEnd;

    // Called from I/O threads: Stop only sets flags the CPU polls, so a racy call is harmless.
    private void Wake() => _cpu?.Stop();

    /// <summary>Brings guest time up to the host's before a port access, once per instruction (a string
    /// instruction's elements share it): timers the guest polls (PIT, PM timer, RTC) then move between two
    /// reads, not only between the run loop's slices, which Linux's TSC calibration needs.</summary>
    private void SyncClockForIo()
    {
        ulong at = _cpu.InstructionCount;
        if (at == _clockSyncedAt)
            return;
        _clockSyncedAt = at;
        _bus.Clock.AdvanceTo(NowNs());
    }

    private ulong _clockSyncedAt = ulong.MaxValue;

    private long NowNs() => _clockBase + (long)(_guestClock.Elapsed.TotalMilliseconds * 1_000_000);

    /// <summary>After a state restore: the virtual clock continues from the saved time; memory routing follows the restored chipset.</summary>
    internal void AfterStateLoad()
    {
        _clockBase = _bus.Clock.Now - (long)(_guestClock.Elapsed.TotalMilliseconds * 1_000_000);
        // RAM was replaced wholesale: no decoded instruction can be trusted.
        _cpu.FlushDecodeCache();
        SyncMemoryMap();
    }

    /// <summary>Instructions retired and host seconds the machine has been running (for MIPS).</summary>
    public CpuStats CpuStats() => new(_cpu.InstructionCount, _hostClock.Elapsed.TotalSeconds, _cpu.BlocksCompiled);

    /// <summary>When set, samples where the guest spends host time (<c>emu run --profile</c>).</summary>
    public GuestProfiler? Profiler { get; set; }

    /// <summary>Asks the run loop to stop (monitor quit, Ctrl-C); the run ends cleanly with status 0.</summary>
    public void RequestQuit() => _quitRequested = true;

    /// <summary>Runs the machine until the guest exits, powers off, the timeout passes or a quit is requested; returns the exit status.</summary>
    public int Run()
    {
        _hostClock.Start();
        Profiler?.Restart();
        _running = true;
        UpdateGuestClock();
        var deadline = _config.Timeout > 0 ? TimeSpan.FromSeconds(_config.Timeout) : TimeSpan.MaxValue;
        const int slice = 50_000;
        while (true)
        {
            _bus.Clock.AdvanceTo(NowNs());
            _bus.Events.RunPending();
            switch (_bus.PendingRequest)
            {
                case MachineRequest.Exit:
                    return Finish(_bus.ExitStatus);
                case MachineRequest.PowerOff:
                    return Finish(0);
                case MachineRequest.Reset:
                    _bus.ClearRequest();
                    _bus.ResetDevices();
                    _cpu.Reset();
                    SyncMemoryMap();
                    break;
            }
            if (_quitRequested)
                return Finish(0);
            if (_hostClock.Elapsed > deadline)
                return Finish(ExitTimeout);
            if (_cpu.InShutdown)
            {
                // Triple fault: the PC resets, as QEMU's pc machine does by default.
                _bus.ResetDevices();
                _cpu.Reset();
                SyncMemoryMap();
                continue;
            }
            if (_mapDirty)
                SyncMemoryMap();
            ShowScreenIfChanged(false);
            if (Paused)
            {
                _bus.Events.WaitForWork(TimeSpan.FromMilliseconds(20));
                continue;
            }
            _cpu.Run(Profiler != null ? GuestProfiler.SliceInstructions : slice);
            uint stoppedAt = Profiler != null ? _cpu.GetSegment(SegReg.CS).Base + _cpu.Eip : 0;
            if (_cpu.Halted && !_bus.Events.HasPending)
            {
                long next = _bus.Clock.NextDeadline;
                long wait = next == long.MaxValue ? 10_000_000 : Math.Clamp(next - NowNs(), 0, 10_000_000);
                if (wait > 50_000)
                    _bus.Events.WaitForWork(TimeSpan.FromTicks(wait / 100));
            }
            Profiler?.Record(stoppedAt);
        }
    }

    /// <summary>Headless text console: with nothing else on stdout (no serial there), the VGA text screen is
    /// printed there whenever it changed, at most five times a second.</summary>
    private void ShowScreenIfChanged(bool force)
    {
        if (_screenOut == null || (!force && _hostClock.Elapsed - _screenCheckedAt < TimeSpan.FromMilliseconds(200)))
            return;
        _screenCheckedAt = _hostClock.Elapsed;
        if (Vga.ScreenVersion == _screenShown)
            return;
        _screenShown = Vga.ScreenVersion;
        var lines = Vga.GetTextLines();
        if (lines.Length == 0)
            return;
        int last = Array.FindLastIndex(lines, l => l.Length > 0);
        _screenOut.WriteLine("---- screen ----");
        for (int i = 0; i <= last; i++)
            _screenOut.WriteLine(lines[i]);
        _screenOut.Flush();
    }

    private readonly TextWriter? _screenOut;

    /// <summary>Completes in-flight requests, flushes every image, and returns the exit status.</summary>
    private int Finish(int status)
    {
        _running = false;
        UpdateGuestClock();
        ShowScreenIfChanged(true);
        DrainDisks();
        foreach (var d in _disks)
        {
            try
            {
                d.Driver.Flush();
            }
            catch (BlockException e)
            {
                Console.Error.WriteLine($"emu run: flushing '{d.Driver.FileName}' failed: {e.Message}");
                status = status == 0 ? 1 : status;
            }
        }
        _serial.Flush();
        _debugcon.Flush();
        return status;
    }

    /// <summary>Runs block completions until no request is in flight (device callbacks still run, so guests see them finish).</summary>
    public void DrainDisks()
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (_disks.Any(d => d.InFlight > 0) && DateTime.UtcNow < until)
        {
            _bus.Events.WaitForWork(TimeSpan.FromMilliseconds(10));
            _bus.Events.RunPending();
        }
    }

    public void Dispose()
    {
        foreach (var d in _disks)
            d.Dispose();
        _disks.Clear();
        foreach (var f in _temporaryFiles)
            File.Delete(f);
        _serial.Dispose();
        _debugcon.Dispose();
    }
}
