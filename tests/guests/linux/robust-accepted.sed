# Differences between Emu and QEMU that robust.sh accepts on purpose (sed -E, applied to the robust: lines of
# both transcripts before the diff). Each rule says why Emu does not copy QEMU there.
#
# 1. An absent slave. QEMU keeps a task file for the missing drive that reads LBA mid/high FFh/FFh, so libata
#    prints "found unknown device (class 0)" at every probe and reset of the channel. Emu follows ATA's
#    device-0-only rule (device 0 answers for the absent device 1 with its own registers and status 00h), which
#    libata classifies silently as "no device". Both end the same: "probe: ata1.01 class unknown".
/found unknown device \(class 0\)/d
# 2. QEMU sets VALID (bit 7) in byte 0 of every ATAPI REQUEST SENSE answer although its INFORMATION field is
#    always zero; Emu answers 70h, as SPC asks when INFORMATION holds nothing (Linux's sr takes INFORMATION as the
#    failing block when VALID is set).
/^robust: sr0 /s/ sb=f0/ sb=70/
# 3. A PIO read stalled in its data phase (READ SECTORS sent as non-data): QEMU advances the task file (count,
#    LBA) as it stages each block, Emu when the command ends; ATA leaves them unspecified until then. The status
#    (58h: DRQ), error and device registers still have to agree.
/READ SECTORS \(20\) sent as non-data/s/(sb=70000b000000000a0058e0)[0-9a-f]{2}(0{10})[0-9a-f]{2}$/\1..\2../
# 4. READ(10) without a buffer reaches the CD-ROM with a byte count limit of zero. Both drives refuse it at the
#    ATA level (ABRT) before moving data, but QEMU raises no interrupt for that abort (a TODO in its
#    validate_bcl), so libata waits for the 30 s timeout and resets the channel; Emu interrupts, as ATA requires
#    of a command that completes with an error, and libata fetches the sense data at once.
/READ\(10\) 1 block without a data buffer/s/: ioctl=.*/: (ATA abort; QEMU: no interrupt, timeout)/
# 5. The controller's DMA ceiling. Emu's IDE function is a PIIX4 (Ultra DMA/33); QEMU's pc machine has a PIIX3,
#    which stops at multiword DMA 2 and cannot be swapped for a PIIX4 there. Everything else on the line (ports,
#    bus-master base, IRQ) must still agree.
/^robust: probe: ata[0-9]: PATA max /s/PATA max (MWDMA2|UDMA\/33) /PATA max (MWDMA2 or UDMA\/33) /
