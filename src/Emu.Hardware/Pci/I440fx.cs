namespace Emu.Hardware.Pci;

/// <summary>i440FX host bridge (8086:1237) at 00.0: PAM registers 0x59-0x5F drive shadow RAM at 0xC0000-0xFFFFF; SMRAM at 0x72.</summary>
public sealed class I440fx : PciFunction
{
    private const int Pam0 = 0x59;
    private const int Smram = 0x72;
    private const byte SmramOpen = 0x40, SmramClose = 0x20, SmramLock = 0x10;

    /// <summary>Creates the host bridge at 00.0.</summary>
    public I440fx(PciBus pci)
        : base(pci, "i440fx", device: 0, function: 0, vendorId: 0x8086, deviceId: 0x1237, revision: 0x02, classCode: 0x060000)
    {
        // Memory controller registers 0x50-0x7F (PMCCFG, DRAM control, PAM, DRB, SMRAM) are plain read/write.
        for (int offset = 0x50; offset < 0x80; offset++)
            SetWritable(offset, 0xFF);
        Write8(Smram, 0x02); // C_BASE_SEG: SMRAM at 0xA0000
        SetWritable(Smram, 0x78);
        CapturePowerOnState();
        OnConfigRestored();
    }

    protected override void OnConfigWritten(int offset, int size)
    {
        if (Touches(offset, size, Pam0, 7))
            ApplyPam();
        if (Touches(offset, size, Smram, 1))
            ApplySmram();
    }

    protected override void OnConfigRestored()
    {
        ApplyPam();
        ApplySmram();
    }

    // PAM0's high nibble covers 0xF0000-0xFFFFF; PAM1-6 split 0xC0000-0xEFFFF into 16 KiB halves (low nibble first).
    // In each nibble bit 0 enables reads from RAM and bit 1 writes to RAM; otherwise accesses go to ROM/PCI.
    private void ApplyPam()
    {
        byte pam0 = Read8(Pam0);
        Bus.Memory.SetShadow(0xF_0000, 0x1_0000, (pam0 & 0x10) != 0, (pam0 & 0x20) != 0);
        for (int i = 1; i <= 6; i++)
        {
            byte pam = Read8(Pam0 + i);
            uint start = 0xC_0000 + (uint)(i - 1) * 0x8000;
            Bus.Memory.SetShadow(start, 0x4000, (pam & 0x01) != 0, (pam & 0x02) != 0);
            Bus.Memory.SetShadow(start + 0x4000, 0x4000, (pam & 0x10) != 0, (pam & 0x20) != 0);
        }
    }

    private void ApplySmram()
    {
        byte smram = Read8(Smram);
        // Once D_LCK is set, D_OPEN stays clear until reset.
        if ((smram & SmramLock) != 0)
        {
            smram &= unchecked((byte)~SmramOpen);
            Write8(Smram, smram);
            SetWritable(Smram, 0x20);
        }
        else
            SetWritable(Smram, 0x78);
        Bus.Memory.SmramOpen = (smram & SmramOpen) != 0 && (smram & SmramClose) == 0;
    }
}
