using System.Text.Json;
using System.Text.Json.Serialization;

namespace Emu.Machine;

/// <summary>One disk of a machine: image path and how to attach it.</summary>
public sealed record DiskConfig
{
    public string Path { get; set; } = "";
    /// <summary>Image format, or null to probe.</summary>
    public string? Format { get; set; }
    /// <summary>Writes go to a temporary overlay; the image is never touched.</summary>
    public bool Snapshot { get; set; }
    /// <summary>Runtime open options as QEMU spells them (cache=none, l2-cache-size=..., overlap-check=...).</summary>
    public Dictionary<string, string>? Options { get; set; }
    /// <summary>IDE channel (0 primary, 1 secondary) and position (0 master, 1 slave); null for the next free one.</summary>
    public int? Channel { get; set; }
    public int? Position { get; set; }
}

/// <summary>A machine description: what <c>config/*.json</c> holds, and what <c>emu run</c>'s options override.</summary>
/// <remarks>Settable rather than init-only: the generated JSON reader gives init-only properties missing from the
/// file their type's default instead of the initial values below.</remarks>
public sealed record MachineConfig
{
    /// <summary>Guest RAM in MiB.</summary>
    public int Memory { get; set; } = 128;
    /// <summary>BIOS image, or null for SeaBIOS's bios-256k.bin from the seabios package.</summary>
    public string? Bios { get; set; }
    /// <summary>VGA option ROM, or null for SeaBIOS's vgabios-stdvga.bin.</summary>
    public string? VgaBios { get; set; }
    public List<DiskConfig> Disks { get; set; } = [];
    public string? Cdrom { get; set; }
    /// <summary>"c" (first disk) or "d" (CD-ROM).</summary>
    public string Boot { get; set; } = "c";
    public string Display { get; set; } = "none";
    /// <summary>stdio, none or file:PATH.</summary>
    public string Serial { get; set; } = "stdio";
    public string Debugcon { get; set; } = "none";
    public string Monitor { get; set; } = "none";
    /// <summary>Seconds before the run is stopped with exit status 124; 0 for no limit.</summary>
    public double Timeout { get; set; }
    public string? LoadVm { get; set; }
    /// <summary>Folder that relative paths of the description are resolved against (the one holding config/ and roms/).</summary>
    [JsonIgnore]
    public string Root { get; set; } = ".";
    /// <summary>Build the project's demo guest disk at the first disk's path when it is missing.</summary>
    public bool DemoGuest { get; set; }

    /// <summary>Loads a machine description; relative disk and firmware paths are relative to the project root
    /// (the folder holding <c>config/</c>), and "~/" means the user's home.</summary>
    public static MachineConfig Load(string path)
    {
        MachineConfig? cfg;
        try
        {
            cfg = JsonSerializer.Deserialize(File.ReadAllText(path), MachineConfigJson.Default.MachineConfig);
        }
        catch (JsonException e)
        {
            throw new MachineException($"{path}: invalid machine description: {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            string why = path.Length == 0 || e is FileNotFoundException or DirectoryNotFoundException ? "No such file or directory"
                : Directory.Exists(path) ? "Is a directory" : e.Message;
            throw new MachineException($"'{path}': {why}");
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

/// <summary>Compile-time JSON reading of machine descriptions (no reflection: the tools also ship ahead-of-time compiled).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(MachineConfig))]
internal sealed partial class MachineConfigJson : JsonSerializerContext;

/// <summary>A machine-level error with a message fit for the user.</summary>
public sealed class MachineException(string message) : Exception(message);
