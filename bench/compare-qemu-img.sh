#!/usr/bin/env bash
# Runs `emu img bench` and `qemu-img bench` on the same image files in one go and prints a table.
# Usage: bench/compare-qemu-img.sh [workdir]   (needs qemu-utils; uses ~3 GiB of disk)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d /tmp/emu-bench.XXXXXX)}"
mkdir -p "$work"
emu="${EMU:-$root/emu}"
"$emu" img --help >/dev/null

full="$work/full.qcow2"
if [[ ! -f "$full" ]]; then
  qemu-img create -q -f qcow2 "$full" 1G
  qemu-io -c "write -P 0x5a 0 1G" "$full" >/dev/null
fi

secs() { sed -n 's/^Run completed in \([0-9.]*\) seconds\./\1/p'; }

row() { # name, fresh-image?(yes/no), bench args...
  local name="$1" fresh="$2"; shift 2
  local a="$work/a.qcow2" b="$work/b.qcow2"
  if [[ "$fresh" == yes ]]; then
    qemu-img create -q -f qcow2 "$a" 4G; qemu-img create -q -f qcow2 "$b" 4G
  else
    cp --sparse=always "$full" "$a"; cp --sparse=always "$full" "$b"
  fi
  sync
  local q e
  # Each tool starts with the page cache flushed, so neither pays for the other's writeback.
  q=$(qemu-img bench "$@" "$a" | secs); sync
  e=$("$emu" img bench "$@" "$b" | secs); sync
  printf "| %-40s | %8s | %8s | %5.2f |\n" "$name" "$q" "$e" "$(echo "$q / $e" | bc -l)"
}

echo "| workload (qemu-img bench options)        | qemu-img s | emu s | qemu/emu |"
echo "|------------------------------------------|-----------:|------:|---------:|"
row "4K strided read QD1" no -c 50000 -d 1 -s 4k -S 1236992
row "4K strided read QD32" no -c 50000 -d 32 -s 4k -S 1236992
row "64K sequential read QD1" no -c 16000 -d 1 -s 64k
row "64K sequential read QD32" no -c 16000 -d 32 -s 64k
row "4K strided rewrite QD1" no -w -c 50000 -d 1 -s 4k -S 1236992
row "4K strided rewrite QD32" no -w -c 50000 -d 32 -s 4k -S 1236992
row "64K sequential rewrite QD1" no -w -c 16000 -d 1 -s 64k
row "64K sequential rewrite QD32" no -w -c 16000 -d 32 -s 64k
row "64K allocating write QD1 (empty image)" yes -w -c 16000 -d 1 -s 64k
row "64K allocating write QD32 (empty image)" yes -w -c 16000 -d 32 -s 64k
row "4K strided allocating write QD1" yes -w -c 50000 -d 1 -s 4k -S 1236992
rm -f "$work/a.qcow2" "$work/b.qcow2"
