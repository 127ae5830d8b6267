namespace Emu.Hardware.Ide;

/// <summary>One channel's PIIX bus-master IDE registers (command, status, PRD table address) and PRD table walker.</summary>
public sealed class BusMasterDma
{
    public const byte CommandStart = 0x01, CommandToMemory = 0x08;
    public const byte StatusActive = 0x01, StatusError = 0x02, StatusInterrupt = 0x04;
    private const int MaxPrdEntries = 0x1_0000 / 8; // a PRD table never spans more than 64 KiB

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
    /// <returns>False if the table is shorter than <paramref name="length"/> or points outside RAM.</returns>
    internal bool TryBuildSegments(long length, bool toMemory, List<(ulong Address, Memory<byte> Ram)> segments)
    {
        segments.Clear();
        Span<byte> entry = stackalloc byte[8];
        long covered = 0;
        uint at = PrdAddress;
        for (int i = 0; i < MaxPrdEntries && covered < length; i++, at += 8)
        {
            if (!memory.DmaRead(at, entry))
                return false;
            uint address = BitConverter.ToUInt32(entry) & ~1u;
            int count = entry[4] | entry[5] << 8;
            if (count == 0)
                count = 0x1_0000;
            bool last = (entry[7] & 0x80) != 0;
            count = (int)Math.Min(count, length - covered);
            if (segments.Count > 0 && segments[^1].Address + (ulong)segments[^1].Ram.Length == address)
            {
                var previous = segments[^1];
                if (!memory.TryGetRam(previous.Address, previous.Ram.Length + count, toMemory, out var merged))
                    return false;
                segments[^1] = (previous.Address, merged);
            }
            else
            {
                if (!memory.TryGetRam(address, count, toMemory, out var ram))
                    return false;
                segments.Add((address, ram));
            }
            covered += count;
            if (last)
                break;
        }
        return covered == length;
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
