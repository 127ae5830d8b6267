namespace Emu.Hardware;

/// <summary>Handles guest port I/O for the ports a device registered.</summary>
public interface IIoHandler
{
    /// <summary>Reads <paramref name="size"/> bytes (1, 2 or 4) at <paramref name="port"/>.</summary>
    uint Read(ushort port, int size);

    /// <summary>Writes the low <paramref name="size"/> bytes (1, 2 or 4) of <paramref name="value"/> at <paramref name="port"/>.</summary>
    void Write(ushort port, int size, uint value);
}

/// <summary>Optional bulk path for REP INS/OUTS on a handler's port (the IDE data port), so a string transfer costs one call.</summary>
public interface IIoStringHandler
{
    /// <summary>Reads whole <paramref name="size"/>-byte elements into <paramref name="destination"/>; returns how many it moved (the bus does the rest one by one).</summary>
    int ReadString(ushort port, int size, Span<byte> destination);

    /// <summary>Writes whole <paramref name="size"/>-byte elements from <paramref name="source"/>; returns how many it moved.</summary>
    int WriteString(ushort port, int size, ReadOnlySpan<byte> source);
}

/// <summary>Access widths a handler accepts at a port; other widths are split into byte accesses.</summary>
[Flags]
public enum IoWidth : byte
{
    Byte = 1,
    Word = 2,
    Dword = 4,
    All = Byte | Word | Dword,
}

/// <summary>The 64K x86 I/O port space: array dispatch to handlers; unhandled ports read all-ones and drop writes.</summary>
public sealed class IoBus
{
    private const int PortCount = 0x10000;
    private readonly IIoHandler?[] handlers = new IIoHandler?[PortCount];
    private readonly byte[] widths = new byte[PortCount];

    /// <summary>Claims <paramref name="count"/> ports from <paramref name="first"/>; throws if another handler owns one.</summary>
    public void Register(int first, int count, IIoHandler handler, IoWidth accepted = IoWidth.Byte)
    {
        CheckRange(first, count);
        for (int port = first; port < first + count; port++)
        {
            var owner = handlers[port];
            if (owner != null && owner != handler)
                throw new InvalidOperationException($"I/O port 0x{port:X4} is already registered to {owner.GetType().Name}.");
        }
        for (int port = first; port < first + count; port++)
        {
            handlers[port] = handler;
            widths[port] = (byte)accepted;
        }
    }

    /// <summary>Claims only the ports in the range nobody owns yet (guest-programmed BARs must not steal fixed ports).</summary>
    public void RegisterFree(int first, int count, IIoHandler handler, IoWidth accepted = IoWidth.Byte)
    {
        CheckRange(first, count);
        for (int port = first; port < first + count; port++)
        {
            if (handlers[port] != null)
                continue;
            handlers[port] = handler;
            widths[port] = (byte)accepted;
        }
    }

    /// <summary>Releases the ports in the range that <paramref name="handler"/> owns.</summary>
    public void Unregister(int first, int count, IIoHandler handler)
    {
        CheckRange(first, count);
        for (int port = first; port < first + count; port++)
        {
            if (handlers[port] != handler)
                continue;
            handlers[port] = null;
            widths[port] = 0;
        }
    }

    /// <summary>The handler owning <paramref name="port"/>, if any.</summary>
    public IIoHandler? HandlerAt(int port) => handlers[port & 0xFFFF];

    public byte In8(ushort port) => (byte)Read(port, 1);
    public ushort In16(ushort port) => (ushort)Read(port, 2);
    public uint In32(ushort port) => Read(port, 4);
    public void Out8(ushort port, byte value) => Write(port, 1, value);
    public void Out16(ushort port, ushort value) => Write(port, 2, value);
    public void Out32(ushort port, uint value) => Write(port, 4, value);

    /// <summary>Reads 1, 2 or 4 bytes at <paramref name="port"/>.</summary>
    public uint Read(ushort port, int size)
    {
        var handler = handlers[port];
        if (handler != null && (widths[port] & size) != 0)
            return handler.Read(port, size) & SizeMask(size);
        if (size == 1)
            return 0xFF;
        // Like an ISA bus, a wide access to byte-wide ports becomes consecutive byte accesses.
        uint value = 0;
        for (int i = 0; i < size; i++)
            value |= Read((ushort)(port + i), 1) << (8 * i);
        return value;
    }

    /// <summary>Writes the low 1, 2 or 4 bytes of <paramref name="value"/> at <paramref name="port"/>.</summary>
    public void Write(ushort port, int size, uint value)
    {
        var handler = handlers[port];
        if (handler != null && (widths[port] & size) != 0)
        {
            handler.Write(port, size, value & SizeMask(size));
            return;
        }
        if (size == 1)
            return;
        for (int i = 0; i < size; i++)
            Write((ushort)(port + i), 1, (value >> (8 * i)) & 0xFF);
    }

    /// <summary>REP INS: fills <paramref name="destination"/> with consecutive <paramref name="size"/>-byte reads of <paramref name="port"/>, exactly as element-by-element reads would.</summary>
    public void ReadString(ushort port, int size, Span<byte> destination)
    {
        int done = 0;
        if (handlers[port] is IIoStringHandler bulk && (widths[port] & size) != 0)
            done = bulk.ReadString(port, size, destination) * size;
        for (; done + size <= destination.Length; done += size)
        {
            uint value = Read(port, size);
            for (int i = 0; i < size; i++)
                destination[done + i] = (byte)(value >> (8 * i));
        }
    }

    /// <summary>REP OUTS: writes <paramref name="source"/> to <paramref name="port"/> as consecutive <paramref name="size"/>-byte writes.</summary>
    public void WriteString(ushort port, int size, ReadOnlySpan<byte> source)
    {
        int done = 0;
        if (handlers[port] is IIoStringHandler bulk && (widths[port] & size) != 0)
            done = bulk.WriteString(port, size, source) * size;
        for (; done + size <= source.Length; done += size)
        {
            uint value = 0;
            for (int i = 0; i < size; i++)
                value |= (uint)source[done + i] << (8 * i);
            Write(port, size, value);
        }
    }

    private static uint SizeMask(int size) => size >= 4 ? 0xFFFF_FFFFu : (1u << (8 * size)) - 1;

    private static void CheckRange(int first, int count)
    {
        if (first < 0 || count < 0 || first + count > PortCount)
            throw new ArgumentOutOfRangeException(nameof(first), $"Port range 0x{first:X}+{count} is outside the I/O space.");
    }
}
