using System.Globalization;

namespace Emu.Machine;

/// <summary>A guest's code symbols from a Linux <c>System.map</c> or <c>/proc/kallsyms</c> listing ("address type name
/// [module]" per line): names the addresses of a guest profile.</summary>
public sealed class SymbolMap
{
    /// <summary>How far past its start an address still counts as inside a symbol (the listings give no sizes).</summary>
    const uint MaxReach = 1 << 16;

    readonly uint[] _addresses;
    readonly string[] _names;

    SymbolMap(uint[] addresses, string[] names)
    {
        _addresses = addresses;
        _names = names;
    }

    /// <summary>Symbols in the map.</summary>
    public int Count => _addresses.Length;

    /// <summary>Reads the code symbols (types t, T, w, W) of <paramref name="path"/>; other lines are skipped.</summary>
    /// <exception cref="InvalidDataException">The file names no code symbol with a 32-bit address.</exception>
    public static SymbolMap Load(string path)
    {
        var symbols = new List<(uint Address, string Name)>();
        foreach (string line in File.ReadLines(path))
        {
            string[] f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 3 || f[1] is not ("t" or "T" or "w" or "W")
                || !uint.TryParse(f[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint address))
                continue;
            symbols.Add((address, f.Length > 3 ? $"{f[2]} {f[3]}" : f[2]));
        }
        if (symbols.Count == 0)
            throw new InvalidDataException($"'{path}' lists no code symbols with 32-bit addresses (expected System.map or /proc/kallsyms lines)");
        symbols.Sort((a, b) => a.Address.CompareTo(b.Address));
        return new SymbolMap(symbols.Select(s => s.Address).ToArray(), symbols.Select(s => s.Name).ToArray());
    }

    /// <summary>The name of the symbol holding <paramref name="address"/>: the nearest at or below it, if that
    /// starts less than 64 KiB before it; otherwise null.</summary>
    public string? Lookup(uint address)
    {
        int i = Array.BinarySearch(_addresses, address);
        if (i < 0)
            i = ~i - 1;
        return i >= 0 && address - _addresses[i] < MaxReach ? _names[i] : null;
    }
}
