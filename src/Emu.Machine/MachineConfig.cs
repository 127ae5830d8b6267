using System.Text.Json;
using System.Text.Json.Serialization;

namespace Emu.Machine;

/// <summary>One disk of a machine: image path and how to attach it.</summary>
public sealed record DiskConfig
{
    public string Path { get; init; } = "";
    /// <summary>Image format, or null to probe.</summary>
    public string? Format { get; init; }
    /// <summary>Writes go to a temporary overlay; the image is never touched.</summary>
    public bool Snapshot { get; init; }
    /// <summary>Runtime open options as QEMU spells them (cache=none, l2-cache-size=..., overlap-check=...).</summary>
    public Dictionary<string, string>? Options { get; init; }
    /// <summary>IDE channel (0 primary, 1 secondary) and position (0 master, 1 slave); null for the next free one.</summary>
    public int? Channel { get; init; }
    public int? Position { get; init; }
}

/// <summary>A machine description: what <c>config/*.json</c> holds, and what <c>emu run</c>'s options override.</summary>
public sealed record MachineConfig
{
    /// <summary>Guest RAM in MiB.</summary>
    public int Memory { get; init; } = 128;
    /// <summary>BIOS image, or null for SeaBIOS's bios-256k.bin from the seabios package.</summary>
    public string? Bios { get; init; }
    /// <summary>VGA option ROM, or null for SeaBIOS's vgabios-stdvga.bin.</summary>
    public string? VgaBios { get; init; }
    public List<DiskConfig> Disks { get; init; } = [];
    public string? Cdrom { get; init; }
    /// <summary>"c" (first disk) or "d" (CD-ROM).</summary>
    public string Boot { get; init; } = "c";
    public string Display { get; init; } = "none";
    /// <summary>stdio, none or file:PATH.</summary>
    public string Serial { get; init; } = "stdio";
    public string Debugcon { get; init; } = "none";
    public string Monitor { get; init; } = "none";
    /// <summary>Seconds before the run is stopped with exit status 124; 0 for no limit.</summary>
    public double Timeout { get; init; }
    public string? LoadVm { get; init; }
    /// <summary>Folder that relative paths of the description are resolved against (the one holding config/ and roms/).</summary>
    [JsonIgnore]
    public string Root { get; init; } = ".";
    /// <summary>Build the project's demo guest disk at the first disk's path when it is missing.</summary>
    public bool DemoGuest { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Loads a machine description; relative disk and firmware paths are relative to the project root
    /// (the folder holding <c>config/</c>), and "~/" means the user's home.</summary>
    public static MachineConfig Load(string path)
    {
        MachineConfig? cfg;
        try
        {
            cfg = JsonSerializer.Deserialize<MachineConfig>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new MachineException($"{path}: invalid machine description: {e.Message}");
        }
        catch (IOException e)
        {
            throw new MachineException($"{path}: {e.Message}");
        }
        if (cfg == null)
            throw new MachineException($"{path}: empty machine description");
        string baseDir = System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))) ?? ".";
        return cfg with
        {
            Root = baseDir,
            Disks = cfg.Disks.Select(d => d with { Path = ResolvePath(baseDir, d.Path) }).ToList(),
            Bios = cfg.Bios == null ? null : ResolvePath(baseDir, cfg.Bios),
            VgaBios = cfg.VgaBios == null ? null : ResolvePath(baseDir, cfg.VgaBios),
            Cdrom = cfg.Cdrom == null ? null : ResolvePath(baseDir, cfg.Cdrom),
        };
    }

    internal static string ResolvePath(string baseDir, string path)
    {
        if (path.StartsWith("~/"))
            return System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..]);
        return System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.GetFullPath(System.IO.Path.Combine(baseDir, path));
    }
}

/// <summary>A machine-level error with a message fit for the user.</summary>
public sealed class MachineException(string message) : Exception(message);
