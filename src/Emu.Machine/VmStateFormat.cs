using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Emu.Machine;

/// <summary>One named, versioned part of a saved machine state.</summary>
public sealed record VmSection(string Name, int Version, byte[] Data);

/// <summary>The saved-machine format stored in a qcow2 vm-state area: magic, format version, sections
/// (each with its own name, version and length), and a SHA-256 of everything before it.</summary>
public static class VmStateFormat
{
    public static readonly byte[] Magic = "EMUVMST\x01"u8.ToArray();
    public const int FormatVersion = 1;
    private const int MaxSections = 64;
    private const int HashLength = 32;

    public static byte[] Write(IReadOnlyList<VmSection> sections)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(FormatVersion);
            w.Write(sections.Count);
            foreach (var s in sections)
            {
                w.Write(s.Name);
                w.Write(s.Version);
                w.Write((long)s.Data.Length);
                w.Write(s.Data);
            }
        }
        var body = ms.ToArray();
        var result = new byte[body.Length + HashLength];
        body.CopyTo(result, 0);
        SHA256.HashData(body).CopyTo(result, body.Length);
        return result;
    }

    /// <summary>Parses and verifies a saved state; throws <see cref="MachineException"/> naming what is wrong.</summary>
    public static List<VmSection> Read(byte[] state)
    {
        if (state.Length < Magic.Length + 8 + HashLength || !state.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new MachineException("The snapshot has no Emu machine state (bad magic)");
        var body = state.AsSpan(0, state.Length - HashLength);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(state.AsSpan(state.Length - HashLength)))
            throw new MachineException("The saved machine state is corrupt (checksum mismatch)");
        using var r = new BinaryReader(new MemoryStream(state, 0, body.Length));
        r.ReadBytes(Magic.Length);
        int version = r.ReadInt32();
        if (version != FormatVersion)
            throw new MachineException($"Unsupported machine state format version {version}");
        int count = r.ReadInt32();
        if (count is < 0 or > MaxSections)
            throw new MachineException($"Invalid section count {count} in the saved machine state");
        var sections = new List<VmSection>();
        for (int i = 0; i < count; i++)
        {
            try
            {
                string name = r.ReadString();
                int v = r.ReadInt32();
                long length = r.ReadInt64();
                if (length < 0 || length > body.Length)
                    throw new MachineException($"Section '{name}' has an invalid length {length}");
                sections.Add(new VmSection(name, v, r.ReadBytes((int)length)));
            }
            catch (EndOfStreamException)
            {
                throw new MachineException("The saved machine state is truncated");
            }
        }
        return sections;
    }

    /// <summary>Guest RAM without its zero pages: a bitmap of non-zero 4 KiB pages, then those pages deflated.</summary>
    public static byte[] PackRam(byte[] ram)
    {
        int pages = ram.Length / 4096;
        var bitmap = new byte[(pages + 7) / 8];
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write((long)ram.Length);
            for (int p = 0; p < pages; p++)
                if (ram.AsSpan(p * 4096, 4096).IndexOfAnyExcept((byte)0) >= 0)
                    bitmap[p >> 3] |= (byte)(1 << (p & 7));
            w.Write(bitmap);
        }
        using (var z = new DeflateStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            for (int p = 0; p < pages; p++)
                if ((bitmap[p >> 3] & (1 << (p & 7))) != 0)
                    z.Write(ram, p * 4096, 4096);
        return ms.ToArray();
    }

    /// <summary>Restores RAM packed by <see cref="PackRam"/> into a buffer of the same size.</summary>
    public static void UnpackRam(byte[] packed, byte[] ram)
    {
        using var ms = new MemoryStream(packed);
        using var r = new BinaryReader(ms);
        long size = r.ReadInt64();
        if (size != ram.Length)
            throw new MachineException($"The saved state has {size >> 20} MiB of RAM, this machine {ram.Length >> 20} MiB");
        int pages = ram.Length / 4096;
        var bitmap = r.ReadBytes((pages + 7) / 8);
        var restored = new byte[ram.Length];
        using (var z = new DeflateStream(ms, CompressionMode.Decompress))
            for (int p = 0; p < pages; p++)
                if ((bitmap[p >> 3] & (1 << (p & 7))) != 0)
                    z.ReadExactly(restored, p * 4096, 4096);
        restored.CopyTo(ram, 0);
    }
}
