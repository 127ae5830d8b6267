namespace Emu.Hardware.Ide;

/// <summary>The ATAPI side of an IDE channel: the PACKET protocol that carries SCSI commands to a CD-ROM.</summary>
/// <remarks>The host writes PACKET, then the 12-byte command through the data port; responses go back in DRQ blocks
/// no larger than the byte count the host put in the LBA mid/high registers, or by bus-master DMA when feature bit 0
/// asks for it. The sector count register reports the interrupt reason (bit 0 command/data, bit 1 direction).</remarks>
public sealed partial class IdeChannel
{
    private const int PacketSize = 12;
    private const byte ReasonCommand = 0x01, ReasonToHost = 0x02;
    private const byte SenseNotReady = 0x02, SenseMediumError = 0x03, SenseAbortedCommand = 0x0B;

    private long packetBytesLeft;   // bytes of the response not yet handed to the host
    private long mediaBlocksLeft;   // disc blocks not yet read into the buffer
    private int byteLimit;          // most bytes per DRQ block
    private bool packetDma;         // the host asked for DMA

    private void ExecutePacketDeviceCommand(AtapiCdrom cdrom, byte command)
    {
        switch (command)
        {
            case 0xA0:
                StartPacket();
                break;
            case 0xA1:
                IdentifyDevice(cdrom);
                break;
            case 0xEC:
                // IDENTIFY DEVICE is for ATA drives: abort, leaving the packet signature so the host knows why.
                WritePacketSignature();
                Abort();
                break;
            case 0x08:
                // DEVICE RESET: no interrupt, just the signature.
                cdrom.Reset();
                WritePacketSignature();
                error = 0x01;
                status = StatusReady | StatusSeek;
                break;
            case 0xEF:
                SetFeatures(cdrom);
                break;
            case 0xE5:
                count = 0xFF;
                Complete();
                break;
            case 0xE0 or 0xE1 or 0xE2 or 0xE3 or 0xE6:
                Complete();
                break;
            case 0x90:
                SetSignature();
                SetIrqPending(true);
                break;
            default:
                Abort();
                break;
        }
    }

    private void WritePacketSignature()
    {
        count = lbaLow = 1;
        lbaMid = 0x14;
        lbaHigh = 0xEB;
    }

    private void StartPacket()
    {
        packetDma = (feature & 0x01) != 0;
        // A zero (or odd) byte count limit is not usable as is: round down to even, and treat zero as the maximum.
        byteLimit = (lbaHigh << 8 | lbaMid) & ~1;
        if (byteLimit == 0 || byteLimit == 0xFFFE)
            byteLimit = 0xFFFE;
        transfer = Transfer.PacketCommand;
        chunkStart = dataPos = 0;
        blockEnd = PacketSize;
        count = ReasonCommand;
        // No interrupt: the host sends the packet as soon as it sees DRQ.
        status = StatusReady | StatusSeek | StatusDrq;
    }

    private void ExecutePacket()
    {
        var cdrom = (AtapiCdrom)active!;
        Span<byte> packet = stackalloc byte[PacketSize];
        buffer.AsSpan(0, PacketSize).CopyTo(packet);
        transfer = Transfer.None;
        // A PIO command that returns data needs a byte count limit (still in LBA mid/high): zero aborts the command
        // at the ATA level before it runs (ATA8-ACS 7.18.6.49), leaving the sense data as it was.
        if ((lbaHigh | lbaMid) == 0 && !packetDma && cdrom.ReturnsData(packet[0]))
        {
            Abort();
            return;
        }
        var outcome = cdrom.Execute(packet, buffer);
        switch (outcome.Kind)
        {
            case PacketKind.Data when outcome.Length > 0:
                if (packetDma)
                    PrepareDma(null, 0, outcome.Length, toDisk: false);
                else
                {
                    transfer = Transfer.PacketIn;
                    packetBytesLeft = outcome.Length;
                    mediaBlocksLeft = 0;
                    chunkStart = 0;
                    chunkEnd = outcome.Length;
                    BeginPacketBlock();
                }
                break;
            case PacketKind.MediaRead:
                if (packetDma)
                    PrepareDma(cdrom.Media, outcome.Lba * AtapiCdrom.BlockSize, outcome.Blocks * AtapiCdrom.BlockSize, toDisk: false);
                else
                {
                    transfer = Transfer.PacketIn;
                    packetBytesLeft = outcome.Blocks * AtapiCdrom.BlockSize;
                    nextLba = outcome.Lba;
                    mediaBlocksLeft = outcome.Blocks;
                    FetchMedia(cdrom);
                }
                break;
            case PacketKind.Error:
                FinishPacket(outcome.SenseKey);
                break;
            default:
                FinishPacket(null);
                break;
        }
    }

    // Reads as many disc blocks as the buffer holds, then offers them in DRQ blocks.
    private void FetchMedia(AtapiCdrom cdrom)
    {
        var media = cdrom.Media;
        if (media == null)
        {
            FinishPacket(SenseNotReady);
            return;
        }
        int blocks = (int)Math.Min(mediaBlocksLeft, buffer.Length / AtapiCdrom.BlockSize);
        status = StatusBusy | StatusReady | StatusSeek;
        media.Read(nextLba * AtapiCdrom.BlockSize, buffer.AsMemory(0, blocks * AtapiCdrom.BlockSize), Completion(result =>
        {
            if (result < 0)
            {
                FinishPacket(SenseMediumError);
                return;
            }
            nextLba += blocks;
            mediaBlocksLeft -= blocks;
            chunkStart = 0;
            chunkEnd = blocks * AtapiCdrom.BlockSize;
            BeginPacketBlock();
        }));
    }

    private void BeginPacketBlock()
    {
        int size = Math.Min(chunkEnd - chunkStart, byteLimit);
        dataPos = chunkStart;
        blockEnd = chunkStart + size;
        lbaMid = (byte)size;
        lbaHigh = (byte)(size >> 8);
        count = ReasonToHost;
        status = StatusReady | StatusSeek | StatusDrq;
        SetIrqPending(true);
    }

    private void FinishPacketBlock()
    {
        packetBytesLeft -= blockEnd - chunkStart;
        chunkStart = blockEnd;
        if (packetBytesLeft == 0)
            FinishPacket(null);
        else if (chunkStart < chunkEnd)
            BeginPacketBlock();
        else
            FetchMedia((AtapiCdrom)active!);
    }

    // Ends a packet command: status phase (command/data and direction bits both set) with an interrupt.
    private void FinishPacket(byte? senseKey)
    {
        transfer = Transfer.None;
        count = ReasonCommand | ReasonToHost;
        if (senseKey is { } key)
        {
            error = (byte)(key << 4 | ErrorAbort);
            status = StatusReady | StatusError;
        }
        else
            status = StatusReady | StatusSeek;
        SetIrqPending(true);
    }

    private void SavePacketState(BinaryWriter w)
    {
        w.Write(packetBytesLeft);
        w.Write(mediaBlocksLeft);
        w.Write(byteLimit);
        w.Write(packetDma);
    }

    private void LoadPacketState(BinaryReader r)
    {
        packetBytesLeft = r.ReadInt64();
        mediaBlocksLeft = r.ReadInt64();
        byteLimit = r.ReadInt32();
        packetDma = r.ReadBoolean();
    }
}
