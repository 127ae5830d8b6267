# Robustness checks of the reference Linux guest (kernel command line emu.robust=1): sourced by /init once
# the data device ($DATA) is up. Installed as /robust in the initramfs by build.sh; atacheck.asm is /bin/atacheck.
#
# Every result is one line starting with "robust:", free of timings and timestamps, so that a run under Emu
# and one under qemu-system-i386 (the oracle for what real hardware answers) can be diffed (robust.sh):
#   1. the probe: which IDE positions hold a device, and the kernel's ATA/SCSI probe lines;
#   2. invalid and unsupported commands to the disk (ATA PASS-THROUGH through libata) and the CD-ROM;
#   3. resets while a 16 MiB O_DIRECT write runs in the background: commands that stall the drive mid-transfer
#      (libata's error handler times them out or sees a protocol violation and resets the channel),
#      SG_SCSI_RESET (device, bus, host) and a rescan of the SCSI host (libata resets the port);
#      then the written data must read back intact and the CD-ROM must still read;
#   4. the kernel's messages about all that (error handling, resets, recovery).

robust() { echo "robust: $*"; }
# The kernel log without printk timestamps.
klog() { dmesg | sed 's/^\[[ 0-9.]*\] //'; }
ata_lines() { grep -E '^(ata[0-9]|scsi [0-9]|scsi host[0-9]|sd [0-9]|sr [0-9]|cdrom:|sr[0-9])'; }

# The CD-ROM shows up a moment after the disk, if there is one.
n=0
while [ ! -b /dev/sr0 ] && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n + 1)); done

# --- 1. probe -------------------------------------------------------------------------------------
for d in /sys/class/ata_device/dev*; do
    n=${d##*/dev}
    robust "probe: ata${n%%.*}.0${n#*.} class $(cat "$d/class")"
done
klog | ata_lines | sed 's/^/robust: probe: /'

# --- 2. invalid and unsupported commands ----------------------------------------------------------
atacheck sgio

# --- 3. resets under load -------------------------------------------------------------------------
mark=$(klog | wc -l)
big=/tmp/robust.bin
: >"$big"
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do cat /pattern.bin >>"$big"; done
want=$(md5sum <"$big" | cut -d' ' -f1)
dd if="$big" of="$DATA" bs=1M oflag=direct 2>/tmp/dd.err &
ddpid=$!
atacheck hang
for mode in 1 2 3; do atacheck reset /dev/sda "$mode"; done
host=$(ls /sys/block/sda/device/scsi_device/ | cut -d: -f1)
if echo "0 0 0" >"/sys/class/scsi_host/host$host/scan"; then robust "rescan of the disk's host: ok"; else robust "rescan of the disk's host: failed"; fi
wait "$ddpid"
robust "background write during the resets: dd exit status $?"
got=$(dd if="$DATA" bs=1M count=16 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
if [ "$got" = "$want" ]; then robust "read-back after the resets: OK"; else robust "read-back after the resets: MISMATCH"; fi
if [ -b /dev/sr0 ]; then
    robust "sr0 read after the resets: $(dd if=/dev/sr0 bs=2048 count=64 2>/dev/null | md5sum | cut -d' ' -f1)"
fi

# --- 4. what the kernel said ----------------------------------------------------------------------
klog | tail -n +"$((mark + 1))" | ata_lines | sed 's/^/robust: kernel: /'
