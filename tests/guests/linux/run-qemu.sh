#!/usr/bin/env bash
# Boots the reference Linux guest (built by build.sh) under the real peer, qemu-system-i386 -accel tcg,
# and prints the serial transcript. The guest powers itself off; the script exits with QEMU's status
# (0 after an ACPI power-off, 1 after the guest's fallback write of 0x00 to isa-debug-exit at 0xF4).
#
#   tests/guests/linux/run-qemu.sh [disk|iso] [extra qemu args...]
#
#   disk (default)  boot linux.qcow2 from the primary IDE master; the guest benchmarks /dev/sda2
#   iso             boot linux.iso from the IDE CD-ROM; the guest benchmarks data.qcow2 (/dev/sda)
#
# Both disks are opened with snapshot=on, so the images in the cache are never modified.
# Environment: EMU_LINUX_CACHE (default ~/.cache/emu/linux), QEMU_TIMEOUT (seconds, default 600).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${EMU_LINUX_CACHE:-$HOME/.cache/emu/linux}
MODE=${1:-disk}; [ $# -gt 0 ] && shift

if ! command -v qemu-system-i386 >/dev/null 2>&1; then
    echo "[linux-guest] installing qemu-system-x86" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 || true;
             DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null; }
fi
"$HERE/build.sh"

case "$MODE" in
    disk) MEDIA=(-drive "file=$CACHE/linux.qcow2,if=ide,format=qcow2,snapshot=on") ;;
    iso)  MEDIA=(-cdrom "$CACHE/linux.iso" -drive "file=$CACHE/data.qcow2,if=ide,index=0,format=qcow2,snapshot=on" -boot d) ;;
    *) echo "usage: $0 [disk|iso] [extra qemu args...]" >&2; exit 1 ;;
esac

CMD=(qemu-system-i386 -accel tcg -m 256 "${MEDIA[@]}" -display none -serial stdio
     -device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot "$@")
echo "+ ${CMD[*]}" >&2
start=$(date +%s.%N)
set +e
timeout "${QEMU_TIMEOUT:-600}" "${CMD[@]}" </dev/null
rc=$?
set -e
end=$(date +%s.%N)
echo "[linux-guest] qemu exited with status $rc after $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s" >&2
exit $rc
