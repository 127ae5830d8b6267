#!/usr/bin/env bash
# Builds the reference Linux guest from Debian packages into ~/.cache/emu/linux/ (never into git).
#
#   tests/guests/linux/build.sh [--force] [--refresh]
#
#   --force    rebuild the initramfs and the images even if they are up to date
#   --refresh  resolve the kernel package again through apt (new point release) instead of using
#              the cached .deb files
#
# Runs as root on Debian 12. Installs the host tools it needs when missing, downloads (does not
# install) Debian's i386 linux-image-*-686 kernel and busybox-static, and builds:
#
#   linux.raw    256 MiB MBR disk: partition 1 FAT16 (syslinux: kernel, initramfs, syslinux.cfg),
#                partition 2 raw data area the guest benchmarks (/dev/sda2)
#   linux.qcow2  the same disk as qcow2
#   linux.iso    isolinux El Torito CD with the same kernel and initramfs; its /init benchmarks the
#                first IDE disk (/dev/sda2 if it has one, else the whole /dev/sda)
#   data.qcow2   an empty 128 MiB qcow2 data disk to pair with linux.iso
#   robust.qcow2 linux.qcow2 whose syslinux boots the "robust" label (emu.robust=1: robustness checks)
#
# The guest's /init (init.sh next to this script) prints EMU-GUEST-READY on ttyS0, benchmarks the
# data disk with O_DIRECT and powers off; with emu.robust=1 it runs robust-guest.sh (and atacheck,
# assembled from atacheck.asm) instead. A second run with everything in place takes a few seconds.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${EMU_LINUX_CACHE:-$HOME/.cache/emu/linux}
DISK_MIB=256           # whole disk
BOOT_START=2048        # partition 1 start (sectors)
BOOT_MIB=32            # partition 1 size
DATA_DISK_MIB=128      # data.qcow2 for the ISO variant
# earlyprintk: the decompressor and the first kernel messages reach ttyS0 before the real console
# registers (progress visible on slow emulators); no duplicate lines once ttyS0 takes over.
# nokaslr: the same kernel addresses on every boot (symbolising emulator traces; see README.md).
# cryptomgr.notests: no boot-time self-tests of the kernel's crypto algorithms. Their RSA/DH modular
# exponentiations were ~60% of the instructions from power-on to the ready marker (QEMU TCG: 2.4 s of 4.8 s
# to init) and test nothing the disk benchmarks use; every emulator boots the same command line.
CMDLINE="earlyprintk=serial,ttyS0,115200 console=ttyS0,115200 nokaslr panic=-1 no_timer_check printk.time=1 cryptomgr.notests"
# Modules the IDE disk and the CD-ROM need; their dependencies come from modules.dep. The
# *_generic crypto modules satisfy the crc_t10dif/crc64_rocksoft softdeps (no modprobe in the guest).
MODULES=(crct10dif_generic crc64_rocksoft_generic scsi_mod libata ata_piix ata_generic sd_mod cdrom sr_mod isofs)
# busybox applets used by /init (symlinked in /bin).
APPLETS=(sh mount umount mkdir cat echo printf grep sed awk cut wc head sleep date dd md5sum cmp
         insmod lsmod dmesg uname poweroff reboot sync setsid mdev ls tr adjtimex)

FORCE=0; REFRESH=0
for a in "$@"; do
    case "$a" in
        --force) FORCE=1 ;;
        --refresh) REFRESH=1 ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown option '$a'" >&2; exit 1 ;;
    esac
done

log() { echo "[linux-guest] $*" >&2; }
die() { echo "[linux-guest] error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, and device nodes in the initramfs)"
mkdir -p "$CACHE/debs"

APT_UPDATED=0
apt_update() {
    [ "$APT_UPDATED" = 1 ] && return 0
    log "apt-get update"
    # A partial failure (e.g. one mirror index mid-sync) is not fatal: what we need is checked after.
    apt-get update -qq >/dev/null 2>&1 || log "apt-get update reported errors (continuing)"
    APT_UPDATED=1
}

# --- host tools ----------------------------------------------------------------------------------
# command-or-file : package
TOOLS=(
    "syslinux:syslinux" "/usr/lib/syslinux/mbr/mbr.bin:syslinux-common"
    "/usr/lib/syslinux/modules/bios/ldlinux.c32:syslinux-common" "/usr/lib/ISOLINUX/isolinux.bin:isolinux"
    "mcopy:mtools" "mkfs.fat:dosfstools" "sfdisk:fdisk" "cpio:cpio" "depmod:kmod" "xorriso:xorriso"
    "qemu-img:qemu-utils" "gzip:gzip" "perl:perl-base" "md5sum:coreutils" "nasm:nasm" "ld:binutils"
)
missing=()
for t in "${TOOLS[@]}"; do
    what=${t%%:*}; pkg=${t#*:}
    if [[ $what == /* ]]; then [ -e "$what" ] && continue; else command -v "$what" >/dev/null 2>&1 && continue; fi
    [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing host tools: ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
        apt_update
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
            || die "apt-get install ${missing[*]} failed"
    fi
fi

# --- Debian packages (downloaded, not installed) ---------------------------------------------------
# $CACHE/debs/packages.txt records the resolved .deb files; with it present we never touch apt.
PKGLIST=$CACHE/debs/packages.txt
have_debs() {
    [ -f "$PKGLIST" ] || return 1
    local f
    while read -r f; do [ -f "$CACHE/debs/$f" ] || return 1; done <"$PKGLIST"
}
if [ "$REFRESH" = 1 ] || ! have_debs; then
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
        log "dpkg --add-architecture i386"
        dpkg --add-architecture i386
        APT_UPDATED=0; apt_update
    fi
    apt-cache show linux-image-686:i386 >/dev/null 2>&1 || apt_update
    [ "$REFRESH" = 1 ] && apt_update
    # linux-image-686 is the metapackage; it depends on the current linux-image-<abi>-686.
    KPKG=$(apt-cache depends linux-image-686:i386 2>/dev/null | awk '/Depends: linux-image-[0-9].*-686/ { sub(":i386", "", $2); print $2; exit }')
    [ -n "$KPKG" ] || die "cannot resolve linux-image-686:i386 (apt lists missing?)"
    log "downloading $KPKG:i386 busybox-static:i386"
    rm -f "$CACHE"/debs/*.deb.tmp
    download() { (cd "$CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root "$KPKG:i386" busybox-static:i386); }
    # Stale lists name versions the mirror no longer has: update once and retry.
    download || { [ "$APT_UPDATED" = 0 ] && apt_update && download; } || die "apt-get download failed"
    kdeb=$(cd "$CACHE/debs" && ls -t "${KPKG}"_*_i386.deb | head -n 1)
    bdeb=$(cd "$CACHE/debs" && ls -t busybox-static_*_i386.deb | head -n 1)
    printf '%s\n%s\n' "$kdeb" "$bdeb" >"$PKGLIST.tmp" && mv "$PKGLIST.tmp" "$PKGLIST"
fi
KDEB=$(sed -n 1p "$PKGLIST"); BDEB=$(sed -n 2p "$PKGLIST")

# --- extract -------------------------------------------------------------------------------------
extract() { # deb dir
    local deb=$1 dir=$2
    if [ -f "$dir/.from" ] && [ "$(cat "$dir/.from")" = "$deb" ]; then return 0; fi
    log "extracting $deb"
    rm -rf "$dir" "$dir.tmp"; mkdir -p "$dir.tmp"
    dpkg-deb -x "$CACHE/debs/$deb" "$dir.tmp"
    echo "$deb" >"$dir.tmp/.from"
    mv "$dir.tmp" "$dir"
}
extract "$KDEB" "$CACHE/kernel"
extract "$BDEB" "$CACHE/busybox"
VMLINUZ=$(ls "$CACHE"/kernel/boot/vmlinuz-* | head -n 1)
KVER=${VMLINUZ##*/vmlinuz-}
MODDIR=$CACHE/kernel/lib/modules/$KVER
BUSYBOX=$CACHE/busybox/bin/busybox
[ -f "$BUSYBOX" ] || die "no busybox in $BDEB"
# The package ships no modules.dep (depmod runs at install time): generate it in the cache tree.
[ -s "$MODDIR/modules.dep" ] || { log "depmod $KVER"; depmod -b "$CACHE/kernel" "$KVER"; }

# --- up to date? -----------------------------------------------------------------------------------
STAMP_WANT=$( { echo "$KDEB $BDEB $CMDLINE $DISK_MIB $BOOT_START $BOOT_MIB $DATA_DISK_MIB ${MODULES[*]} ${APPLETS[*]}";
               cat "$0" "$HERE/init.sh" "$HERE/robust-guest.sh" "$HERE/atacheck.asm"; } | md5sum | cut -d' ' -f1)
OUTPUTS=("$CACHE/linux.raw" "$CACHE/linux.qcow2" "$CACHE/linux.iso" "$CACHE/data.qcow2" "$CACHE/robust.qcow2" "$CACHE/initrd.gz")
uptodate=1
for f in "${OUTPUTS[@]}"; do [ -s "$f" ] || uptodate=0; done
[ -f "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$STAMP_WANT" ] || uptodate=0
if [ "$FORCE" = 0 ] && [ "$uptodate" = 1 ]; then
    log "up to date: kernel $KVER, $CACHE/{linux.raw,linux.qcow2,linux.iso,data.qcow2}"
    exit 0
fi
rm -f "$CACHE/stamp"

WORK=$CACHE/work
rm -rf "$WORK"; mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

# --- initramfs -----------------------------------------------------------------------------------
# Resolve the module list into load order (dependencies first) from modules.dep.
declare -A MODPATH=() MODDEPS=() SEEN=()
while IFS= read -r line; do
    path=${line%%:*}; deps=${line#*:}
    name=${path##*/}; name=${name%.ko*}; name=${name//-/_}
    MODPATH[$name]=$path
    MODDEPS[$name]=$deps
done <"$MODDIR/modules.dep"
ORDER=()
visit() {
    local m=${1//-/_} d dn
    [ -n "${SEEN[$m]-}" ] && return 0
    SEEN[$m]=1
    [ -n "${MODPATH[$m]-}" ] || { grep -q "/${1}.ko" "$MODDIR/modules.builtin" || die "module $1 not found"; return 0; }
    for d in ${MODDEPS[$m]}; do dn=${d##*/}; dn=${dn%.ko*}; visit "$dn"; done
    ORDER+=("$m")
}
for m in "${MODULES[@]}"; do visit "$m"; done
log "initramfs modules: ${ORDER[*]}"

R=$WORK/initramfs
mkdir -p "$R"/{bin,sbin,dev,proc,sys,tmp,lib/modules}
cp "$BUSYBOX" "$R/bin/busybox"
for a in "${APPLETS[@]}"; do ln -s busybox "$R/bin/$a"; done
mknod -m 600 "$R/dev/console" c 5 1
mknod -m 666 "$R/dev/null" c 1 3
: >"$R/modules.load"
for m in "${ORDER[@]}"; do
    src=$MODDIR/${MODPATH[$m]}
    case "$src" in
        *.ko) cp "$src" "$R/lib/modules/$m.ko" ;;
        *.ko.xz) xz -dc "$src" >"$R/lib/modules/$m.ko" ;;     # busybox insmod takes plain .ko
        *.ko.zst) zstd -dqc "$src" >"$R/lib/modules/$m.ko" ;;
        *.ko.gz) gzip -dc "$src" >"$R/lib/modules/$m.ko" ;;
        *) die "unexpected module file $src" ;;
    esac
    echo "$m" >>"$R/modules.load"
done
install -m 755 "$HERE/init.sh" "$R/init"
install -m 644 "$HERE/robust-guest.sh" "$R/robust"
nasm -f elf32 -o "$WORK/atacheck.o" "$HERE/atacheck.asm"
ld -m elf_i386 -static -nostdlib -o "$R/bin/atacheck" "$WORK/atacheck.o"
# 1 MiB deterministic pseudo-random pattern for the write/read-back check.
perl -e 'srand(20240607); print pack("C*", map { int(rand(256)) } 1 .. 1048576)' >"$R/pattern.bin"
(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9 -n >"$WORK/initrd.gz"
log "initramfs: $(stat -c %s "$WORK/initrd.gz") bytes"

# --- disk: MBR + FAT16 boot partition with syslinux + raw data partition ------------------------
BOOT_SECTORS=$((BOOT_MIB * 2048))
FAT=$WORK/boot.fat
rm -f "$FAT"
mkfs.fat -C -F 16 -h "$BOOT_START" -n EMUBOOT -i 454d5530 "$FAT" $((BOOT_MIB * 1024)) >/dev/null
syslinux --install "$FAT"              # mtools based: no loop device, no mount
# syslinux_cfg LABEL: both labels, booting the given one without a prompt.
syslinux_cfg() {
    cat <<EOF
SERIAL 0 115200
DEFAULT $1
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND $CMDLINE emu.data=/dev/sda2
LABEL robust
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND $CMDLINE emu.data=/dev/sda2 emu.robust=1
EOF
}
syslinux_cfg linux >"$WORK/syslinux.cfg"
MTOOLS_SKIP_CHECK=1 mcopy -i "$FAT" "$VMLINUZ" ::/vmlinuz
MTOOLS_SKIP_CHECK=1 mcopy -i "$FAT" "$WORK/initrd.gz" ::/initrd.gz
MTOOLS_SKIP_CHECK=1 mcopy -i "$FAT" "$WORK/syslinux.cfg" ::/syslinux.cfg

RAW=$WORK/linux.raw
truncate -s $((DISK_MIB * 1048576)) "$RAW"
sfdisk --quiet --label dos "$RAW" <<EOF
label-id: 0x454d5530
start=$BOOT_START, size=$BOOT_SECTORS, type=6, bootable
start=$((BOOT_START + BOOT_SECTORS)), type=83
EOF
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$RAW" bs=440 count=1 conv=notrunc status=none
dd if="$FAT" of="$RAW" bs=512 seek="$BOOT_START" conv=notrunc,sparse status=none
qemu-img convert -f raw -O qcow2 "$RAW" "$WORK/linux.qcow2"
# robust.qcow2: the same disk, booting the "robust" label.
syslinux_cfg robust >"$WORK/syslinux.cfg"
MTOOLS_SKIP_CHECK=1 mcopy -o -i "$FAT" "$WORK/syslinux.cfg" ::/syslinux.cfg
cp --sparse=always "$RAW" "$WORK/robust.raw"
dd if="$FAT" of="$WORK/robust.raw" bs=512 seek="$BOOT_START" conv=notrunc,sparse status=none
qemu-img convert -f raw -O qcow2 "$WORK/robust.raw" "$WORK/robust.qcow2"
rm -f "$WORK/robust.raw"

# --- ISO: isolinux El Torito -----------------------------------------------------------------------
ISOROOT=$WORK/iso
mkdir -p "$ISOROOT/isolinux"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$ISOROOT/isolinux/"
cp "$VMLINUZ" "$ISOROOT/isolinux/vmlinuz"
cp "$WORK/initrd.gz" "$ISOROOT/isolinux/initrd.gz"
cat >"$ISOROOT/isolinux/isolinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /isolinux/vmlinuz
  INITRD /isolinux/initrd.gz
  APPEND $CMDLINE emu.data=0:0:0:0
EOF
xorriso -as mkisofs -quiet -o "$WORK/linux.iso" -V EMU_LINUX -r -J \
    -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
    "$ISOROOT" 2>&1 | grep -vE "^(xorriso [0-9.]+ : RockRidge|$)|: NOTE" >&2 || true
[ -s "$WORK/linux.iso" ] || die "xorriso produced no ISO"
qemu-img create -q -f qcow2 "$WORK/data.qcow2" "${DATA_DISK_MIB}M"

for f in linux.raw linux.qcow2 linux.iso data.qcow2 robust.qcow2 initrd.gz; do mv -f "$WORK/$f" "$CACHE/$f"; done
cp -f "$VMLINUZ" "$CACHE/vmlinuz"
echo "$STAMP_WANT" >"$CACHE/stamp"
log "built: kernel $KVER ($KDEB), busybox ($BDEB)"
ls -l "$CACHE"/linux.raw "$CACHE"/linux.qcow2 "$CACHE"/linux.iso "$CACHE"/data.qcow2 "$CACHE"/robust.qcow2 >&2
