#!/usr/bin/env bash
# Writes the guest kernel's symbol table to ~/.cache/emu/linux/kallsyms and, given addresses,
# prints the symbol+offset for each (Debian ships no System.map; the guest boots with nokaslr, so
# the addresses are the same on every boot, in QEMU and in Emu).
#
#   tests/guests/linux/kallsyms.sh [ADDRESS...]      e.g. kallsyms.sh c18ca880 0xc1473220
#
# The table is read from /proc/kallsyms of the guest kernel booted once under qemu-system-i386
# with a one-line init appended to the initramfs (about 15 s; cached afterwards).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${EMU_LINUX_CACHE:-$HOME/.cache/emu/linux}
OUT=$CACHE/kallsyms

"$HERE/build.sh"
if [ ! -s "$OUT" ] || [ "$OUT" -ot "$CACHE/vmlinuz" ]; then
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    mkdir "$tmp/r"
    cat >"$tmp/r/kallsyms.sh" <<'EOF'
#!/bin/sh
/bin/mount -t proc proc /proc
echo 0 >/proc/sys/kernel/kptr_restrict
echo KALLSYMS-BEGIN; /bin/cat /proc/kallsyms; echo KALLSYMS-END
/bin/poweroff -f
EOF
    chmod +x "$tmp/r/kallsyms.sh"
    (cd "$tmp/r" && echo kallsyms.sh | cpio -o -H newc -R 0:0 --quiet) | gzip >"$tmp/extra.gz"
    cat "$CACHE/initrd.gz" "$tmp/extra.gz" >"$tmp/initrd.gz"      # concatenated cpio archives
    timeout 300 qemu-system-i386 -accel tcg -m 256 -kernel "$CACHE/vmlinuz" -initrd "$tmp/initrd.gz" \
        -append "console=ttyS0,115200 nokaslr rdinit=/kallsyms.sh quiet" -display none -serial stdio -no-reboot \
        </dev/null | tr -d '\r' | sed -n '/^KALLSYMS-BEGIN$/,/^KALLSYMS-END$/p' | grep -E '^[0-9a-f]{8} ' \
        | sort >"$tmp/kallsyms"
    [ -s "$tmp/kallsyms" ] || { echo "kallsyms.sh: no symbols read from the guest" >&2; exit 1; }
    mv "$tmp/kallsyms" "$OUT"
fi
for a in "$@"; do
    a=${a#0x}
    awk -v a="$a" 'function hex(s,  i, n) { n = 0; s = tolower(s)
                       for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
                       return n }
                   BEGIN { A = hex(a) }
                   $2 ~ /^[tTwW]$/ { v = hex($1); if (v <= A) { best = $3; off = A - v; mod = $4 } }
                   END { if (best != "") printf "%s %s+0x%x %s\n", a, best, off, mod; else print a, "?" }' "$OUT"
done
