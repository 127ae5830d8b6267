using System.Globalization;
using Emu.Block;
using Emu.Machine;

namespace Emu.Cli.Run;

/// <summary><c>emu run</c>: boots a machine from a config file and command-line options.</summary>
public static class RunCommand
{
    private const string Usage = """
        usage: emu run [options]
        Boots a PC: SeaBIOS, IDE disks and CD-ROM, serial console. Without options, the built-in demo guest.

          --config FILE              machine configuration (JSON; default: config/default.json)
          --disk PATH[,format=F][,snapshot=on][,cache=...]...
                                     an IDE disk (repeatable: primary master, slave, secondary ...)
          --cdrom ISO                an ATAPI CD-ROM
          --memory MIB               guest RAM
          --bios FILE                firmware image (default: Debian's SeaBIOS)
          --boot c|d                 boot from the first disk or the CD-ROM
          --display none             headless (the VGA text screen is printed when nothing else uses stdout)
          --serial stdio|none|file:PATH
          --debugcon stdio|none|file:PATH
          --monitor stdio|none       QEMU's monitor commands (savevm, loadvm, info ..., stop, cont, quit)
          --loadvm NAME              start from an internal snapshot
          --timeout SECONDS          end the run after this long (exit status 124)
          --cpu-stats                print guest instructions, host time and MIPS when the run ends
          --profile FILE             write where the guest spent host time
          --profile-symbols MAP      name the profile's addresses from a System.map or /proc/kallsyms listing
          -h, --help                 show this help
        """;

    public static int Run(string[] args, TextWriter stderr)
    {
        var o = new GetOpt(args, "", "h",
            ["config", "disk", "cdrom", "memory", "bios", "boot", "display", "serial", "debugcon", "monitor", "loadvm", "timeout",
                "profile", "profile-symbols"],
            ["cpu-stats", "help"]);
        if (o.Has("h") || o.Has("help"))
        {
            Console.Out.Write(Usage);
            return 0;
        }
        if (o.Operands.Count > 0)
            throw new UsageException($"unexpected argument '{o.Operands[0]}'");
        string configPath = o.Get("config") ?? DefaultConfig();
        var cfg = MachineConfig.Load(configPath);
        if (o.Has("disk"))
            cfg = cfg with { Disks = o.GetAll("disk").Select(ParseDisk).ToList(), DemoGuest = false };
        if (o.Get("cdrom") is { } cd)
            cfg = cfg with { Cdrom = FullPath("cdrom", cd) };
        if (o.Get("memory") is { } mem)
            cfg = cfg with { Memory = int.TryParse(mem, out int m) ? m : throw new UsageException($"invalid --memory '{mem}'") };
        if (o.Get("bios") is { } bios)
            cfg = cfg with { Bios = FullPath("bios", bios) };
        if (o.Get("boot") is { } boot)
            cfg = cfg with { Boot = boot is "c" or "d" ? boot : throw new UsageException($"invalid --boot '{boot}' (c or d)") };
        if (o.Get("display") is { } display)
            cfg = cfg with { Display = display is "none" ? display : throw new UsageException($"--display {display} is not available in this build (none)") };
        if (o.Get("serial") is { } serial)
            cfg = cfg with { Serial = serial };
        if (o.Get("debugcon") is { } debugcon)
            cfg = cfg with { Debugcon = debugcon };
        if (o.Get("monitor") is { } monitor)
            cfg = cfg with { Monitor = monitor };
        if (o.Get("loadvm") is { } loadvm)
            cfg = cfg with { LoadVm = loadvm };
        if (o.Get("timeout") is { } timeout)
            cfg = cfg with
            {
                Timeout = double.TryParse(timeout, NumberStyles.Float, CultureInfo.InvariantCulture, out double t) && t >= 0 ? t
                    : throw new UsageException($"invalid --timeout '{timeout}'"),
            };
        if (cfg.Disks.Count == 0 && cfg.Cdrom == null)
            throw new UsageException("no disk or CD-ROM to boot (use --disk PATH or --cdrom ISO)");
        if (cfg.DemoGuest)
            DemoGuest.EnsureDisk(cfg.Disks[0].Path, cfg.Root);

        if (cfg.Monitor is not ("none" or "stdio"))
            throw new UsageException($"--monitor {cfg.Monitor}: only stdio and none are supported");
        SymbolMap? symbols = o.Get("profile-symbols") is { } map ? LoadSymbols(map, o.Get("profile")) : null;
        // The report's file is created before the run, so a bad path fails before the guest has run for nothing.
        using var profile = o.Get("profile") is { } profilePath ? CreateReport(profilePath) : null;
        using var pc = new Pc(cfg);
        if (profile != null)
            pc.Profiler = new GuestProfiler();
        var hmp = new Emu.Machine.Monitor(pc, Console.In, Console.Out);
        if (cfg.LoadVm != null)
            new Snapshots(pc).Load(cfg.LoadVm);
        if (cfg.Monitor == "stdio")
            hmp.Start();
        // stdin is the serial line's keyboard unless the monitor reads it.
        bool serialKeyboard = cfg.Serial == "stdio" && cfg.Monitor != "stdio";
        using var terminal = serialKeyboard ? TerminalMode.Enter() : null;
        if (serialKeyboard)
            pc.AttachSerialInput(Console.OpenStandardInput());
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            pc.RequestQuit();
        };
        int status = pc.Run();
        if (o.Has("cpu-stats"))
            stderr.WriteLine(pc.CpuStats());
        if (profile != null)
        {
            pc.Profiler!.WriteReport(profile, symbols);
            profile.Flush();
        }
        return status;
    }

    private static SymbolMap LoadSymbols(string path, string? profile)
    {
        if (profile == null)
            throw new UsageException("--profile-symbols needs --profile FILE");
        try
        {
            return SymbolMap.Load(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new UsageException($"--profile-symbols: {(e is InvalidDataException ? e.Message : $"cannot read '{path}': {e.Message}")}");
        }
    }

    private static StreamWriter CreateReport(string path)
    {
        try
        {
            return new StreamWriter(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--profile: cannot write '{path}': {e.Message}");
        }
    }

    private static DiskConfig ParseDisk(string spec)
    {
        var kv = ImageArgs.ParseKeyValues(spec, "file");
        string path = kv.GetValueOrDefault("file") is { Length: > 0 } f ? f : throw new UsageException($"--disk '{spec}': no path");
        var options = kv.Where(p => p.Key is not ("file" or "format" or "snapshot")).ToDictionary();
        try
        {
            // Bad keys and values fail here, before the machine is built.
            bool snapshot = kv.TryGetValue("snapshot", out var s) && ImageArgs.OnOff("snapshot", s);
            foreach (var key in options.Keys)
                if (!ImageOpenOptions.Keys.Contains(key))
                    throw new UsageException($"Invalid parameter '{key}'");
            ImageOpenOptions.Apply(new ImageOptions(), options);
            return new DiskConfig { Path = Path.GetFullPath(path), Format = kv.GetValueOrDefault("format"), Snapshot = snapshot, Options = options };
        }
        catch (Exception e) when (e is UsageException or BlockException)
        {
            throw new UsageException($"--disk '{spec}': {e.Message}");
        }
    }

    private static string FullPath(string option, string path) =>
        path.Length > 0 ? Path.GetFullPath(path) : throw new UsageException($"--{option}: no path");

    /// <summary>config/default.json of the project the program was built from.</summary>
    private static string DefaultConfig()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string p = Path.Combine(dir.FullName, "config", "default.json");
            if (File.Exists(p))
                return p;
        }
        throw new UsageException("config/default.json not found next to the emu program; pass --config FILE");
    }
}
