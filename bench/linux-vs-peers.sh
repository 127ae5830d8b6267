#!/usr/bin/env bash
# Boots the reference Linux guest (tests/guests/linux/build.sh) under emu, qemu-system-i386 -accel tcg and
# bochs, one after the other on the same disk, and prints side by side: seconds to the guest's ready marker,
# seconds to power-off, and the guest's own disk figures (O_DIRECT sequential write/read MB/s, 4 KiB random
# read IOPS) with its write/read-back checksum.
#
#   bench/linux-vs-peers.sh [emu|qemu|bochs ...]     (default: all three)
#
# emu and QEMU boot linux.qcow2 (snapshot=on: the cached image stays pristine); Bochs has no qcow2 driver and
# boots a private copy of the raw twin, linux.raw, with its own BIOS (BIOS-bochs-latest) and the guest's time
# synchronised to the host clock (clock: sync=realtime) so in-guest MB/s are real-time figures for all three.
# Bochs cannot end itself on the guest's power-off, so its run ends when the guest prints its power-off line.
# Environment: EMU (emu command, default ./emu), BENCH_TIMEOUT (seconds per run, default 900), BENCH_LOGS (a folder
# to keep each run's serial transcript in), BENCH_ROUNDS (default 1: with more, the peers take turns round after
# round and the table shows each figure's median, followed by a table of their ranges).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${EMU_LINUX_CACHE:-$HOME/.cache/emu/linux}"
emu="${EMU:-$root/emu}"
limit="${BENCH_TIMEOUT:-900}"
rounds="${BENCH_ROUNDS:-1}"
peers=("$@")
((${#peers[@]})) || peers=(emu qemu bochs)

install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}
install qemu-system-x86 bochs bochsbios vgabios bc
"$root/tests/guests/linux/build.sh" >&2

work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

bochs_config() {
  cp "$cache/linux.raw" "$work/bochs.raw"
  printf 'c\n' > "$work/bochs.rc"
  cat > "$work/bochsrc" <<EOF
megs: 256
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
display_library: rfb, options="timeout=0"
cpu: model=p2_klamath, ips=100000000
clock: sync=realtime, time0=local
pci: enabled=1, chipset=i440fx
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=disk, path=$work/bochs.raw, mode=flat
boot: disk
com1: enabled=1, mode=file, dev=$work/bochs.txt
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
mouse: enabled=0
log: $work/bochs.log
panic: action=fatal
info: action=ignore
debug: action=ignore
EOF
}

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

# run NAME: boots the guest under NAME, writing the serial transcript to $work/NAME.txt and the two
# times to $work/NAME.times ("ready poweroff").
run() {
  local name="$1" out="$work/$1.txt" cmd=()
  : > "$out"
  case "$name" in
    emu) cmd=("$emu" run --config "$root/config/linux.json" --serial "file:$out" --timeout "$limit") ;;
    qemu) cmd=(qemu-system-i386 -accel tcg -m 256 -drive "file=$cache/linux.qcow2,if=ide,format=qcow2,snapshot=on"
               -display none -serial "file:$out" -device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot) ;;
    bochs) bochs_config
           cmd=(bochs -q -f "$work/bochsrc" -rc "$work/bochs.rc") ;;
    *) echo "unknown peer: $name" >&2; exit 1 ;;
  esac
  # Build emu before the clock starts: `emu run` has its own (JIT) build, apart from the tools' one. Given an unknown
  # option it builds, then refuses at once.
  if [[ "$name" == emu ]]; then
    "$emu" img info "$cache/linux.qcow2" >/dev/null
    "$emu" run --prebuild >/dev/null 2>&1 || true
  fi
  local start ready="" off="" pid
  start=$(now)
  "${cmd[@]}" </dev/null >"$work/$name.stdout" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    [[ -z "$ready" ]] && grep -q EMU-GUEST-READY "$out" && ready=$(elapsed "$start" "$(now)")
    if grep -q 'emu-guest: powering off\|emu-guest: writing 0x00 to port 0xF4' "$out"; then
      [[ "$name" == bochs ]] && { off=$(elapsed "$start" "$(now)"); kill "$pid" 2>/dev/null || true; break; }
    fi
    if (($(echo "$(elapsed "$start" "$(now)") > $limit" | bc))); then
      echo "$name: timed out after $limit s" >&2; kill "$pid" 2>/dev/null || true; break
    fi
    sleep 0.05
  done
  local status=0
  wait "$pid" 2>/dev/null || status=$?
  [[ -z "$off" ]] && off=$(elapsed "$start" "$(now)")
  [[ -z "$ready" ]] && grep -q EMU-GUEST-READY "$out" && ready="$off"
  # A run that never reached the guest's power-off (the emulator crashed or timed out) counts for nothing.
  if ! grep -q 'emu-guest: powering off\|emu-guest: writing 0x00 to port 0xF4' "$out"; then
    echo "$name: no power-off in the transcript (exit status $status); this run is left out; its output ends:" >&2
    tail -n 5 "$work/$name.stdout" | sed 's/^/    /' >&2
    : > "$out"
    ready="" off=""
  fi
  echo "${ready:-n/a} ${off:-n/a}" > "$work/$name.times"
}

# Rounds interleave the peers (emu, qemu, bochs, emu, ...) so a slow spell of the host hits all of them alike.
for ((k = 1; k <= rounds; k++)); do
  for p in "${peers[@]}"; do
    echo "running $p (round $k of $rounds) ..." >&2
    run "$p"
    mv "$work/$p.txt" "$work/$p.$k.txt"
    mv "$work/$p.times" "$work/$p.$k.times"
    [[ -n "${BENCH_LOGS:-}" ]] && mkdir -p "$BENCH_LOGS" && cp "$work/$p.$k.txt" "$BENCH_LOGS/$p.$k.txt"
  done
done

field() { # field RUN KEY -> number after "KEY: " in the run's transcript
  grep -a "^$2: " "$work/$1.txt" | head -1 | sed -E 's/^[^:]+: ([0-9.]+).*/\1/' || true
}
times() { # times RUN COLUMN -> seconds to the ready marker (1) or to power-off (2)
  awk -v c="$2" '{ print $c }' "$work/$1.times"
}
median() { # numbers on stdin -> their median with one decimal (integers stay integers), or nothing
  grep -E '^[0-9.]+$' | sort -g | awk '{ a[NR] = $1 } END {
    if (NR == 0) exit
    m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
    if (m == int(m) && a[1] !~ /\./) printf "%d\n", m; else printf "%.1f\n", m }'
}
spread() { # numbers on stdin -> "min-max", or nothing
  grep -E '^[0-9.]+$' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END {
    if (NR == 0) exit
    if (lo ~ /\./) printf "%.1f-%.1f\n", lo, hi; else printf "%d-%d\n", lo, hi }'
}
row() { # row LABEL VALUES...
  printf "| %-34s |" "$1"; shift
  for v in "$@"; do printf " %12s |" "${v:-n/a}"; done; echo
}
# cells HOW KIND [KEY]: one cell per peer, HOW (median or spread) over the rounds of KIND (time 1|2, or field KEY).
cells() {
  local how="$1" kind="$2" key="${3:-}" p k
  for p in "${peers[@]}"; do
    for ((k = 1; k <= rounds; k++)); do
      if [[ "$kind" == time ]]; then times "$p.$k" "$key"; else field "$p.$k" "$key"; fi
    done | "$how"
  done
}
table() { # table HOW TITLE: the side-by-side table of HOW over the rounds, TITLE in its corner
  local how="$1" header=("$2") p line
  for p in "${peers[@]}"; do header+=("$p"); done
  row "${header[@]}"
  printf "|%s|" "------------------------------------"; for _ in "${peers[@]}"; do printf "%s|" "--------------"; done; echo
  mapfile -t line < <(cells "$how" time 1); row "seconds to EMU-GUEST-READY" "${line[@]}"
  mapfile -t line < <(cells "$how" time 2); row "seconds to power-off" "${line[@]}"
  mapfile -t line < <(cells "$how" field seq-write); row "seq-write 64 MiB O_DIRECT (MB/s)" "${line[@]}"
  mapfile -t line < <(cells "$how" field seq-read); row "seq-read 64 MiB O_DIRECT (MB/s)" "${line[@]}"
  mapfile -t line < <(cells "$how" field rand-read-4k); row "rand-read 4 KiB (IOPS)" "${line[@]}"
}
if ((rounds > 1)); then table median "median of $rounds rounds"; else table median "measure"; fi
mode=() verify=()
for p in "${peers[@]}"; do
  mode+=("$(grep -ah '^transfer-mode:' "$work/$p".*.txt | awk '{ print $4 }' | sort -u | paste -sd/ || true)")
  verify+=("$(grep -ah '^verify:' "$work/$p".*.txt | awk '{ print $2 }' | sort -u | paste -sd/ || true)")
done
row "transfer mode" "${mode[@]}"
row "write/read-back verify" "${verify[@]}"
if ((rounds > 1)); then
  echo
  table spread "min-max of $rounds rounds"
fi
