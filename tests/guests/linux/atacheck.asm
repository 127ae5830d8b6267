; atacheck: a tiny static i386 Linux program (raw int 0x80 syscalls, no libc) for the guest's robustness
; checks (emu.robust=1). It sends invalid or unsupported commands to the IDE disk (through libata's SCSI/ATA
; translation) and to the ATAPI CD-ROM with the SG_IO ioctl, and issues SG_SCSI_RESET, printing every outcome
; as one "robust:" line so that runs under Emu and under QEMU can be diffed.
;
;   atacheck sgio              run the table of invalid and unsupported commands
;   atacheck hang              run the table of commands that stall the drive (a data command sent as non-data),
;                              so that libata's error handler resets the channel with the drive mid-transfer
;   atacheck reset DEV MODE    ioctl(SG_SCSI_RESET, MODE) on DEV (MODE: one digit, 1 device, 2 bus, 3 host)
;
; Build: nasm -f elf32 atacheck.asm && ld -m elf_i386 -static -nostdlib -o atacheck atacheck.o

bits 32

section .note.GNU-stack noalloc noexec nowrite progbits

SYS_EXIT        equ 1
SYS_WRITE       equ 4
SYS_OPEN        equ 5
SYS_CLOSE       equ 6
SYS_IOCTL       equ 54
O_RDONLY        equ 0
O_NONBLOCK      equ 0x800
SG_IO           equ 0x2285
SG_SCSI_RESET   equ 0x2284
DXFER_NONE      equ -1
DXFER_FROM_DEV  equ -3
SENSE_MAX       equ 32
DATA_MAX        equ 4096

; struct sg_io_hdr (i386 layout)
HDR_INTERFACE   equ 0
HDR_DIRECTION   equ 4
HDR_CMD_LEN     equ 8
HDR_MX_SB_LEN   equ 9
HDR_DXFER_LEN   equ 12
HDR_DXFERP      equ 16
HDR_CMDP        equ 20
HDR_SBP         equ 24
HDR_TIMEOUT     equ 28
HDR_STATUS      equ 44
HDR_SB_LEN_WR   equ 47
HDR_HOST_STATUS equ 48
HDR_DRV_STATUS  equ 50
HDR_RESID       equ 52
HDR_SIZE        equ 64

; command table entry
E_DEV           equ 0       ; device path
E_LABEL         equ 4       ; what the line is called
E_CDB           equ 8
E_CDB_LEN       equ 12
E_DIRECTION     equ 16
E_XFER          equ 20      ; bytes to read
E_FLAGS         equ 24
E_TIMEOUT       equ 28      ; milliseconds
E_SIZE          equ 32
F_ATA           equ 1       ; decode the ATA status return (ATA PASS-THROUGH)

%macro ENTRY 7
    dd %1, %2, %3, %4, %5, %6, %7, 30000
%endmacro
%macro STALL 5
    dd %1, %2, %3, %4, DXFER_NONE, 0, %5, 3000
%endmacro

section .data

usage_msg:  db "usage: atacheck sgio | atacheck reset DEV MODE", 10, 0
prefix:     db "robust: ", 0
s_open:     db ": open=", 0
s_ioctl:    db ": ioctl=", 0
s_status:   db " status=0x", 0
s_host:     db " host=0x", 0
s_driver:   db " driver=0x", 0
s_sense:    db " sense=", 0
s_sb:       db " sb=", 0
s_ata:      db " ata-status=0x", 0
s_ataerr:   db " ata-error=0x", 0
s_resid:    db " resid=", 0
s_data:     db " data=", 0
s_reset:    db "reset ", 0
s_mode:     db " mode=", 0
hexdigits:  db "0123456789abcdef"

dev_sda:    db "/dev/sda", 0
dev_sr0:    db "/dev/sr0", 0

; ATA PASS-THROUGH(16), non-data protocol (3), CK_COND so the ATA registers always come back.
; bytes: 85 proto ext/ck  feat-hi feat  cnt-hi cnt  lbal-hi lbal  lbam-hi lbam  lbah-hi lbah  device command control
cdb_sda_power:   db 0x85, 3<<1, 0x20, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0xA0, 0xE5, 0
cdb_sda_reset:   db 0x85, 3<<1, 0x20, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0xA0, 0x08, 0
cdb_sda_op_f1:   db 0x85, 3<<1, 0x20, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0xA0, 0xF1, 0
cdb_sda_op_87:   db 0x85, 3<<1, 0x20, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0xA0, 0x87, 0
cdb_sda_sf_fe:   db 0x85, 3<<1, 0x20, 0, 0xFE, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0xA0, 0xEF, 0
cdb_sda_sf_42:   db 0x85, 3<<1, 0x20, 0, 0x42, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0xA0, 0xEF, 0
cdb_sda_smult:   db 0x85, 3<<1, 0x20, 0, 0x00, 0, 0x03, 0, 0x00, 0, 0x00, 0, 0x00, 0xA0, 0xC6, 0
cdb_sda_unknown: db 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0
cdb_sr0_tur:     db 0x00, 0, 0, 0, 0, 0
cdb_sr0_unknown: db 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
cdb_sr0_beyond:  db 0x28, 0, 0x00, 0xFF, 0xFF, 0xF0, 0, 0, 1, 0, 0, 0
cdb_sr0_capacity: db 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
cdb_sr0_ms_05:   db 0x5A, 0, 0x05, 0, 0, 0, 0, 0x00, 0xFF, 0, 0, 0
cdb_sr0_ms_2a_saved: db 0x5A, 0, 0xEA, 0, 0, 0, 0, 0x00, 0xFF, 0, 0, 0
cdb_sr0_toc_bad: db 0x43, 0, 0, 0, 0, 0, 0, 0x00, 0xFF, 0xC0, 0, 0
cdb_sr0_gesn_async: db 0x4A, 0, 0, 0, 0x10, 0, 0, 0x00, 0x08, 0, 0, 0
cdb_sr0_ata_ident: db 0x85, 3<<1, 0x20, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0xA0, 0xEC, 0
; READ(10) of one block without a data buffer: libata sends it with a byte count limit of zero, which the
; drive must refuse (ABRT) before moving data, since PIO has nowhere to put it.
cdb_sr0_read_nodata: db 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0
cdb_sr0_ata_f1:  db 0x85, 3<<1, 0x20, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0xA0, 0xF1, 0

l_sda_power:     db "sda ata16 CHECK POWER MODE (e5)", 0
l_sda_reset:     db "sda ata16 DEVICE RESET (08) to a disk", 0
l_sda_op_f1:     db "sda ata16 unsupported opcode f1", 0
l_sda_op_87:     db "sda ata16 CFA TRANSLATE SECTOR (87) to a non-CFA disk", 0
l_sda_sf_fe:     db "sda ata16 SET FEATURES invalid feature fe", 0
l_sda_sf_42:     db "sda ata16 SET FEATURES feature 42 (AAM)", 0
l_sda_smult:     db "sda ata16 SET MULTIPLE count 3 (not a power of two)", 0
l_sda_unknown:   db "sda scsi unknown opcode ff", 0
l_sr0_tur:       db "sr0 TEST UNIT READY", 0
l_sr0_unknown:   db "sr0 unknown opcode ff", 0
l_sr0_beyond:    db "sr0 READ(10) lba 0xfffff0 beyond capacity", 0
l_sr0_capacity:  db "sr0 READ CAPACITY", 0
l_sr0_ms_05:     db "sr0 MODE SENSE(10) unsupported page 05", 0
l_sr0_ms_2a_saved: db "sr0 MODE SENSE(10) page 2a saved values", 0
l_sr0_toc_bad:   db "sr0 READ TOC format 3 (ATIP, in byte 9) not supported", 0
l_sr0_gesn_async: db "sr0 GET EVENT STATUS asynchronous", 0
l_sr0_ata_ident: db "sr0 ata16 IDENTIFY DEVICE (ec) to a packet device", 0
l_sr0_read_nodata: db "sr0 READ(10) 1 block without a data buffer (byte count limit 0)", 0
l_sr0_ata_f1:    db "sr0 ata16 unsupported opcode f1", 0

table:
    ENTRY dev_sda, l_sda_power, cdb_sda_power, 16, DXFER_NONE, 0, F_ATA
    ENTRY dev_sda, l_sda_reset, cdb_sda_reset, 16, DXFER_NONE, 0, F_ATA
    ENTRY dev_sda, l_sda_op_f1, cdb_sda_op_f1, 16, DXFER_NONE, 0, F_ATA
    ENTRY dev_sda, l_sda_op_87, cdb_sda_op_87, 16, DXFER_NONE, 0, F_ATA
    ENTRY dev_sda, l_sda_sf_fe, cdb_sda_sf_fe, 16, DXFER_NONE, 0, F_ATA
    ENTRY dev_sda, l_sda_sf_42, cdb_sda_sf_42, 16, DXFER_NONE, 0, F_ATA
    ENTRY dev_sda, l_sda_smult, cdb_sda_smult, 16, DXFER_NONE, 0, F_ATA
    ENTRY dev_sda, l_sda_unknown, cdb_sda_unknown, 10, DXFER_NONE, 0, 0
    ENTRY dev_sr0, l_sr0_tur, cdb_sr0_tur, 6, DXFER_NONE, 0, 0
    ENTRY dev_sr0, l_sr0_read_nodata, cdb_sr0_read_nodata, 12, DXFER_NONE, 0, 0
    ENTRY dev_sr0, l_sr0_unknown, cdb_sr0_unknown, 12, DXFER_NONE, 0, 0
    ENTRY dev_sr0, l_sr0_beyond, cdb_sr0_beyond, 12, DXFER_FROM_DEV, 2048, 0
    ENTRY dev_sr0, l_sr0_capacity, cdb_sr0_capacity, 12, DXFER_FROM_DEV, 8, 0
    ENTRY dev_sr0, l_sr0_ms_05, cdb_sr0_ms_05, 12, DXFER_FROM_DEV, 255, 0
    ENTRY dev_sr0, l_sr0_ms_2a_saved, cdb_sr0_ms_2a_saved, 12, DXFER_FROM_DEV, 255, 0
    ENTRY dev_sr0, l_sr0_toc_bad, cdb_sr0_toc_bad, 12, DXFER_FROM_DEV, 255, 0
    ENTRY dev_sr0, l_sr0_gesn_async, cdb_sr0_gesn_async, 12, DXFER_FROM_DEV, 8, 0
    ENTRY dev_sr0, l_sr0_ata_ident, cdb_sr0_ata_ident, 16, DXFER_NONE, 0, F_ATA
    ENTRY dev_sr0, l_sr0_ata_f1, cdb_sr0_ata_f1, 16, DXFER_NONE, 0, F_ATA
table_end:

; READ DMA (c8) as non-data: the drive waits for a bus-master start that never comes (command timeout).
cdb_sda_dma_nodata: db 0x85, 3<<1, 0x20, 0, 0x00, 0, 0x01, 0, 0x00, 0, 0x00, 0, 0x00, 0xE0, 0xC8, 0
; READ SECTORS (20) as non-data: the drive offers data (DRQ) where the host expects none (HSM violation).
cdb_sda_pio_nodata: db 0x85, 3<<1, 0x20, 0, 0x00, 0, 0x01, 0, 0x00, 0, 0x00, 0, 0x00, 0xE0, 0x20, 0

l_sda_dma_nodata: db "sda ata16 READ DMA (c8) sent as non-data (stalls: timeout, reset)", 0
l_sda_pio_nodata: db "sda ata16 READ SECTORS (20) sent as non-data (unexpected DRQ, reset)", 0

stall_table:
    STALL dev_sda, l_sda_dma_nodata, cdb_sda_dma_nodata, 16, F_ATA
    STALL dev_sda, l_sda_pio_nodata, cdb_sda_pio_nodata, 16, F_ATA
stall_table_end:

section .bss

hdr:        resb HDR_SIZE
sense:      resb SENSE_MAX
databuf:    resb DATA_MAX
out:        resb 1024
fd:         resd 1
result:     resd 1
table_end_ptr: resd 1

section .text
global _start

_start:
    mov edi, out
    mov eax, [esp]                  ; argc
    cmp eax, 2
    jl usage
    mov esi, [esp + 8]              ; argv[1]
    mov ebp, table
    mov edx, table_end
    cmp byte [esi], 's'
    je run_table
    mov ebp, stall_table
    mov edx, stall_table_end
    cmp byte [esi], 'h'
    je run_table
    cmp byte [esi], 'r'
    jne usage
    cmp eax, 4
    jl usage
    mov ebx, [esp + 12]             ; DEV
    mov ecx, [esp + 16]             ; MODE
    jmp do_reset

usage:
    mov esi, usage_msg
    call puts
    call flush
    mov ebx, 2
    jmp exit

; ---- atacheck reset DEV MODE ---------------------------------------------------------------------
do_reset:
    push ecx
    push ebx
    mov esi, prefix
    call puts
    mov esi, s_reset
    call puts
    mov esi, [esp]
    call puts
    mov esi, s_mode
    call puts
    mov ecx, [esp + 4]
    movzx eax, byte [ecx]
    sub eax, '0'
    mov [result], eax               ; the mode value
    call putdec
    pop ebx
    add esp, 4
    mov eax, SYS_OPEN
    mov ecx, O_RDONLY | O_NONBLOCK
    int 0x80
    test eax, eax
    js .open_failed
    mov [fd], eax
    mov ebx, eax
    mov eax, SYS_IOCTL
    mov ecx, SG_SCSI_RESET
    mov edx, result
    int 0x80
    push eax
    mov esi, s_ioctl
    call puts
    pop eax
    call putdec
    call newline
    mov eax, SYS_CLOSE
    mov ebx, [fd]
    int 0x80
    xor ebx, ebx
    jmp exit
.open_failed:
    push eax
    mov esi, s_open
    call puts
    pop eax
    call putdec
    call newline
    mov ebx, 1
    jmp exit

; ---- atacheck sgio|hang: the entries from ebp to edx -------------------------------------------------
run_table:
    mov [table_end_ptr], edx
.next:
    cmp ebp, [table_end_ptr]
    jae .done
    call run_entry
    add ebp, E_SIZE
    jmp .next
.done:
    xor ebx, ebx
    jmp exit

; Runs the table entry at ebp and prints its line.
run_entry:
    mov esi, prefix
    call puts
    mov esi, [ebp + E_LABEL]
    call puts
    mov eax, SYS_OPEN
    mov ebx, [ebp + E_DEV]
    mov ecx, O_RDONLY | O_NONBLOCK
    int 0x80
    test eax, eax
    jns .opened
    push eax
    mov esi, s_open
    call puts
    pop eax
    call putdec
    call newline
    ret
.opened:
    mov [fd], eax
    ; sg_io_hdr: zero it, then fill in the request
    push edi
    mov edi, hdr
    xor eax, eax
    mov ecx, HDR_SIZE / 4
    rep stosd
    mov edi, sense
    mov ecx, SENSE_MAX / 4
    rep stosd
    mov edi, databuf
    mov ecx, 64 / 4
    rep stosd
    pop edi
    mov dword [hdr + HDR_INTERFACE], 'S'
    mov eax, [ebp + E_DIRECTION]
    mov [hdr + HDR_DIRECTION], eax
    mov eax, [ebp + E_CDB_LEN]
    mov [hdr + HDR_CMD_LEN], al
    mov byte [hdr + HDR_MX_SB_LEN], SENSE_MAX
    mov eax, [ebp + E_XFER]
    mov [hdr + HDR_DXFER_LEN], eax
    mov dword [hdr + HDR_DXFERP], databuf
    mov eax, [ebp + E_CDB]
    mov [hdr + HDR_CMDP], eax
    mov dword [hdr + HDR_SBP], sense
    mov eax, [ebp + E_TIMEOUT]
    mov [hdr + HDR_TIMEOUT], eax
    mov eax, SYS_IOCTL
    mov ebx, [fd]
    mov ecx, SG_IO
    mov edx, hdr
    int 0x80
    mov [result], eax
    mov eax, SYS_CLOSE
    mov ebx, [fd]
    int 0x80
    mov esi, s_ioctl
    call puts
    mov eax, [result]
    call putdec
    cmp dword [result], 0
    jne .end
    mov esi, s_status
    call puts
    mov al, [hdr + HDR_STATUS]
    call puthex8
    mov esi, s_host
    call puts
    mov ax, [hdr + HDR_HOST_STATUS]
    call puthex16
    mov esi, s_driver
    call puts
    mov ax, [hdr + HDR_DRV_STATUS]
    call puthex16
    movzx ecx, byte [hdr + HDR_SB_LEN_WR]
    test ecx, ecx
    jz .data
    call print_sense
.data:
    cmp dword [ebp + E_DIRECTION], DXFER_FROM_DEV
    jne .end
    mov esi, s_resid
    call puts
    mov eax, [hdr + HDR_RESID]
    call putdec
    cmp byte [hdr + HDR_STATUS], 0
    jne .end
    ; the first bytes of the response
    mov ecx, [ebp + E_XFER]
    sub ecx, [hdr + HDR_RESID]
    jle .end
    cmp ecx, 16
    jbe .dump
    mov ecx, 16
.dump:
    mov esi, s_data
    call puts
    mov esi, databuf
    call puthexbytes
.end:
    call newline
    ret

; Prints sense key/ASC/ASCQ, the raw sense bytes (ecx of them), and for ATA PASS-THROUGH the ATA status and
; error registers from the fixed-format information field or the descriptor-format ATA status return.
print_sense:
    cmp ecx, SENSE_MAX
    jbe .len_ok
    mov ecx, SENSE_MAX
.len_ok:
    push ecx
    mov esi, s_sense
    call puts
    mov al, [sense]
    and al, 0x7F
    cmp al, 0x72
    jae .descriptor
    mov al, [sense + 2]
    and al, 0x0F
    mov bl, [sense + 12]
    mov bh, [sense + 13]
    mov dl, [sense + 9]             ; fixed format (libata): command-specific bytes are error, status, device, count
    mov dh, [sense + 8]
    jmp .print
.descriptor:
    mov al, [sense + 1]
    and al, 0x0F
    mov bl, [sense + 2]
    mov bh, [sense + 3]
    xor edx, edx
    cmp byte [sense + 8], 0x09      ; libata puts the ATA status return first
    jne .print
    mov dl, [sense + 8 + 13]
    mov dh, [sense + 8 + 3]
.print:
    push edx
    push ebx
    call puthex4
    mov byte [edi], '/'
    inc edi
    pop ebx
    push ebx
    mov al, bl
    call puthex8
    mov byte [edi], '/'
    inc edi
    pop ebx
    mov al, bh
    call puthex8
    pop edx
    test dword [ebp + E_FLAGS], F_ATA
    jz .raw
    push edx
    mov esi, s_ata
    call puts
    mov al, [esp]
    call puthex8
    mov esi, s_ataerr
    call puts
    mov al, [esp + 1]
    call puthex8
    pop edx
.raw:
    mov esi, s_sb
    call puts
    pop ecx
    mov esi, sense
    call puthexbytes
    ret

; ---- output helpers (edi: next free byte of the line buffer) ---------------------------------------
puts:                               ; copies the zero-terminated string at esi
    lodsb
    test al, al
    jz .done
    stosb
    jmp puts
.done:
    ret

puthex4:                            ; low nibble of al
    and eax, 0x0F
    mov al, [hexdigits + eax]
    stosb
    ret

puthex8:                            ; al
    push eax
    shr al, 4
    call puthex4
    pop eax
    jmp puthex4

puthex16:                           ; ax
    push eax
    mov al, ah
    call puthex8
    pop eax
    jmp puthex8

puthexbytes:                        ; ecx bytes at esi
    test ecx, ecx
    jz .done
.loop:
    lodsb
    push ecx
    push esi
    call puthex8
    pop esi
    pop ecx
    loop .loop
.done:
    ret

putdec:                             ; signed eax
    test eax, eax
    jns .positive
    mov byte [edi], '-'
    inc edi
    neg eax
.positive:
    mov ebx, 10
    xor ecx, ecx
.digits:
    xor edx, edx
    div ebx
    push edx
    inc ecx
    test eax, eax
    jnz .digits
.emit:
    pop eax
    add al, '0'
    stosb
    loop .emit
    ret

newline:
    mov byte [edi], 10
    inc edi
flush:                              ; writes the line buffer to stdout
    mov eax, SYS_WRITE
    mov ebx, 1
    mov ecx, out
    mov edx, edi
    sub edx, out
    int 0x80
    mov edi, out
    ret

exit:
    mov eax, SYS_EXIT
    int 0x80
