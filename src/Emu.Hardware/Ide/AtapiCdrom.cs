using System.Buffers.Binary;
using System.Text;

namespace Emu.Hardware.Ide;

/// <summary>An ATAPI CD-ROM drive: IDENTIFY PACKET data and the SCSI/MMC commands guests and SeaBIOS use to boot from and read a disc.</summary>
/// <remarks>The drive decodes a 12-byte packet into an outcome; the channel moves the data (PIO or DMA).</remarks>
public sealed class AtapiCdrom : IdeDevice
{
    public const int BlockSize = 2048;
    private const byte SenseNone = 0x00, SenseNotReady = 0x02, SenseIllegalRequest = 0x05;
    private const byte AscInvalidOpcode = 0x20, AscLbaOutOfRange = 0x21, AscInvalidField = 0x24, AscSavingNotSupported = 0x39;
    private const byte AscNoMedium = 0x3A;

    private byte senseKey, asc;

    /// <summary>Creates a drive, optionally with a disc (an ISO image) inserted.</summary>
    public AtapiCdrom(IDiskBackend? media, string serial = "QM00003", string model = "QEMU DVD-ROM")
        : base(serial, model)
    {
        Media = media;
        Reset();
    }

    /// <summary>The inserted disc, or null when the tray is empty.</summary>
    public IDiskBackend? Media { get; private set; }

    /// <summary>Number of 2048-byte blocks on the disc.</summary>
    public long Blocks => (Media?.Size ?? 0) / BlockSize;

    public override bool IsAtapi => true;

    /// <summary>Inserts <paramref name="media"/>, or empties the tray with null.</summary>
    public void ChangeMedia(IDiskBackend? media) => Media = media;

    public override void Reset()
    {
        TransferMode = 0x22; // multiword DMA mode 2
        senseKey = asc = 0;
    }

    public override void Identify(Span<byte> data)
    {
        var id = new IdentifyWords();
        id.Word(0, 2 << 14 | 5 << 8 | 1 << 7 | 2 << 5); // ATAPI, CD-ROM, removable, 12-byte packets
        id.Text(10, 10, Serial);
        id.Text(23, 4, "2.5+");
        id.Text(27, 20, Model);
        id.Word(48, 1);
        id.Word(49, 1 << 9 | 1 << 8);                     // LBA, DMA
        id.Word(53, 7);
        id.Word(62, 7);
        id.Word(63, 7 | ((TransferMode & 0xF8) == 0x20 ? 0x100 << (TransferMode & 7) : 0));
        id.Word(64, 3);
        id.Word(65, 0xB4);
        id.Word(66, 0xB4);
        id.Word(67, 0x12C);
        id.Word(68, 0xB4);
        id.Word(71, 30);
        id.Word(72, 30);
        id.Word(80, 0x1E);                                // ATA/ATAPI-1 to -4
        id.Word(88, 0x3F | ((TransferMode & 0xF8) == 0x40 ? 0x100 << (TransferMode & 7) : 0));
        id.CopyTo(data);
    }

    /// <summary>True when <paramref name="opcode"/> would return data to the host (so a PIO transfer needs a byte count
    /// limit); a command that needs the disc reports NOT READY first when the tray is empty.</summary>
    internal bool ReturnsData(byte opcode) => opcode switch
    {
        0x25 or 0x28 or 0xA8 or 0x43 => Media != null,
        0x03 or 0x12 or 0x5A or 0x46 or 0x4A => true,
        _ => false,
    };

    /// <summary>Executes one packet; a response goes to <paramref name="response"/> (at least 64 bytes).</summary>
    internal PacketOutcome Execute(ReadOnlySpan<byte> cdb, Span<byte> response)
    {
        byte opcode = cdb[0];
        if (opcode != 0x03)
            SetSense(SenseNone, 0);
        switch (opcode)
        {
            case 0x00: // TEST UNIT READY
                return NeedMedia() ?? PacketOutcome.Done;
            case 0x03: // REQUEST SENSE
                response[..18].Clear();
                response[0] = 0x70;
                response[2] = senseKey;
                response[7] = 10;
                response[12] = asc;
                SetSense(SenseNone, 0);
                return PacketOutcome.Data(Math.Min((int)cdb[4], 18));
            case 0x12: // INQUIRY
                response[..36].Clear();
                response[0] = 0x05;   // CD/DVD device
                response[1] = 0x80;   // removable
                response[3] = 0x21;   // ATAPI, response format 1
                response[4] = 31;
                Encoding.ASCII.GetBytes("QEMU    ", response[8..]);
                Encoding.ASCII.GetBytes(Model.PadRight(16).AsSpan(0, 16), response[16..]);
                Encoding.ASCII.GetBytes("2.5+", response[32..]);
                return PacketOutcome.Data(Math.Min(cdb[3] << 8 | cdb[4], 36));
            case 0x1B or 0x1E or 0x2B: // START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL, SEEK
                return PacketOutcome.Done;
            case 0x25: // READ CAPACITY
                if (NeedMedia() is { } noMedium)
                    return noMedium;
                BinaryPrimitives.WriteUInt32BigEndian(response, (uint)(Blocks - 1));
                BinaryPrimitives.WriteUInt32BigEndian(response[4..], BlockSize);
                return PacketOutcome.Data(8);
            case 0x28: // READ(10)
                return Read(BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]));
            case 0xA8: // READ(12)
                return Read(BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]));
            case 0x43: // READ TOC
                return ReadToc(cdb, response);
            case 0x5A: // MODE SENSE(10)
                return ModeSense(cdb, response);
            case 0x46: // GET CONFIGURATION: just the header with the current profile
                response[..8].Clear();
                response[3] = 4;
                response[7] = (byte)(Media != null ? 0x08 : 0x00); // CD-ROM profile
                return PacketOutcome.Data(Math.Min(cdb[7] << 8 | cdb[8], 8));
            case 0x4A: // GET EVENT STATUS NOTIFICATION (polled only): no event
                if ((cdb[1] & 1) == 0)
                    return Error(SenseIllegalRequest, AscInvalidField);
                response[..4].Clear();
                response[1] = 2;
                response[2] = 0x80;   // no event available
                response[3] = 0x10;   // media class supported
                return PacketOutcome.Data(Math.Min(cdb[7] << 8 | cdb[8], 4));
            default:
                return Error(SenseIllegalRequest, AscInvalidOpcode);
        }
    }

    private PacketOutcome Read(uint lba, uint blocks)
    {
        if (NeedMedia() is { } noMedium)
            return noMedium;
        if (lba + (long)blocks > Blocks)
            return Error(SenseIllegalRequest, AscLbaOutOfRange);
        return blocks == 0 ? PacketOutcome.Done : PacketOutcome.MediaRead(lba, blocks);
    }

    private PacketOutcome ReadToc(ReadOnlySpan<byte> cdb, Span<byte> response)
    {
        if (NeedMedia() is { } noMedium)
            return noMedium;
        bool msf = (cdb[1] & 0x02) != 0;
        // MMC puts the format in byte 2; older (SFF-8020) hosts put it in the top bits of byte 9.
        int format = cdb[2] & 0x0F;
        if (format == 0)
            format = cdb[9] >> 6;
        int allocation = cdb[7] << 8 | cdb[8];
        int length;
        switch (format)
        {
            case 0:
                // Header, track 1 (data) and the lead-out.
                response[..20].Clear();
                response[2] = 1;
                response[3] = 1;
                WriteTrack(response[4..], 1, 0, msf);
                WriteTrack(response[12..], 0xAA, Blocks, msf);
                length = 20;
                break;
            case 1:
                // Session information: one session starting at track 1.
                response[..12].Clear();
                response[2] = 1;
                response[3] = 1;
                WriteTrack(response[4..], 1, 0, msf);
                length = 12;
                break;
            default:
                return Error(SenseIllegalRequest, AscInvalidField);
        }
        BinaryPrimitives.WriteUInt16BigEndian(response, (ushort)(length - 2));
        return PacketOutcome.Data(Math.Min(allocation, length));
    }

    private static void WriteTrack(Span<byte> descriptor, byte track, long lba, bool msf)
    {
        descriptor[1] = 0x14; // ADR 1, data track
        descriptor[2] = track;
        if (msf)
        {
            // MSF addresses count 75 frames a second from a 2-second lead-in.
            long frames = lba + 150;
            descriptor[5] = (byte)(frames / (75 * 60));
            descriptor[6] = (byte)(frames / 75 % 60);
            descriptor[7] = (byte)(frames % 75);
        }
        else
            BinaryPrimitives.WriteUInt32BigEndian(descriptor[4..], (uint)lba);
    }

    private PacketOutcome ModeSense(ReadOnlySpan<byte> cdb, Span<byte> response)
    {
        int page = cdb[2] & 0x3F;
        int allocation = cdb[7] << 8 | cdb[8];
        // Page control: only current values; the drive keeps no saved ones.
        switch (cdb[2] >> 6)
        {
            case 3:
                return Error(SenseIllegalRequest, AscSavingNotSupported);
            case 1 or 2:
                return Error(SenseIllegalRequest, AscInvalidField);
        }
        response[..64].Clear();
        response[2] = (byte)(Media != null ? 0x70 : 0x71); // medium type: disc present or none
        int length = 8;
        if (page is 0x01 or 0x3F)
        {
            // Read error recovery: retry count 5.
            response[length] = 0x01;
            response[length + 1] = 6;
            response[length + 3] = 5;
            length += 8;
        }
        if (page is 0x2A or 0x3F)
        {
            // Capabilities: reads CD-R/RW, eject, lock, tray loader; speeds in kB/s.
            var caps = response[length..];
            caps[0] = 0x2A;
            caps[1] = 0x12;
            caps[2] = 0x03;
            caps[4] = 0x71;
            caps[6] = 0x29;
            caps[7] = 0x00;
            BinaryPrimitives.WriteUInt16BigEndian(caps[8..], 706);
            BinaryPrimitives.WriteUInt16BigEndian(caps[10..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(caps[12..], 2048);
            BinaryPrimitives.WriteUInt16BigEndian(caps[14..], 706);
            length += 20;
        }
        if (length == 8)
            return Error(SenseIllegalRequest, AscInvalidField);
        BinaryPrimitives.WriteUInt16BigEndian(response, (ushort)(length - 2));
        return PacketOutcome.Data(Math.Min(allocation, length));
    }

    private PacketOutcome? NeedMedia() => Media == null ? Error(SenseNotReady, AscNoMedium) : null;

    private PacketOutcome Error(byte key, byte code)
    {
        SetSense(key, code);
        return PacketOutcome.Failed(key);
    }

    private void SetSense(byte key, byte code)
    {
        senseKey = key;
        asc = code;
    }

    internal override void SaveSettings(BinaryWriter writer)
    {
        writer.Write(TransferMode);
        writer.Write(senseKey);
        writer.Write(asc);
    }

    internal override void LoadSettings(BinaryReader reader)
    {
        TransferMode = reader.ReadByte();
        senseKey = reader.ReadByte();
        asc = reader.ReadByte();
    }
}

/// <summary>What a packet command asks of the channel: nothing, response bytes, a disc read, or an error.</summary>
internal readonly record struct PacketOutcome(PacketKind Kind, int Length, long Lba, long Blocks, byte SenseKey)
{
    public static PacketOutcome Done => new(PacketKind.Done, 0, 0, 0, 0);
    public static PacketOutcome Data(int length) => new(PacketKind.Data, length, 0, 0, 0);
    public static PacketOutcome MediaRead(long lba, long blocks) => new(PacketKind.MediaRead, 0, lba, blocks, 0);
    public static PacketOutcome Failed(byte senseKey) => new(PacketKind.Error, 0, 0, 0, senseKey);
}

internal enum PacketKind : byte { Done, Data, MediaRead, Error }
