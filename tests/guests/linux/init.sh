#!/bin/sh
# /init of the Emu reference Linux guest (busybox sh, PID 1).
# Copied into the initramfs by tests/guests/linux/build.sh; not meant to run on the host.
#
# Loads the IDE disk drivers, prints EMU-GUEST-READY on the console, benchmarks the data disk
# through the kernel block layer with O_DIRECT, verifies a write/read-back, prints the negotiated
# ATA transfer mode, and powers off (ACPI, then the isa-debug-exit port 0xF4 as a fallback).
#
# Kernel command line knobs (all optional):
#   emu.data=/dev/sdX[N]   data device to benchmark (default: /dev/sda2 if present, else /dev/sda)
#   emu.data=H:C:T:L       the whole disk at that SCSI address (0:0:0:0 = primary master, 0:0:1:0 = primary
#                          slave): stable where sdX names follow the order in which probes complete
#   emu.mib=N              size of the sequential read/write test in MiB (default 64)
#   emu.rand=N             number of 4 KiB random reads (default 2000)
#   emu.wait=N             seconds to wait for the data device to appear (default 120)
#   emu.shell=1            drop to a shell on the console instead of powering off
#   emu.robust=1           instead of the benchmark, run the robustness checks (/robust, robust-guest.sh)

PATH=/bin:/sbin
export PATH

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mdev -s
exec </dev/console >/dev/console 2>&1
mkdir -p /tmp
mount -t tmpfs tmpfs /tmp 2>/dev/null

DATA= ; MIB=64 ; RAND=2000 ; WAIT=120 ; SHELL_AT_END=0 ; ROBUST=0
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        emu.data=*)  DATA=${arg#emu.data=} ;;
        emu.mib=*)   MIB=${arg#emu.mib=} ;;
        emu.rand=*)  RAND=${arg#emu.rand=} ;;
        emu.wait=*)  WAIT=${arg#emu.wait=} ;;
        emu.shell=1) SHELL_AT_END=1 ;;
        emu.robust=1) ROBUST=1 ;;
    esac
done

say() { echo "emu-guest: $*"; }

# Nanoseconds since some epoch, from the finest clock this busybox offers: date +%s%N, else
# adjtimex (microseconds), else /proc/uptime (10 ms).
CLOCK=uptime
case "$(date +%s%N 2>/dev/null)" in *N*|'') ;; *[!0-9]*) ;; *) CLOCK=date ;; esac
if [ "$CLOCK" = uptime ] && adjtimex 2>/dev/null | grep -q 'time.tv_'; then CLOCK=adjtimex; fi
now_ns() {
    case "$CLOCK" in
        date) date +%s%N ;;
        adjtimex) adjtimex | awk '/time.tv_sec/ { s = $2 } /time.tv_usec/ { f = $2 * 1000 } /time.tv_nsec/ { f = $2 }
                                 END { printf "%d%09d", s, f }' ;;
        *) read up rest </proc/uptime; awk -v u="$up" 'BEGIN { printf "%.0f", u * 1e9 }' ;;
    esac
}
# secs T0 T1 -> elapsed seconds (float)
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'; }

power_off() {
    sync
    if [ "$SHELL_AT_END" = 1 ]; then
        say "emu.shell=1: starting a shell (exit it to power off)"
        sh -i
    fi
    # Without a power-off method (no ACPI S5) the kernel turns poweroff into halt and never
    # returns, so only try it when ACPI offers S5. If the ACPI write does not stop the machine, the
    # kernel ends the calling process (a child here) and we carry on with the port 0xF4 write.
    if dmesg | grep -q 'ACPI: PM: (supports.*S5'; then
        say "powering off (ACPI S5)"
        ( poweroff -f )
        say "ACPI power-off did not stop the machine"
    else
        say "no ACPI S5 power-off"
    fi
    say "writing 0x00 to port 0xF4 (isa-debug-exit)"
    printf '\000' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
    say "still running after the port 0xF4 write; halting"
    while :; do sleep 3600; done
}

fail() {
    echo "EMU-GUEST-ERROR: $*"
    power_off
}

# --- drivers -----------------------------------------------------------------------------------
KVER=$(uname -r)
say "Linux $KVER, $(grep -c ^processor /proc/cpuinfo) CPU(s), $(awk '/MemTotal/ { print $2 " kB" }' /proc/meminfo) RAM"
say "cmdline: $(cat /proc/cmdline)"
if [ -f /modules.load ]; then
    while read -r mod; do
        [ -n "$mod" ] || continue
        if ! insmod "/lib/modules/$mod.ko" 2>/tmp/insmod.err; then
            # "File exists" means built in or already loaded: not an error.
            grep -q 'exists' /tmp/insmod.err || say "insmod $mod failed: $(cat /tmp/insmod.err)"
        fi
    done </modules.load
fi
say "modules: $(awk '{ printf "%s ", $1 }' /proc/modules)"
echo "EMU-GUEST-READY"

# --- find the data device ----------------------------------------------------------------------
start=$(now_ns)
waited=0
seen=-1
while :; do
    case "$DATA" in
        *:*:*:*)
            for b in /sys/class/scsi_disk/$DATA/device/block/*; do
                [ -b "/dev/${b##*/}" ] && { say "SCSI $DATA is ${b##*/}"; DATA=/dev/${b##*/}; }
            done ;;
    esac
    if [ -n "$DATA" ]; then
        [ -b "$DATA" ] && break
    else
        [ -b /dev/sda2 ] && { DATA=/dev/sda2; break; }
        # A whole disk only once its partitions had a moment to show up.
        [ -b /dev/sda ] && [ "$seen" -lt 0 ] && seen=$waited
        [ "$seen" -ge 0 ] && [ "$waited" -ge $((seen + 5)) ] && { DATA=/dev/sda; break; }
    fi
    [ "$waited" -ge $((WAIT * 10)) ] && fail "no data device (${DATA:-/dev/sda2 or /dev/sda}) after ${WAIT}s"
    sleep 0.1
    waited=$((waited + 1))
done
DEVNAME=${DATA#/dev/}
SECTORS=$(cat /sys/class/block/$DEVNAME/size 2>/dev/null)
[ -n "$SECTORS" ] || fail "cannot read the size of $DATA"
say "clock: $CLOCK"
say "data device $DATA: $((SECTORS / 2048)) MiB ($SECTORS sectors), found after $(secs "$start" "$(now_ns)") s"
if [ "$((SECTORS / 2048))" -lt $((MIB + 2)) ]; then
    MIB=$((SECTORS / 2048 - 2))
    say "device is small: sequential test reduced to $MIB MiB"
fi

# --- transfer mode -----------------------------------------------------------------------------
# libata no longer logs "configured for ..." on a quiet probe; sysfs has the negotiated mode.
dmesg | grep -E 'ata[0-9]+(\.[0-9]+)?: .*(UDMA|MWDMA|PIO|configured for)' | sed 's/^/dmesg: /'
for d in /sys/class/ata_device/dev*; do
    [ -e "$d/xfer_mode" ] || continue
    n=${d##*/dev}
    case "$(cat "$d/class")" in ata|atapi) ;; *) continue ;; esac
    echo "transfer-mode: ata${n%%.*}.0${n#*.} $(cat "$d/class") $(cat "$d/xfer_mode") (pio_mode $(cat "$d/pio_mode"), dma_mode $(cat "$d/dma_mode"))"
done
if [ "$ROBUST" = 1 ]; then
    . /robust
    echo "EMU-GUEST-DONE"
    power_off
fi

# --- sequential write and read (O_DIRECT, 1 MiB blocks) -----------------------------------------
BYTES=$((MIB * 1048576))
t0=$(now_ns)
dd if=/dev/zero of="$DATA" bs=1M count="$MIB" oflag=direct 2>/tmp/dd.err || fail "seq-write: dd failed: $(cat /tmp/dd.err)"
t1=$(now_ns)
s=$(secs "$t0" "$t1")
echo "seq-write: $(awk -v b="$BYTES" -v s="$s" 'BEGIN { printf "%.1f", b / 1e6 / s }') MB/s ($BYTES bytes in $s s)"

t0=$(now_ns)
dd if="$DATA" of=/dev/null bs=1M count="$MIB" iflag=direct 2>/tmp/dd.err || fail "seq-read: dd failed: $(cat /tmp/dd.err)"
t1=$(now_ns)
s=$(secs "$t0" "$t1")
echo "seq-read: $(awk -v b="$BYTES" -v s="$s" 'BEGIN { printf "%.1f", b / 1e6 / s }') MB/s ($BYTES bytes in $s s)"

# --- 4 KiB random reads over the area written above (O_DIRECT) ----------------------------------
BLOCKS=$((BYTES / 4096))
x=12345
i=0
t0=$(now_ns)
while [ "$i" -lt "$RAND" ]; do
    x=$(( (x * 1103515245 + 12345) & 2147483647 ))
    dd if="$DATA" of=/dev/null bs=4k count=1 skip=$(( (x >> 8) % BLOCKS )) iflag=direct 2>/dev/null || fail "rand-read-4k: dd failed"
    i=$((i + 1))
done
t1=$(now_ns)
s=$(secs "$t0" "$t1")
echo "rand-read-4k: $(awk -v n="$RAND" -v s="$s" 'BEGIN { printf "%.0f", n / s }') IOPS ($RAND reads in $s s)"

# --- write a known pattern after the sequential area, read it back, compare ----------------------
want=$(md5sum </pattern.bin | cut -d' ' -f1)
plen=$(($(wc -c </pattern.bin) / 1048576))
dd if=/pattern.bin of="$DATA" bs=1M seek="$MIB" count="$plen" oflag=direct 2>/tmp/dd.err || fail "verify: write failed: $(cat /tmp/dd.err)"
sync
got=$(dd if="$DATA" bs=1M skip="$MIB" count="$plen" iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
if [ "$got" = "$want" ]; then
    echo "verify: OK $got"
else
    echo "verify: MISMATCH wrote $want read $got"
fi

echo "EMU-GUEST-DONE"
power_off
