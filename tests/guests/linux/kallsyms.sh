#!/usr/bin/env bash
# Writes the reference guest kernel's symbol table to ~/.cache/emu/linux/kallsyms, for
#
#   emu run --config config/linux.json --profile FILE --profile-symbols ~/.cache/emu/linux/kallsyms
#
# Debian's kernel package ships a placeholder System.map, so this boots the cached kernel once under
# qemu-system-i386 (a few seconds) with the guest's initramfs whose /init only prints /proc/kallsyms and powers
# off. nokaslr keeps the kernel's own addresses the same on every boot, under any emulator. Modules are left out:
# where they load depends on what the kernel allocated before, which differs between machines, so a profile
# shows module code by page rather than under a wrong name.
# Runs after tests/guests/linux/build.sh (as root on Debian; installs qemu-system-x86 when missing).
set -euo pipefail
CACHE=${EMU_LINUX_CACHE:-$HOME/.cache/emu/linux}
[[ -f "$CACHE/vmlinuz" && -f "$CACHE/initrd.gz" ]] || { echo "kallsyms.sh: run tests/guests/linux/build.sh first" >&2; exit 1; }
command -v qemu-system-i386 >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/root"
(cd "$work/root" && gzip -dc "$CACHE/initrd.gz" | cpio -id --quiet)
cat > "$work/root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
echo KALLSYMS-BEGIN
cat /proc/kallsyms
echo KALLSYMS-END
poweroff -f
INIT
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"
timeout 300 qemu-system-i386 -accel tcg -m 256 -nographic -no-reboot -kernel "$CACHE/vmlinuz" -initrd "$work/initrd.gz" \
  -append "console=ttyS0,115200 nokaslr panic=-1 quiet" </dev/null | tr -d '\r' |
  sed -n '/^KALLSYMS-BEGIN$/,/^KALLSYMS-END$/p' | sed '1d;$d' > "$work/kallsyms"
[[ -s "$work/kallsyms" ]] || { echo "kallsyms.sh: the guest printed no symbol table" >&2; exit 1; }
mv "$work/kallsyms" "$CACHE/kallsyms"
echo "$CACHE/kallsyms: $(wc -l < "$CACHE/kallsyms") symbols"
