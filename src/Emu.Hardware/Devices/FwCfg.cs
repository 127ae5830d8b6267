using System.Buffers.Binary;
using System.Text;

namespace Emu.Hardware;

/// <summary>QEMU's firmware configuration device: selector at 0x510 (16-bit), data at 0x511, DMA address at 0x514.</summary>
/// <remarks>Items are byte blobs chosen by a 16-bit key; named files get keys from 0x20 and are listed in the
/// big-endian file directory at key 0x19. Numeric items are little-endian, as SeaBIOS expects.</remarks>
public sealed class FwCfg : IDevice, IIoHandler
{
    public const ushort KeySignature = 0x00, KeyId = 0x01, KeyUuid = 0x02, KeyRamSize = 0x03, KeyNoGraphic = 0x04;
    public const ushort KeyCpuCount = 0x05, KeyNuma = 0x0D, KeyBootMenu = 0x0E, KeyMaxCpus = 0x0F, KeyFileDir = 0x19;
    public const ushort FirstFileKey = 0x20;
    public const ushort SelectorPort = 0x510, DataPort = 0x511, DmaPort = 0x514;
    private const ushort WriteChannel = 0x4000;
    private const int FileNameLength = 56;
    private const uint DmaError = 0x01, DmaRead = 0x02, DmaSkip = 0x04, DmaSelect = 0x08, DmaWrite = 0x10;
    private static readonly byte[] DmaSignature = "QEMU CFG"u8.ToArray();

    private readonly Bus bus;
    private readonly Dictionary<ushort, byte[]> items = new();
    private readonly List<(string Name, ushort Key)> files = new();
    private ushort selector;
    private byte[] current = [];
    private int offset;
    private ulong dmaAddress;

    /// <summary>Creates fw_cfg with the standard items for this machine's RAM and <paramref name="cpuCount"/> CPUs, including etc/e820.</summary>
    public FwCfg(Bus bus, int cpuCount = 1)
    {
        this.bus = bus;
        bus.Io.Register(SelectorPort, 1, this, IoWidth.Word);
        bus.Io.Register(DataPort, 1, this);
        bus.Io.Register(DmaPort, 8, this, IoWidth.Dword);
        bus.AddDevice(this);

        var memory = bus.Memory;
        SetItem(KeySignature, "QEMU"u8.ToArray());
        SetItem(KeyId, LittleEndian(0x03, 4)); // traditional interface + DMA
        SetItem(KeyUuid, new byte[16]);
        SetItem(KeyRamSize, LittleEndian((ulong)memory.Ram.LongLength, 8));
        SetItem(KeyNoGraphic, LittleEndian(0, 2));
        SetItem(KeyCpuCount, LittleEndian((ulong)cpuCount, 2));
        SetItem(KeyMaxCpus, LittleEndian((ulong)cpuCount, 2));
        SetItem(KeyBootMenu, LittleEndian(0, 2));
        // No NUMA nodes: a zero node count followed by one zero node id per CPU.
        SetItem(KeyNuma, new byte[8 * (1 + cpuCount)]);
        AddFile("etc/e820", BuildE820(memory.LowRamSize, memory.HighRamSize));
        SetItem(KeyFileDir, BuildDirectory());
    }

    public string Name => "fw_cfg";

    /// <summary>Sets (or replaces) the item at <paramref name="key"/>.</summary>
    public void SetItem(ushort key, byte[] data)
    {
        items[key] = data;
        if (key == selector)
            current = data;
    }

    /// <summary>The item at <paramref name="key"/>, if any.</summary>
    public byte[]? GetItem(ushort key) => items.GetValueOrDefault(key);

    /// <summary>Adds or replaces the named file (e.g. "bootorder", "etc/boot-fail-wait") and returns its key.</summary>
    public ushort AddFile(string name, byte[] data)
    {
        if (Encoding.ASCII.GetByteCount(name) >= FileNameLength)
            throw new ArgumentException($"fw_cfg file name '{name}' is longer than {FileNameLength - 1} bytes.", nameof(name));
        int existing = files.FindIndex(f => f.Name == name);
        ushort key = existing >= 0 ? files[existing].Key : (ushort)(FirstFileKey + files.Count);
        if (existing < 0)
            files.Add((name, key));
        SetItem(key, data);
        if (items.ContainsKey(KeyFileDir))
            SetItem(KeyFileDir, BuildDirectory());
        return key;
    }

    /// <summary>Sets the "bootorder" file: one OpenFirmware device path per line, e.g. "/pci@i0cf8/ide@1,1/drive@0/disk@0".</summary>
    public void SetBootOrder(IEnumerable<string> devicePaths) =>
        AddFile("bootorder", Encoding.ASCII.GetBytes(string.Concat(devicePaths.Select(p => p + "\n")) + "\0"));

    /// <summary>The etc/e820 table QEMU's pc machine provides: usable RAM below and above 4 GiB (20-byte entries).</summary>
    public static byte[] BuildE820(uint lowRam, long highRam)
    {
        var entries = new List<(ulong Address, ulong Length)> { (0, lowRam) };
        if (highRam > 0)
            entries.Add((0x1_0000_0000, (ulong)highRam));
        var table = new byte[20 * entries.Count];
        for (int i = 0; i < entries.Count; i++)
        {
            var span = table.AsSpan(20 * i);
            BinaryPrimitives.WriteUInt64LittleEndian(span, entries[i].Address);
            BinaryPrimitives.WriteUInt64LittleEndian(span[8..], entries[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(span[16..], 1); // E820_RAM
        }
        return table;
    }

    private byte[] BuildDirectory()
    {
        var directory = new byte[4 + 64 * files.Count];
        BinaryPrimitives.WriteUInt32BigEndian(directory, (uint)files.Count);
        for (int i = 0; i < files.Count; i++)
        {
            var entry = directory.AsSpan(4 + 64 * i, 64);
            var (name, key) = files[i];
            BinaryPrimitives.WriteUInt32BigEndian(entry, (uint)items[key].Length);
            BinaryPrimitives.WriteUInt16BigEndian(entry[4..], key);
            Encoding.ASCII.GetBytes(name, entry[8..]);
        }
        return directory;
    }

    private static byte[] LittleEndian(ulong value, int size)
    {
        var bytes = new byte[size];
        for (int i = 0; i < size; i++)
            bytes[i] = (byte)(value >> (8 * i));
        return bytes;
    }

    public uint Read(ushort port, int size)
    {
        if (port == DataPort)
            return offset < current.Length ? current[offset++] : 0u;
        if (port >= DmaPort)
        {
            // The DMA register reads back the signature "QEMU CFG", in guest memory byte order.
            int at = port - DmaPort;
            uint value = 0;
            for (int i = 0; i < size && at + i < 8; i++)
                value |= (uint)DmaSignature[at + i] << (8 * i);
            return value;
        }
        return 0;
    }

    public void Write(ushort port, int size, uint value)
    {
        if (port == SelectorPort)
            Select((ushort)value);
        else if (port == DmaPort)
            dmaAddress = (ulong)BinaryPrimitives.ReverseEndianness(value) << 32;
        else if (port == DmaPort + 4)
        {
            // Writing the low half (big-endian) starts the transfer.
            dmaAddress |= BinaryPrimitives.ReverseEndianness(value);
            RunDma(dmaAddress);
            dmaAddress = 0;
        }
        // Data port writes are not supported, as in QEMU since 2.4.
    }

    private void Select(ushort key)
    {
        selector = key;
        current = items.GetValueOrDefault((ushort)(key & ~WriteChannel)) ?? [];
        offset = 0;
    }

    // The guest's descriptor: be32 control, be32 length, be64 address; control is written back as 0 or ERROR.
    private void RunDma(ulong descriptorAddress)
    {
        Span<byte> descriptor = stackalloc byte[16];
        if (!bus.Memory.DmaRead(descriptorAddress, descriptor))
            return;
        uint control = BinaryPrimitives.ReadUInt32BigEndian(descriptor);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(descriptor[4..]);
        ulong address = BinaryPrimitives.ReadUInt64BigEndian(descriptor[8..]);
        if ((control & DmaSelect) != 0)
            Select((ushort)(control >> 16));
        bool ok = true;
        if ((control & DmaWrite) != 0)
            ok = false; // no writable items
        else if ((control & DmaRead) != 0)
            ok = CopyToGuest(address, length);
        else if ((control & DmaSkip) != 0)
            offset = (int)Math.Min((long)offset + length, int.MaxValue);
        Span<byte> result = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(result, ok ? 0 : DmaError);
        bus.Memory.DmaWrite(descriptorAddress, result);
    }

    private bool CopyToGuest(ulong address, uint length)
    {
        int start = offset;
        offset = (int)Math.Min((long)offset + length, int.MaxValue);
        if (!bus.Memory.TryGetRam(address, (int)length, write: true, out var target))
            return false;
        // Bytes past the end of the item read as zero.
        int available = Math.Clamp(current.Length - start, 0, (int)length);
        current.AsSpan(Math.Min(start, current.Length), available).CopyTo(target.Span);
        target.Span[available..].Clear();
        bus.Memory.NotifyDeviceWrite(address, (int)length);
        return true;
    }

    public void Reset()
    {
        Select(0);
        dmaAddress = 0;
    }

    // Items are machine configuration, rebuilt identically on load; only the guest-visible cursor is state.
    public void Save(BinaryWriter writer)
    {
        writer.Write(selector);
        writer.Write(offset);
        writer.Write(dmaAddress);
    }

    public void Load(BinaryReader reader)
    {
        Select(reader.ReadUInt16());
        offset = reader.ReadInt32();
        dmaAddress = reader.ReadUInt64();
    }
}
