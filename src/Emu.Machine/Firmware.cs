namespace Emu.Machine;

/// <summary>Finds firmware: an explicit path, else Debian's seabios package files.</summary>
public static class Firmware
{
    private static readonly string[] SearchDirs = ["/usr/share/seabios", "/usr/share/qemu"];

    public static string Find(string? explicitPath, string fileName)
    {
        if (explicitPath != null)
        {
            if (!File.Exists(explicitPath))
                throw new MachineException($"Firmware file '{explicitPath}' not found");
            return explicitPath;
        }
        foreach (var dir in SearchDirs)
        {
            string p = Path.Combine(dir, fileName);
            if (File.Exists(p))
                return p;
        }
        throw new MachineException($"Firmware '{fileName}' not found in {string.Join(", ", SearchDirs)}: install Debian's seabios package (apt-get install seabios) or pass --bios");
    }

    /// <summary>Reads a firmware image, refusing sizes that cannot be a PC BIOS or option ROM.</summary>
    public static byte[] Load(string path, int maxBytes)
    {
        var info = new FileInfo(path);
        if (info.Length == 0 || info.Length > maxBytes || info.Length % 512 != 0)
            throw new MachineException($"Firmware '{path}' has an unusable size ({info.Length} bytes)");
        return File.ReadAllBytes(path);
    }
}
