using System.Buffers.Binary;

namespace Emu.Hardware.Ide;

/// <summary>The ATA DATA SET MANAGEMENT command with its TRIM bit: a DMA list of LBA ranges the disk may forget.</summary>
/// <remarks>As in QEMU, TRIM is DMA only. The payload is the sector count's worth of 512-byte blocks, each holding 64
/// little-endian entries (LBA in bits 0-47, sector count in bits 48-63, count 0 = unused). Entries are handed to the
/// backend one at a time, in order, read straight from guest RAM, so a long list costs no buffer. A range past the
/// end of the disk ends the command with ABRT; ranges before it stay discarded.</remarks>
public sealed partial class IdeChannel
{
    private const byte FeatureTrim = 0x01;
    private const int TrimEntrySize = 8;

    private (ulong Address, Memory<byte> Ram)[] trimList = [];
    private int trimSegment, trimPosition; // next entry: segment index and offset within it
    private long trimEntriesLeft;

    private void DataSetManagement(AtaDrive drive)
    {
        // Only TRIM is defined (feature bit 0); anything else is not supported, as in QEMU.
        if (feature != FeatureTrim)
        {
            Abort();
            return;
        }
        // Payload blocks: like QEMU, only the low count byte (a guest that writes just that one is served too);
        // an empty list ends at once.
        long blocks = count;
        if (blocks == 0)
        {
            Complete();
            return;
        }
        PrepareDma(drive.Disk, 0, blocks * SectorSize, toDisk: true, trim: true);
    }

    // Runs once the bus-master engine has mapped the payload: walks the entries from the first.
    private void StartTrim()
    {
        trimList = segments.ToArray();
        trimSegment = trimPosition = 0;
        trimEntriesLeft = dmaLength / TrimEntrySize;
        TrimNext();
    }

    private void TrimNext()
    {
        var drive = (AtaDrive)active!;
        Span<byte> entry = stackalloc byte[TrimEntrySize];
        while (trimEntriesLeft > 0)
        {
            trimEntriesLeft--;
            TakeTrimEntry(entry);
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(entry);
            long lba = (long)(value & 0xFFFF_FFFF_FFFF);
            long sectors = (long)(value >> 48);
            if (sectors == 0)
                continue;
            if (lba > drive.TotalSectors || sectors > drive.TotalSectors - lba)
            {
                TrimOutOfRange();
                return;
            }
            drive.Disk.Discard(lba * SectorSize, sectors * SectorSize, Completion(result =>
            {
                if (result < 0)
                    FinishDma(ok: false);
                else
                    TrimNext();
            }));
            return;
        }
        trimList = [];
        FinishDma(ok: true);
    }

    // Copies the next entry out of the payload; PRD entries of odd sizes can split one across two segments.
    private void TakeTrimEntry(Span<byte> entry)
    {
        for (int filled = 0; filled < entry.Length;)
        {
            var ram = trimList[trimSegment].Ram.Span;
            int bytes = Math.Min(entry.Length - filled, ram.Length - trimPosition);
            ram.Slice(trimPosition, bytes).CopyTo(entry[filled..]);
            filled += bytes;
            trimPosition += bytes;
            if (trimPosition == ram.Length)
            {
                trimSegment++;
                trimPosition = 0;
            }
        }
    }

    // QEMU's answer to a range beyond the disk: the DMA stops (ACTIVE clears) and the command aborts.
    private void TrimOutOfRange()
    {
        trimList = [];
        dmaBackend = null;
        dmaTrim = false;
        dmaStayActive = false;
        BusMaster.Status &= unchecked((byte)~BusMasterDma.StatusActive);
        Abort();
    }
}
