#!/usr/bin/env bash
# Boots the demo guest under emu and under qemu-system-i386 (TCG) in one go and prints the two
# reports side by side with their ratio. Needs qemu-system-x86; the disk is ~/.cache/emu/demo.qcow2.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
disk="$HOME/.cache/emu/demo.qcow2"
command -v qemu-system-i386 >/dev/null || { echo "install qemu-system-x86 first" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

start=$(date +%s.%N)
"$root/emu" run --disk "$disk,format=qcow2,snapshot=on" > "$work/emu.txt"
emu_secs=$(echo "$(date +%s.%N) - $start" | bc -l)
start=$(date +%s.%N)
qemu-system-i386 -accel tcg -m 128 -drive "file=$disk,format=qcow2,if=ide,snapshot=on" \
  -display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot > "$work/qemu.txt"
qemu_secs=$(echo "$(date +%s.%N) - $start" | bc -l)

value() { grep -F "$2" "$1" | sed -E 's/.*: +([0-9.]+) .*/\1/'; }
printf "| %-30s | %12s | %12s | %9s |\n" "measure (in-guest)" "emu" "qemu (TCG)" "emu/qemu"
printf "|%s|%s|%s|%s|\n" "--------------------------------" "--------------" "--------------" "-----------"
for label in "PIO sequential write 8 MiB" "PIO sequential read 8 MiB" "DMA sequential write 16 MiB" \
             "DMA sequential read 16 MiB" "DMA 4 KiB random read"; do
  e=$(value "$work/emu.txt" "$label"); q=$(value "$work/qemu.txt" "$label")
  unit=$([[ "$label" == *random* ]] && echo IOPS || echo MiB/s)
  printf "| %-30s | %12s | %12s | %9.2f |\n" "$label ($unit)" "$e" "$q" "$(echo "$e / $q" | bc -l)"
done
printf "| %-30s | %12.2f | %12.2f | %9.2f |\n" "wall time, boot to power-off (s)" "$emu_secs" "$qemu_secs" "$(echo "$emu_secs / $qemu_secs" | bc -l)"
grep -F "verify" "$work/emu.txt" | sed 's/^/emu:  /'
grep -F "verify" "$work/qemu.txt" | sed 's/^/qemu: /'
