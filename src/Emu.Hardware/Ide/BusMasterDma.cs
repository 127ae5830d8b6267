namespace Emu.Hardware.Ide;

/// <summary>How a PRD table compares with the transfer it is meant to carry.</summary>
internal enum PrdResult : byte
{
    /// <summary>The table describes exactly the transfer: the engine stops (ACTIVE clears) when it is done.</summary>
    Exact,
    /// <summary>The table describes more: the transfer completes and ACTIVE stays set (a valid completion on the PIIX).</summary>
    Longer,
    /// <summary>The table ends before the transfer does: nothing moves, ACTIVE clears, no interrupt.</summary>
    Shorter,
    /// <summary>An entry (or the table itself) lies outside guest RAM: the ERROR bit.</summary>
    BadMemory,
}

/// <summary>One channel's PIIX bus-master IDE registers (command, status, PRD table address) and PRD table walker.</summary>
public sealed class BusMasterDma
{
    public const byte CommandStart = 0x01, CommandToMemory = 0x08;
    public const byte StatusActive = 0x01, StatusError = 0x02, StatusInterrupt = 0x04;
    // The walk gives up one page past the table start, as QEMU's does (a table is at most 64 KiB on paper, but a
    // guest that forgets the end-of-table bit must not make the device read its way through RAM).
    private const int MaxPrdEntries = 4096 / 8;

    private readonly PhysicalMemory memory;

    internal BusMasterDma(PhysicalMemory memory)
    {
        this.memory = memory;
    }

    public byte Command { get; private set; }
    public byte Status { get; internal set; }
    public uint PrdAddress { get; private set; }

    /// <summary>Called when the guest sets the start bit.</summary>
    internal Action? Started { get; set; }

    internal uint Read(int register, int size)
    {
        uint value = 0;
        for (int i = 0; i < size; i++)
            value |= (uint)ReadByte(register + i) << (8 * i);
        return value;
    }

    internal void Write(int register, int size, uint value)
    {
        for (int i = 0; i < size; i++)
            WriteByte(register + i, (byte)(value >> (8 * i)));
    }

    private byte ReadByte(int register) => register switch
    {
        0 => Command,
        2 => Status,
        >= 4 and < 8 => (byte)(PrdAddress >> (8 * (register - 4))),
        _ => 0,
    };

    private void WriteByte(int register, byte value)
    {
        switch (register)
        {
            case 0:
                bool starting = (value & CommandStart) != 0 && (Command & CommandStart) == 0;
                Command = (byte)(value & (CommandStart | CommandToMemory));
                if ((value & CommandStart) == 0)
                    Status &= unchecked((byte)~StatusActive); // stopping the engine abandons the transfer
                else if (starting)
                {
                    Status |= StatusActive;
                    Started?.Invoke();
                }
                break;
            case 2:
                // Error and interrupt are write-one-to-clear; the drive DMA-capable bits 5-6 are plain.
                Status = (byte)((Status & StatusActive) | (Status & ~value & (StatusError | StatusInterrupt)) | (value & 0x60));
                break;
            case >= 4 and < 8:
                int shift = 8 * (register - 4);
                PrdAddress = (PrdAddress & ~(0xFFu << shift)) | (uint)value << shift;
                PrdAddress &= ~3u;
                break;
        }
    }

    /// <summary>Collects the guest RAM the PRD table describes, merging adjacent entries, until <paramref name="length"/> bytes are covered.</summary>
    /// <param name="toMemory">True when the device writes guest RAM (a disk read).</param>
    /// <returns>Whether the table matched the transfer, was longer or shorter, or pointed outside RAM.</returns>
    internal PrdResult BuildSegments(long length, bool toMemory, List<(ulong Address, Memory<byte> Ram)> segments)
    {
        segments.Clear();
        Span<byte> entry = stackalloc byte[8];
        long covered = 0;
        uint at = PrdAddress;
        for (int i = 0; i < MaxPrdEntries; i++, at += 8)
        {
            if (!memory.DmaRead(at, entry))
                return PrdResult.BadMemory;
            // Entries past the transfer only make the table long; their addresses are never used.
            if (covered == length)
                return PrdResult.Longer;
            uint address = BitConverter.ToUInt32(entry) & ~1u;
            int size = (entry[4] | entry[5] << 8) & ~1;
            if (size == 0)
                size = 0x1_0000;
            bool last = (entry[7] & 0x80) != 0;
            int count = (int)Math.Min(size, length - covered);
            if (segments.Count > 0 && segments[^1].Address + (ulong)segments[^1].Ram.Length == address)
            {
                var previous = segments[^1];
                if (!memory.TryGetRam(previous.Address, previous.Ram.Length + count, toMemory, out var merged))
                    return PrdResult.BadMemory;
                segments[^1] = (previous.Address, merged);
            }
            else
            {
                if (!memory.TryGetRam(address, count, toMemory, out var ram))
                    return PrdResult.BadMemory;
                segments.Add((address, ram));
            }
            covered += count;
            if (count < size)
                return PrdResult.Longer;
            if (last)
                break;
        }
        return covered == length ? PrdResult.Exact : PrdResult.Shorter;
    }

    internal void Reset()
    {
        Command = 0;
        Status = 0;
        PrdAddress = 0;
    }

    internal void Save(BinaryWriter writer)
    {
        writer.Write(Command);
        writer.Write(Status);
        writer.Write(PrdAddress);
    }

    internal void Load(BinaryReader reader)
    {
        Command = reader.ReadByte();
        Status = reader.ReadByte();
        PrdAddress = reader.ReadUInt32();
    }
}
