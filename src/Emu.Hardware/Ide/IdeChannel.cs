namespace Emu.Hardware.Ide;

/// <summary>One IDE channel: the task-file registers at its command and control ports, up to two drives (ATA disks or ATAPI CD-ROMs), and command execution.</summary>
/// <remarks>Sector data moves through <see cref="IDiskBackend"/> asynchronously: a command sets BSY, the backend's
/// completion (on the event loop) finishes it and raises the channel's IRQ. Completions from a command that was
/// superseded (reset, new command) are recognised by a generation number and ignored.</remarks>
public sealed partial class IdeChannel : IIoHandler, IIoStringHandler
{
    private const byte StatusBusy = 0x80, StatusReady = 0x40, StatusSeek = 0x10, StatusDrq = 0x08, StatusError = 0x01;
    private const byte ErrorAbort = 0x04, ErrorIdNotFound = 0x10;
    private const byte ControlNoInterrupt = 0x02, ControlReset = 0x04, ControlHob = 0x80;
    private const byte DeviceLba = 0x40, DeviceSlave = 0x10;
    private const int SectorSize = IdeDevice.SectorSize;
    // PIO transfers are staged through the backend in chunks of this many sectors.
    private const int ChunkSectors = 256;

    private readonly Bus bus;
    private readonly int commandBase, controlPort, irq;
    private readonly IdeDevice?[] drives = new IdeDevice?[2];
    private readonly byte[] buffer = new byte[ChunkSectors * SectorSize];
    private readonly List<(ulong Address, Memory<byte> Ram)> segments = new();

    // Task file: each register remembers its previous value for LBA48 ("high order byte").
    private byte feature, count, lbaLow, lbaMid, lbaHigh;
    private byte hobFeature, hobCount, hobLow, hobMid, hobHigh;
    private byte device, control, status, error;
    private bool irqPending;

    private Transfer transfer;
    private bool toDisk;            // direction of the current transfer
    private long nextLba;           // first sector not yet moved between buffer and backend
    private long remaining;         // sectors of the command not yet handed to/from the guest
    private int blockSectors;       // sectors per DRQ block
    private int chunkStart, chunkEnd; // PIO: buffer byte range staged for the guest
    private int blockEnd, dataPos;  // PIO: current DRQ block end and position within the buffer
    private int generation;
    private int inFlight;           // backend requests not yet completed, current or superseded
    private IdeDevice? active;      // the drive running the current command (the guest may select the other one meanwhile)
    private IDiskBackend? dmaBackend; // DMA: the medium to transfer with, or null to copy the buffer to memory
    private long dmaOffset, dmaLength; // DMA: byte range on the medium (or in the buffer)
    private bool dmaStayActive;     // DMA: the PRD table is longer than the transfer, so ACTIVE outlives it
    private bool dmaTrim;           // DMA: the transfer is a TRIM range list for the medium, not sector data

    private enum Transfer : byte { None, PioIn, PioOut, PacketCommand, PacketIn, DmaPending, DmaRunning }

    internal IdeChannel(Bus bus, int commandBase, int controlPort, int irq)
    {
        this.bus = bus;
        this.commandBase = commandBase;
        this.controlPort = controlPort;
        this.irq = irq;
        BusMaster = new BusMasterDma(bus.Memory) { Started = StartDma };
        bus.Io.Register(commandBase, 1, this, IoWidth.All);
        bus.Io.Register(commandBase + 1, 7, this);
        bus.Io.Register(controlPort, 1, this);
        Reset();
    }

    /// <summary>This channel's bus-master DMA registers.</summary>
    public BusMasterDma BusMaster { get; }

    /// <summary>The drive at position <paramref name="index"/> (0 master, 1 slave), if any.</summary>
    public IdeDevice? this[int index] => drives[index];

    /// <summary>True while backend requests are in flight; savevm drains the event loop until this is false.</summary>
    public bool Busy => inFlight > 0;

    internal void Attach(int index, IdeDevice drive)
    {
        drives[index] = drive;
        SetSignature();
    }

    private IdeDevice? Selected => drives[(device & DeviceSlave) != 0 ? 1 : 0];

    private bool NoDrives => drives[0] == null && drives[1] == null;

    public uint Read(ushort port, int size)
    {
        if (NoDrives)
            return size == 4 ? 0xFFFF_FFFF : size == 2 ? 0xFFFFu : 0xFFu;
        if (port == controlPort)
            return Selected == null ? 0u : status;
        if (port == commandBase)
            return ReadData(size);
        bool hob = (control & ControlHob) != 0;
        bool absent = Selected == null;
        switch (port - commandBase)
        {
            case 1: return absent ? 0u : hob ? hobFeature : error;
            case 2: return hob ? hobCount : count;
            case 3: return hob ? hobLow : lbaLow;
            case 4: return hob ? hobMid : lbaMid;
            case 5: return hob ? hobHigh : lbaHigh;
            case 6: return device;
            default:
                if (absent)
                    return 0;
                // Reading the status register (not the alternate one) acknowledges the interrupt.
                SetIrqPending(false);
                return status;
        }
    }

    public void Write(ushort port, int size, uint value)
    {
        byte data = (byte)value;
        if (port == controlPort)
        {
            WriteControl(data);
            return;
        }
        if (port == commandBase)
        {
            WriteData(size, value);
            return;
        }
        // Writes to the command block are ignored while the drive is busy.
        if ((status & StatusBusy) != 0 && port - commandBase != 7)
            return;
        control &= unchecked((byte)~ControlHob); // any task-file write clears HOB
        switch (port - commandBase)
        {
            case 1: hobFeature = feature; feature = data; break;
            case 2: hobCount = count; count = data; break;
            case 3: hobLow = lbaLow; lbaLow = data; break;
            case 4: hobMid = lbaMid; lbaMid = data; break;
            case 5: hobHigh = lbaHigh; lbaHigh = data; break;
            case 6: device = (byte)(data | 0xA0); break;
            default: ExecuteCommand(data); break;
        }
    }

    private void WriteControl(byte data)
    {
        bool wasReset = (control & ControlReset) != 0;
        if ((control & ControlNoInterrupt) != 0 && (data & ControlNoInterrupt) == 0 && irqPending)
            BusMaster.Status |= BusMasterDma.StatusInterrupt; // the masked interrupt reaches the controller now
        control = data;
        if ((data & ControlReset) != 0 && !wasReset)
        {
            // SRST asserted: abandon any command and hold the drives busy.
            generation++;
            transfer = Transfer.None;
            BusMaster.Status &= unchecked((byte)~BusMasterDma.StatusActive);
            status = StatusBusy;
            SetIrqPending(false);
        }
        else if ((data & ControlReset) == 0 && wasReset)
        {
            foreach (var drive in drives)
                drive?.Reset();
            SetSignature();
        }
        UpdateIrq();
    }

    // The drive signature (ATA 00/00, ATAPI 14/EB) and "diagnostics passed", left after reset and diagnostics.
    // The task file is shared, so it shows the master's signature (or the slave's when it is alone).
    private void SetSignature()
    {
        device = 0xA0;
        count = lbaLow = 1;
        bool atapi = (drives[0] ?? drives[1])?.IsAtapi == true;
        lbaMid = (byte)(atapi ? 0x14 : 0);
        lbaHigh = (byte)(atapi ? 0xEB : 0);
        hobCount = hobLow = hobMid = hobHigh = hobFeature = 0;
        error = 0x01;
        status = StatusReady | StatusSeek;
    }

    private void ExecuteCommand(byte command)
    {
        var selected = Selected;
        // A command to an absent drive, or one the busy drive cannot take, is ignored; only DEVICE RESET reaches a
        // busy ATAPI drive (the way out of a stalled packet command).
        if (selected == null || (status & StatusBusy) != 0 && !(command == 0x08 && selected is AtapiCdrom))
            return;
        generation++;
        transfer = Transfer.None;
        active = selected;
        dmaBackend = null;
        dmaTrim = false;
        error = 0;
        SetIrqPending(false);
        if (selected is AtapiCdrom cdrom)
        {
            ExecutePacketDeviceCommand(cdrom, command);
            return;
        }
        var drive = (AtaDrive)selected;
        switch (command)
        {
            case 0xEC: IdentifyDevice(drive); break;
            case 0x20 or 0x21: StartPio(drive, lba48: false, toDisk: false, 1); break;
            case 0x24: StartPio(drive, lba48: true, toDisk: false, 1); break;
            case 0x30 or 0x31: StartPio(drive, lba48: false, toDisk: true, 1); break;
            case 0x34: StartPio(drive, lba48: true, toDisk: true, 1); break;
            case 0xC4: StartMultiple(drive, lba48: false, toDisk: false); break;
            case 0x29: StartMultiple(drive, lba48: true, toDisk: false); break;
            case 0xC5: StartMultiple(drive, lba48: false, toDisk: true); break;
            case 0x39: StartMultiple(drive, lba48: true, toDisk: true); break;
            case 0xC8 or 0xC9: StartDmaCommand(drive, lba48: false, toDisk: false); break;
            case 0x25: StartDmaCommand(drive, lba48: true, toDisk: false); break;
            case 0xCA or 0xCB: StartDmaCommand(drive, lba48: false, toDisk: true); break;
            case 0x35: StartDmaCommand(drive, lba48: true, toDisk: true); break;
            case 0x40 or 0x41: Verify(drive, lba48: false); break;
            case 0x42: Verify(drive, lba48: true); break;
            case 0xE7 or 0xEA: Flush(drive); break;
            case 0x06: DataSetManagement(drive); break;
            case 0xEF: SetFeatures(drive); break;
            case 0xC6: SetMultiple(drive); break;
            case 0x91: InitializeParameters(drive); break;
            case 0xF8: ReportNativeMax(drive, lba48: false); break;
            case 0x27: ReportNativeMax(drive, lba48: true); break;
            case 0xE5:
                count = 0xFF; // CHECK POWER MODE: active or idle
                Complete();
                break;
            case 0x90:
                SetSignature();
                SetIrqPending(true);
                break;
            case >= 0x10 and <= 0x1F or 0x70 or 0xE0 or 0xE1 or 0xE2 or 0xE3 or 0xE6:
                Complete(); // RECALIBRATE, SEEK, power management: nothing to do on an emulated disk
                break;
            default:
                Abort();
                break;
        }
    }

    private void IdentifyDevice(IdeDevice drive)
    {
        drive.Identify(buffer);
        transfer = Transfer.PioIn;
        toDisk = false;
        remaining = 1;
        blockSectors = 1;
        chunkStart = 0;
        chunkEnd = SectorSize;
        nextLba = 0;
        BeginBlock();
    }

    private void StartMultiple(AtaDrive drive, bool lba48, bool toDisk)
    {
        if (drive.MultipleSectors == 0)
        {
            Abort();
            return;
        }
        StartPio(drive, lba48, toDisk, drive.MultipleSectors);
    }

    private void StartPio(AtaDrive drive, bool lba48, bool toDisk, int sectorsPerBlock)
    {
        if (!TryDecodeRange(drive, lba48, out long lba, out long sectors))
            return;
        transfer = toDisk ? Transfer.PioOut : Transfer.PioIn;
        this.toDisk = toDisk;
        nextLba = lba;
        remaining = sectors;
        blockSectors = sectorsPerBlock;
        chunkStart = chunkEnd = 0;
        if (toDisk)
        {
            // The host sends the first block without waiting for an interrupt.
            chunkEnd = (int)Math.Min(remaining, ChunkSectors) * SectorSize;
            BeginBlock(raiseIrq: false);
        }
        else
            FetchChunk(drive);
    }

    // PIO in: read the next chunk of the command from the backend, then offer it block by block.
    private void FetchChunk(AtaDrive drive)
    {
        int sectors = (int)Math.Min(remaining, ChunkSectors);
        status = StatusBusy | StatusReady | StatusSeek;
        drive.Disk.Read(nextLba * SectorSize, buffer.AsMemory(0, sectors * SectorSize), Completion(result =>
        {
            if (result < 0)
            {
                Abort();
                return;
            }
            nextLba += sectors;
            chunkStart = 0;
            chunkEnd = sectors * SectorSize;
            BeginBlock();
        }));
    }

    private void BeginBlock(bool raiseIrq = true)
    {
        dataPos = chunkStart;
        blockEnd = (int)Math.Min(chunkEnd, chunkStart + Math.Min(blockSectors, remaining) * SectorSize);
        status = StatusReady | StatusSeek | StatusDrq;
        if (raiseIrq)
            SetIrqPending(true);
    }

    private uint ReadData(int size)
    {
        if (transfer is not (Transfer.PioIn or Transfer.PacketIn) || (status & StatusDrq) == 0)
            return 0;
        uint value = 0;
        for (int i = 0; i < size && dataPos < blockEnd; i++)
            value |= (uint)buffer[dataPos++] << (8 * i);
        if (dataPos < blockEnd)
            return value;
        if (transfer == Transfer.PacketIn)
            FinishPacketBlock();
        else
            FinishInBlock();
        return value;
    }

    public int ReadString(ushort port, int size, Span<byte> destination)
    {
        int copied = 0;
        while (port == commandBase && transfer is (Transfer.PioIn or Transfer.PacketIn) && (status & StatusDrq) != 0)
        {
            int bytes = Math.Min(blockEnd - dataPos, destination.Length - copied);
            bytes -= bytes % size; // a split element at the end of a block takes the element path
            if (bytes == 0)
                break;
            buffer.AsSpan(dataPos, bytes).CopyTo(destination[copied..]);
            dataPos += bytes;
            copied += bytes;
            if (dataPos < blockEnd)
                break;
            if (transfer == Transfer.PacketIn)
                FinishPacketBlock();
            else
                FinishInBlock();
        }
        return copied / size;
    }

    public int WriteString(ushort port, int size, ReadOnlySpan<byte> source)
    {
        int copied = 0;
        while (port == commandBase && transfer is (Transfer.PioOut or Transfer.PacketCommand) && (status & StatusDrq) != 0)
        {
            int bytes = Math.Min(blockEnd - dataPos, source.Length - copied);
            bytes -= bytes % size;
            if (bytes == 0)
                break;
            source.Slice(copied, bytes).CopyTo(buffer.AsSpan(dataPos));
            dataPos += bytes;
            copied += bytes;
            if (dataPos < blockEnd)
                break;
            if (transfer == Transfer.PacketCommand)
                ExecutePacket();
            else
                FinishOutBlock();
        }
        return copied / size;
    }

    private void FinishInBlock()
    {
        int sectors = (blockEnd - chunkStart) / SectorSize;
        remaining -= sectors;
        chunkStart = blockEnd;
        if (remaining == 0)
        {
            // The last block of a PIO read ends the command without another interrupt.
            transfer = Transfer.None;
            status = StatusReady | StatusSeek;
        }
        else if (chunkStart < chunkEnd)
            BeginBlock();
        else
            FetchChunk((AtaDrive)active!);
    }

    private void WriteData(int size, uint value)
    {
        if (transfer is not (Transfer.PioOut or Transfer.PacketCommand) || (status & StatusDrq) == 0)
            return;
        for (int i = 0; i < size && dataPos < blockEnd; i++)
            buffer[dataPos++] = (byte)(value >> (8 * i));
        if (dataPos < blockEnd)
            return;
        if (transfer == Transfer.PacketCommand)
            ExecutePacket();
        else
            FinishOutBlock();
    }

    private void FinishOutBlock()
    {
        remaining -= (blockEnd - chunkStart) / SectorSize;
        chunkStart = blockEnd;
        if (chunkStart < chunkEnd)
        {
            BeginBlock(); // more room in this chunk: ask for the next block at once
            return;
        }
        // The chunk is full (or the command's data is all here): write it out.
        var drive = (AtaDrive)active!;
        int bytes = chunkEnd;
        long lba = nextLba;
        status = StatusBusy | StatusReady | StatusSeek;
        drive.Disk.Write(lba * SectorSize, buffer.AsMemory(0, bytes), Completion(result =>
        {
            if (result < 0)
            {
                Abort();
                return;
            }
            nextLba += bytes / SectorSize;
            if (remaining == 0)
            {
                transfer = Transfer.None;
                Complete();
                return;
            }
            chunkStart = 0;
            chunkEnd = (int)Math.Min(remaining, ChunkSectors) * SectorSize;
            BeginBlock();
        }));
    }

    private void StartDmaCommand(AtaDrive drive, bool lba48, bool toDisk)
    {
        if (!TryDecodeRange(drive, lba48, out long lba, out long sectors))
            return;
        nextLba = lba;
        remaining = sectors;
        PrepareDma(drive.Disk, lba * SectorSize, sectors * SectorSize, toDisk);
    }

    // Waits for the bus-master engine (or starts at once if it is already running).
    private void PrepareDma(IDiskBackend? backend, long offset, long length, bool toDisk, bool trim = false)
    {
        transfer = Transfer.DmaPending;
        this.toDisk = toDisk;
        dmaBackend = backend;
        dmaTrim = trim;
        dmaOffset = offset;
        dmaLength = length;
        status = StatusReady | StatusSeek | StatusDrq;
        if ((BusMaster.Status & BusMasterDma.StatusActive) != 0)
            StartDma();
    }

    // Runs when both the DMA command and the bus-master start are in place, in either order.
    // As in QEMU, the command decides the direction; the bus-master direction bit is not consulted.
    private void StartDma()
    {
        if (transfer != Transfer.DmaPending)
            return;
        transfer = Transfer.DmaRunning;
        status = StatusBusy | StatusReady | StatusSeek | StatusDrq;
        var prd = BusMaster.BuildSegments(dmaLength, toMemory: !toDisk, segments);
        if (prd == PrdResult.Shorter)
        {
            PrdTooShort();
            return;
        }
        dmaStayActive = prd == PrdResult.Longer;
        if (prd == PrdResult.BadMemory)
        {
            FinishDma(ok: false);
            return;
        }
        if (dmaTrim)
        {
            StartTrim();
            return;
        }
        if (dmaBackend == null)
        {
            // A packet command's small response: copy it from the buffer.
            int from = 0;
            foreach (var (address, ram) in segments)
            {
                buffer.AsSpan(from, ram.Length).CopyTo(ram.Span);
                bus.Memory.NotifyDeviceWrite(address, ram.Length);
                from += ram.Length;
            }
            FinishDma(ok: true);
            return;
        }
        var scatter = new Memory<byte>[segments.Count];
        for (int i = 0; i < scatter.Length; i++)
            scatter[i] = segments[i].Ram;
        var written = toDisk ? null : segments.ToArray();
        void Done(int result)
        {
            if (result >= 0 && written != null)
            {
                foreach (var (address, memory) in written)
                    bus.Memory.NotifyDeviceWrite(address, memory.Length);
            }
            FinishDma(result >= 0);
        }
        if (toDisk)
            dmaBackend.WriteGathered(dmaOffset, scatter, Completion(Done));
        else
            dmaBackend.ReadScattered(dmaOffset, scatter, Completion(Done));
    }

    // The PRD table ends before the transfer does. Like QEMU, move nothing, stop the engine (ACTIVE clears, ERROR
    // stays clear: the PIIX's "interrupt 0, active 0, error 0" means the table was too small) and raise no
    // interrupt. An ATA command ends there; an ATAPI drive is left waiting with its data (BSY, DRQ) until reset.
    private void PrdTooShort()
    {
        transfer = Transfer.None;
        dmaBackend = null;
        dmaTrim = false;
        BusMaster.Status &= unchecked((byte)~BusMasterDma.StatusActive);
        if (active is not AtapiCdrom)
        {
            remaining = 0;
            status = StatusReady | StatusSeek;
        }
    }

    private void FinishDma(bool ok)
    {
        transfer = Transfer.None;
        byte bm = BusMaster.Status;
        // A table longer than the transfer leaves the engine active (PIIX: "interrupt 1, active 1" is a valid completion).
        if (!ok || !dmaStayActive)
            bm &= unchecked((byte)~BusMasterDma.StatusActive);
        if (!ok)
            bm |= BusMasterDma.StatusError;
        BusMaster.Status = bm;
        dmaBackend = null;
        dmaTrim = false;
        dmaStayActive = false;
        if (active is AtapiCdrom)
            FinishPacket(ok ? null : SenseAbortedCommand);
        else if (ok)
        {
            remaining = 0;
            Complete();
        }
        else
            Abort();
    }

    private void Verify(AtaDrive drive, bool lba48)
    {
        if (TryDecodeRange(drive, lba48, out _, out _))
            Complete();
    }

    private void Flush(AtaDrive drive)
    {
        status = StatusBusy | StatusReady | StatusSeek;
        drive.Disk.Flush(Completion(result =>
        {
            if (result < 0)
                Abort();
            else
                Complete();
        }));
    }

    private void SetFeatures(IdeDevice drive)
    {
        switch (feature)
        {
            case 0x02 or 0x82 when drive is AtaDrive disk:
                disk.WriteCache = feature == 0x02;
                break;
            case 0x03:
                int kind = count & 0xF8, mode = count & 7;
                bool valid = kind switch
                {
                    0x00 => mode <= 1,      // PIO default
                    0x08 => mode <= 4,      // PIO flow control
                    0x20 => mode <= 2,      // multiword DMA
                    0x40 => mode <= 5,      // Ultra DMA
                    _ => false,
                };
                if (!valid)
                {
                    Abort();
                    return;
                }
                drive.TransferMode = (byte)count;
                break;
            case 0x55 or 0xAA or 0x66 or 0xCC or 0x05 or 0x85 or 0x42 or 0xC2 or 0x67 or 0x69 or 0x96 or 0x9A:
                break; // look-ahead, reverting to defaults, APM, acoustic management, vendor no-ops: accepted, no effect here
            default:
                Abort();
                return;
        }
        Complete();
    }

    private void SetMultiple(AtaDrive drive)
    {
        // The block size must be a power of two no larger than what IDENTIFY word 47 offers.
        if (count > AtaDrive.MaxMultipleSectors || (count & (count - 1)) != 0)
        {
            Abort();
            return;
        }
        drive.MultipleSectors = count;
        Complete();
    }

    private void InitializeParameters(AtaDrive drive)
    {
        if (count == 0)
        {
            Abort();
            return;
        }
        drive.LogicalSectors = count;
        drive.LogicalHeads = (device & 0x0F) + 1;
        Complete();
    }

    private void ReportNativeMax(AtaDrive drive, bool lba48)
    {
        long max = drive.TotalSectors - 1;
        if (!lba48)
            max = Math.Min(max, 0x0FFF_FFFF);
        lbaLow = (byte)max;
        lbaMid = (byte)(max >> 8);
        lbaHigh = (byte)(max >> 16);
        if (lba48)
        {
            hobLow = (byte)(max >> 24);
            hobMid = (byte)(max >> 32);
            hobHigh = (byte)(max >> 40);
        }
        else
            device = (byte)((device & 0xF0) | (int)(max >> 24 & 0x0F));
        Complete();
    }

    // Decodes the command's address (LBA48, LBA28 or CHS) and count; reports IDNF for anything past the end of the disk.
    private bool TryDecodeRange(AtaDrive drive, bool lba48, out long lba, out long sectors)
    {
        if (lba48)
        {
            lba = (long)hobHigh << 40 | (long)hobMid << 32 | (long)hobLow << 24 | (long)lbaHigh << 16 | (long)lbaMid << 8 | lbaLow;
            sectors = hobCount << 8 | count;
            if (sectors == 0) sectors = 0x1_0000;
        }
        else
        {
            sectors = count == 0 ? 256 : count;
            if ((device & DeviceLba) != 0)
                lba = (long)(device & 0x0F) << 24 | (long)lbaHigh << 16 | (long)lbaMid << 8 | lbaLow;
            else
            {
                int cylinder = lbaHigh << 8 | lbaMid, head = device & 0x0F, sector = lbaLow;
                lba = sector == 0 || head >= drive.LogicalHeads || sector > drive.LogicalSectors
                    ? -1
                    : ((long)cylinder * drive.LogicalHeads + head) * drive.LogicalSectors + sector - 1;
            }
        }
        if (lba < 0 || lba + sectors > drive.TotalSectors)
        {
            Fail(ErrorIdNotFound);
            return false;
        }
        return true;
    }

    // Wraps a backend completion: counts requests in flight and drops results of superseded commands.
    private Action<int> Completion(Action<int> onResult)
    {
        int issued = generation;
        inFlight++;
        return result =>
        {
            inFlight--;
            if (issued == generation)
                onResult(result);
        };
    }

    private void Complete()
    {
        status = StatusReady | StatusSeek;
        SetIrqPending(true);
    }

    private void Abort() => Fail(ErrorAbort);

    // An error leaves DRDY and ERR, without DSC (as QEMU's drives report it: status 0x41).
    private void Fail(byte errorBits)
    {
        transfer = Transfer.None;
        error = errorBits;
        status = StatusReady | StatusError;
        SetIrqPending(true);
    }

    private void SetIrqPending(bool pending)
    {
        irqPending = pending;
        // The PIIX latches the drive interrupt in the bus-master status register when it reaches the controller,
        // which it does not while nIEN masks it (QEMU sets the bit only when it raises the IRQ, too).
        if (pending && (control & ControlNoInterrupt) == 0)
            BusMaster.Status |= BusMasterDma.StatusInterrupt;
        UpdateIrq();
    }

    private void UpdateIrq() => bus.SetIrq(irq, irqPending && (control & ControlNoInterrupt) == 0);

    internal void Reset()
    {
        generation++;
        transfer = Transfer.None;
        active = null;
        dmaBackend = null;
        dmaTrim = false;
        dmaStayActive = false;
        control = 0;
        feature = 0;
        BusMaster.Reset();
        foreach (var drive in drives)
            drive?.Reset();
        SetSignature();
        irqPending = false;
        UpdateIrq();
    }

    internal void Save(BinaryWriter w)
    {
        w.Write(feature); w.Write(count); w.Write(lbaLow); w.Write(lbaMid); w.Write(lbaHigh);
        w.Write(hobFeature); w.Write(hobCount); w.Write(hobLow); w.Write(hobMid); w.Write(hobHigh);
        w.Write(device); w.Write(control); w.Write(status); w.Write(error); w.Write(irqPending);
        w.Write((byte)transfer); w.Write(toDisk); w.Write(nextLba); w.Write(remaining); w.Write(blockSectors);
        w.Write(chunkStart); w.Write(chunkEnd); w.Write(blockEnd); w.Write(dataPos);
        w.Write(dmaOffset); w.Write(dmaLength); w.Write(dmaStayActive);
        w.Write(active == null ? -1 : Array.IndexOf(drives, active));
        // What a pending DMA moves: 0 the buffer, 1 sectors of the medium, 2 a TRIM list (1 was once a bool).
        w.Write((byte)(transfer is not (Transfer.DmaPending or Transfer.DmaRunning) || dmaBackend == null ? 0 : dmaTrim ? 2 : 1));
        SavePacketState(w);
        w.Write(buffer);
        BusMaster.Save(w);
        foreach (var drive in drives)
        {
            w.Write(drive != null);
            drive?.SaveSettings(w);
        }
    }

    internal void Load(BinaryReader r)
    {
        generation++;
        feature = r.ReadByte(); count = r.ReadByte(); lbaLow = r.ReadByte(); lbaMid = r.ReadByte(); lbaHigh = r.ReadByte();
        hobFeature = r.ReadByte(); hobCount = r.ReadByte(); hobLow = r.ReadByte(); hobMid = r.ReadByte(); hobHigh = r.ReadByte();
        device = r.ReadByte(); control = r.ReadByte(); status = r.ReadByte(); error = r.ReadByte(); irqPending = r.ReadBoolean();
        transfer = (Transfer)r.ReadByte(); toDisk = r.ReadBoolean(); nextLba = r.ReadInt64(); remaining = r.ReadInt64();
        blockSectors = r.ReadInt32(); chunkStart = r.ReadInt32(); chunkEnd = r.ReadInt32(); blockEnd = r.ReadInt32();
        dataPos = r.ReadInt32();
        dmaOffset = r.ReadInt64(); dmaLength = r.ReadInt64(); dmaStayActive = r.ReadBoolean();
        int activePosition = r.ReadInt32();
        byte dmaKind = r.ReadByte();
        LoadPacketState(r);
        r.ReadBytes(buffer.Length).CopyTo(buffer, 0);
        BusMaster.Load(r);
        foreach (var drive in drives)
        {
            if (!r.ReadBoolean())
                continue;
            if (drive == null)
                throw new InvalidDataException("Saved state has an IDE drive this machine lacks.");
            drive.LoadSettings(r);
        }
        active = activePosition >= 0 ? drives[activePosition] : null;
        // A pending DMA resumes against the active drive's medium.
        dmaTrim = dmaKind == 2;
        dmaBackend = dmaKind == 0 ? null : active switch
        {
            AtaDrive disk => disk.Disk,
            AtapiCdrom cdrom => cdrom.Media,
            _ => null,
        };
        UpdateIrq();
    }
}
