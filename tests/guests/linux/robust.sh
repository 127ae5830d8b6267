#!/usr/bin/env bash
# Robustness of the IDE/ATAPI emulation with the reference Linux guest, differential against QEMU.
#
#   tests/guests/linux/robust.sh
#
# Boots robust.qcow2 (built by build.sh: its syslinux starts the kernel with emu.robust=1) with linux.iso in
# the IDE CD-ROM (secondary master), once under qemu-system-i386 (the oracle for what the hardware answers) and
# once under Emu. The guest (robust-guest.sh, atacheck.asm) sends invalid and unsupported ATA/ATAPI commands,
# stalls the drive mid-transfer so that libata resets the channel, and resets while a write runs, printing
# every outcome as a "robust:" line. This script collects those lines from both transcripts, applies the
# differences accepted on purpose (robust-accepted.sed, each with its reason) and diffs them.
#
# The Emu run writes into a copy of robust.qcow2 (no snapshot), which must pass `qemu-img check` afterwards:
# a guest must never leave the image inconsistent.
#
# Exit status 0 when both guests finished, the lines are equal and the image is clean; 1 otherwise.
# Transcripts go to $ROBUST_OUT (default $EMU_LINUX_CACHE/robust): qemu.log, emu.log, qemu.robust, emu.robust.
# Environment: EMU_LINUX_CACHE (default ~/.cache/emu/linux), QEMU_TIMEOUT and EMU_TIMEOUT (seconds), EMU (the emu
# command, default ./emu; the tests pass the build they run with).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
CACHE=${EMU_LINUX_CACHE:-$HOME/.cache/emu/linux}
OUT=${ROBUST_OUT:-$CACHE/robust}
EMU=${EMU:-$ROOT/emu}
log() { echo "[robust] $*" >&2; }

"$HERE/build.sh"
mkdir -p "$OUT"

# -nic none: no network card, so that SeaBIOS lays out the PCI I/O space as on Emu (the probe lines show the
# bus-master address).
log "qemu-system-i386 (snapshot=on)"
set +e
timeout "${QEMU_TIMEOUT:-600}" qemu-system-i386 -accel tcg -m 256 -nic none \
    -drive "file=$CACHE/robust.qcow2,if=ide,format=qcow2,snapshot=on" -cdrom "$CACHE/linux.iso" \
    -display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot </dev/null >"$OUT/qemu.log" 2>&1
qemu_rc=$?
set -e

log "emu (writes land in $OUT/emu.qcow2)"
cp -f "$CACHE/robust.qcow2" "$OUT/emu.qcow2"
set +e
"$EMU" run --config "$ROOT/config/linux.json" --disk "$OUT/emu.qcow2,format=qcow2" --cdrom "$CACHE/linux.iso" \
    --timeout "${EMU_TIMEOUT:-1800}" </dev/null >"$OUT/emu.log" 2>&1
emu_rc=$?
set -e

status=0
for side in qemu emu; do
    # The probe lines come first; the two channels probe in parallel, so their order is not fixed: sort them.
    grep -a '^robust:' "$OUT/$side.log" | tr -d '\r' | sed -E -f "$HERE/robust-accepted.sed" >"$OUT/$side.lines" || true
    { grep '^robust: probe:' "$OUT/$side.lines" | LC_ALL=C sort; grep -v '^robust: probe:' "$OUT/$side.lines"; } >"$OUT/$side.robust" || true
    rc_var=${side}_rc
    log "$side: exit status ${!rc_var}, $(wc -l <"$OUT/$side.robust") robust: lines"
    if ! grep -aq '^EMU-GUEST-DONE' "$OUT/$side.log"; then
        log "$side: the guest did not finish (see $OUT/$side.log)"
        status=1
    fi
done
if ! diff -u "$OUT/qemu.robust" "$OUT/emu.robust"; then
    log "the robust: lines differ (- qemu, + emu)"
    status=1
fi
if ! qemu-img check -q "$OUT/emu.qcow2"; then
    log "qemu-img check found problems in $OUT/emu.qcow2 after the Emu run"
    status=1
fi
[ "$status" = 0 ] && log "OK: Emu's answers match QEMU's; the image is clean"
exit $status
