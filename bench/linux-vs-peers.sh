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
# to keep each run's serial transcript in).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${EMU_LINUX_CACHE:-$HOME/.cache/emu/linux}"
emu="${EMU:-$root/emu}"
limit="${BENCH_TIMEOUT:-900}"
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
  [[ "$name" == emu ]] && "$emu" img info "$cache/linux.qcow2" >/dev/null  # build emu before the clock starts
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
  wait "$pid" 2>/dev/null || true
  [[ -z "$off" ]] && off=$(elapsed "$start" "$(now)")
  [[ -z "$ready" ]] && grep -q EMU-GUEST-READY "$out" && ready="$off"
  echo "${ready:-n/a} $off" > "$work/$name.times"
}

for p in "${peers[@]}"; do
  echo "running $p ..." >&2
  run "$p"
  [[ -n "${BENCH_LOGS:-}" ]] && mkdir -p "$BENCH_LOGS" && cp "$work/$p.txt" "$BENCH_LOGS/"
done

field() { # field NAME KEY -> number after "KEY: " in the transcript
  grep -a "^$2: " "$work/$1.txt" | head -1 | sed -E 's/^[^:]+: ([0-9.]+).*/\1/' || true
}
row() { # row LABEL VALUES...
  printf "| %-34s |" "$1"; shift
  for v in "$@"; do printf " %12s |" "${v:-n/a}"; done; echo
}
header=("measure")
for p in "${peers[@]}"; do header+=("$p"); done
row "${header[@]}"
printf "|%s|" "------------------------------------"; for _ in "${peers[@]}"; do printf "%s|" "--------------"; done; echo
ready=() off=() w=() r=() iops=() mode=() verify=()
for p in "${peers[@]}"; do
  read -r t1 t2 < "$work/$p.times"
  ready+=("$(printf '%.1f' "$t1" 2>/dev/null || echo n/a)"); off+=("$(printf '%.1f' "$t2" 2>/dev/null || echo n/a)")
  w+=("$(field "$p" seq-write)"); r+=("$(field "$p" seq-read)"); iops+=("$(field "$p" rand-read-4k)")
  mode+=("$(grep -a '^transfer-mode:' "$work/$p.txt" | head -1 | awk '{ print $4 }' || true)")
  verify+=("$(grep -a '^verify:' "$work/$p.txt" | head -1 | awk '{ print $2 }' || true)")
done
row "seconds to EMU-GUEST-READY" "${ready[@]}"
row "seconds to power-off" "${off[@]}"
row "seq-write 64 MiB O_DIRECT (MB/s)" "${w[@]}"
row "seq-read 64 MiB O_DIRECT (MB/s)" "${r[@]}"
row "rand-read 4 KiB (IOPS)" "${iops[@]}"
row "transfer mode" "${mode[@]}"
row "write/read-back verify" "${verify[@]}"
