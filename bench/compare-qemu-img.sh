#!/usr/bin/env bash
# Runs `emu img` and `qemu-img` on the same image files in one go and prints a table of seconds and ratios:
# bench rows (4 KiB strided and 64 KiB sequential, reads, rewrites and allocating writes, queue depth 1 and 32,
# cache modes writeback and none), convert rows (random data, mostly-zero data, compressed) and check of a
# 4 GiB fully allocated image, and the raw-file read of the same bytes (the physical limit for reads).
# Bench rows are the best of two rounds (the tools swapping order), tool rows the best of four (taking turns).
# BENCH_ONLY=tools runs just the tool rows.
# Usage: bench/compare-qemu-img.sh [workdir]   (needs qemu-utils; uses ~12 GiB of disk in workdir, which must
# not be tmpfs: cache=none needs O_DIRECT)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d /var/tmp/emu-bench.XXXXXX)}"
mkdir -p "$work"
emu="${EMU:-$root/emu}"
"$emu" img --help >/dev/null
# Time the built program itself (the launcher's native build of the tools), as qemu-img is timed, not the
# launcher's rebuild check.
if [[ -z "${EMU:-}" ]]; then
  for built in "$root/.build/aot/emu" "$root/.build/cli/emu"; do
    if [[ ! -f "${built%/emu}/.unavailable" ]] && "$built" img --help >/dev/null 2>&1; then
      emu="$built"
      break
    fi
  done
fi
echo "emu program: $emu"

full="$work/full.qcow2"   # 1 GiB, every cluster allocated
big="$work/big.qcow2"     # 4 GiB, every cluster allocated, random data
sparse="$work/sparse.qcow2" # 4 GiB, one 1 MiB extent every 64 MiB
text="$work/text.qcow2"   # 512 MiB of compressible data (program code)
raw="$work/full.raw"      # the bytes of full.qcow2 as a raw file
if [[ ! -f "$full" ]]; then
  qemu-img create -q -f qcow2 "$full" 1G
  qemu-io -c "write -P 0x5a 0 1G" "$full" >/dev/null
  qemu-img convert -O raw "$full" "$raw"
fi
if [[ ! -f "$big" ]]; then
  head -c 4G /dev/urandom > "$work/big.raw"
  qemu-img convert -O qcow2 "$work/big.raw" "$big"
  rm -f "$work/big.raw"
fi
if [[ ! -f "$sparse" ]]; then
  qemu-img create -q -f qcow2 "$sparse" 4G
  for ((i = 0; i < 64; i++)); do echo "write -P $((i + 1)) $((i * 64))M 1M"; done |
    qemu-io "$sparse" >/dev/null
fi
if [[ ! -f "$text" ]]; then
  # Program code and libraries: compressible (about 2:1), not trivially so.
  for _ in $(seq 20); do cat /usr/lib/x86_64-linux-gnu/*.so* /usr/bin/* 2>/dev/null; done | head -c 512M > "$work/text.raw" || true
  qemu-img convert -O qcow2 "$work/text.raw" "$text"
  rm -f "$work/text.raw"
fi

secs() { sed -n 's/^Run completed in \([0-9.]*\) seconds\./\1/p'; }
now() { date +%s.%N; }
min() { echo "if ($1 < $2) $1 else $2" | bc -l | sed 's/^\./0./'; }
print_row() { printf "| %-46s | %10s | %8s | %8.2f |\n" "$1" "$2" "$3" "$(echo "$2 / $3" | bc -l)"; }

bench_row() { # name, fresh-image?(yes/no), bench args...
  # Best of two rounds, each on fresh copies, the tools swapping who goes first.
  local name="$1" fresh="$2"; shift 2
  local a="$work/a.qcow2" b="$work/b.qcow2"
  local q=999999 e=999999 t round
  for round in 1 2; do
    if [[ "$fresh" == yes ]]; then
      rm -f "$a" "$b"; qemu-img create -q -f qcow2 "$a" 4G; qemu-img create -q -f qcow2 "$b" 4G
    else
      cp --sparse=always "$full" "$a"; cp --sparse=always "$full" "$b"
    fi
    sync
    # Each tool starts with the page cache flushed, so neither pays for the other's writeback.
    if [[ $round == 1 ]]; then
      t=$(qemu-img bench "$@" "$a" | secs); sync; q=$(min "$q" "$t")
      t=$("$emu" img bench "$@" "$b" | secs); sync; e=$(min "$e" "$t")
    else
      t=$("$emu" img bench "$@" "$b" | secs); sync; e=$(min "$e" "$t")
      t=$(qemu-img bench "$@" "$a" | secs); sync; q=$(min "$q" "$t")
    fi
  done
  print_row "$name" "$q" "$e"
}

timed() { # prints the seconds a command took
  local t0; t0=$(now); "$@" >/dev/null; echo "$(now) - $t0" | bc -l
}

tool_row() { # name, subcommand args with IN/OUT placeholders, (qemu-img and emu img get the same args)
  # Best of four, the tools taking turns in the order q e e q q e e q, each output deleted before the next run:
  # on this (virtual) machine a run that writes gigabytes is several times faster or slower depending on its
  # place in such a sequence (how the host backs freshly freed page-cache pages), whichever tool it is.
  local name="$1"; shift
  local q=999999 e=999999 t i
  run_q() { sync; t=$(timed qemu-img "${@//OUT/$work/out.qcow2}"); rm -f "$work/out.qcow2"; q=$(min "$q" "$t"); }
  run_e() { sync; t=$(timed "$emu" img "${@//OUT/$work/out.qcow2}"); rm -f "$work/out.qcow2"; e=$(min "$e" "$t"); }
  for ((i = 0; i < 4; i++)); do
    if ((i % 2 == 0)); then run_q "$@"; run_e "$@"; else run_e "$@"; run_q "$@"; fi
  done
  print_row "$name" "$(printf %.3f "$q")" "$(printf %.3f "$e")"
}

echo "| workload (same options to both tools)          | qemu-img s | emu s    | qemu/emu |"
echo "|------------------------------------------------|-----------:|---------:|---------:|"
[[ "${BENCH_ONLY:-}" == tools ]] && modes=() || modes=(writeback none)
for t in "${modes[@]}"; do
  bench_row "4K strided read QD1, cache=$t" no -t $t -c 50000 -d 1 -s 4k -S 1236992
  bench_row "4K strided read QD32, cache=$t" no -t $t -c 50000 -d 32 -s 4k -S 1236992
  bench_row "64K sequential read QD1, cache=$t" no -t $t -c 16000 -d 1 -s 64k
  bench_row "64K sequential read QD32, cache=$t" no -t $t -c 16000 -d 32 -s 64k
  bench_row "4K strided rewrite QD1, cache=$t" no -t $t -w -c 50000 -d 1 -s 4k -S 1236992
  bench_row "4K strided rewrite QD32, cache=$t" no -t $t -w -c 50000 -d 32 -s 4k -S 1236992
  bench_row "64K sequential rewrite QD1, cache=$t" no -t $t -w -c 16000 -d 1 -s 64k
  bench_row "64K sequential rewrite QD32, cache=$t" no -t $t -w -c 16000 -d 32 -s 64k
  bench_row "64K allocating write QD1, cache=$t" yes -t $t -w -c 16000 -d 1 -s 64k
  bench_row "64K allocating write QD32, cache=$t" yes -t $t -w -c 16000 -d 32 -s 64k
  bench_row "4K strided allocating write QD1, cache=$t" yes -t $t -w -c 50000 -d 1 -s 4k -S 1236992
done
tool_row "convert 4 GiB random data -O qcow2" convert -O qcow2 "$big" OUT
tool_row "convert 4 GiB mostly-zero -O qcow2" convert -O qcow2 "$sparse" OUT
tool_row "convert 512 MiB code -c -O qcow2 (zlib)" convert -c -O qcow2 "$text" OUT
tool_row "check 4 GiB fully allocated" check "$big"
rm -f "$work/a.qcow2" "$work/b.qcow2"

# Reads of allocated qcow2 data against a raw file of the same bytes (the physical limit), emu on both.
echo
echo "| emu img bench: qcow2 read vs raw read of the same bytes | raw s | qcow2 s | raw/qcow2 |"
echo "|----------------------------------------------------------|------:|--------:|----------:|"
cat "$raw" "$full" > /dev/null  # both files start in the page cache
for args in "-c 16000 -d 1 -s 64k" "-c 16000 -d 32 -s 64k" "-c 50000 -d 1 -s 4k -S 1236992"; do
  # shellcheck disable=SC2086
  r=$("$emu" img bench -f raw $args "$raw" | secs)
  # shellcheck disable=SC2086
  c=$("$emu" img bench -f qcow2 $args "$full" | secs)
  printf "| %-56s | %5s | %7s | %9.2f |\n" "$args" "$r" "$c" "$(echo "$r / $c" | bc -l)"
done
