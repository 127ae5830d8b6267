; Emu demo guest: booted by SeaBIOS from the first IDE disk, it benchmarks that disk through the
; IDE controller (PIO and bus-master DMA), prints a report on the VGA text screen and on the debug
; console (port 0xE9) and COM1, then powers the machine off through the PIIX4 ACPI PM block. On failure it exits through isa-debug-exit (port 0xF4) with a non-zero code.
;
; Disk layout: sector 0 boot sector, sectors 1..PROG_SECTORS the program, data area from DATA_LBA.

bits 16
org 0x7c00

PROG_SECTORS equ 16
DATA_LBA     equ 4096              ; 2 MiB into the disk
DATA_SECTORS equ 32768             ; 16 MiB data area
BUF          equ 0x1000            ; segment of the 128 KiB transfer buffer (physical 0x10000)
PRD          equ 0x9000            ; bus-master PRD table for 128 KiB transfers (physical)
PRD4K        equ 0x9100            ; PRD table for 4 KiB transfers: the table must match the transfer size
ATA          equ 0x1f0
ATA_CTL      equ 0x3f6
TICKS        equ 0x46c             ; BIOS tick counter (18.2 Hz)

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
    mov [boot_drive], dl
    mov si, dap
    mov ah, 0x42
    int 0x13
    jc .fail
    jmp main
.fail:
    mov al, 2
    out 0xf4, al
    hlt

align 4
dap:        db 0x10, 0
            dw PROG_SECTORS
            dw 0x7e00, 0
            dq 1
boot_drive: db 0

times 510-($-$$) db 0
dw 0xaa55

; ---------------------------------------------------------------------------------------------
main:
    call clear_screen
    mov si, s_banner
    call print
    call identify
    mov si, s_disk
    call print
    mov eax, [disk_sectors]
    shr eax, 11
    call print_dec
    mov si, s_mib
    call print

    ; Interrupts from the drive are not needed: we poll.
    mov dx, ATA_CTL
    mov al, 0x02
    out dx, al
    call find_busmaster

    ; --- PIO sequential write then read, 8 MiB each
    mov si, s_pio_w
    call print
    call tick_start
    mov ebx, DATA_LBA
    mov cx, 64
.pw: push cx
    call pio_write_128k
    add ebx, 256
    pop cx
    loop .pw
    call flush_cache
    call report_rate

    mov si, s_pio_r
    call print
    call tick_start
    mov ebx, DATA_LBA
    mov cx, 64
.pr: push cx
    call pio_read_128k
    add ebx, 256
    pop cx
    loop .pr
    call report_rate

    ; --- DMA sequential write then read, 16 MiB each
    mov si, s_dma_w
    call print
    call tick_start
    mov ebx, DATA_LBA
    mov cx, 128
.dw: push cx
    mov al, 0xca
    mov dx, 256
    call dma_cmd
    add ebx, 256
    pop cx
    loop .dw
    call flush_cache
    mov dword [bytes_kib], 16384
    call report_rate_kib

    mov si, s_dma_r
    call print
    call tick_start
    mov ebx, DATA_LBA
    mov cx, 128
.dr: push cx
    mov al, 0xc8
    mov dx, 256
    call dma_cmd
    add ebx, 256
    pop cx
    loop .dr
    mov dword [bytes_kib], 16384
    call report_rate_kib

    ; --- 4 KiB random reads (DMA), 4000 requests
    mov si, s_rand
    call print
    call tick_start
    mov cx, 4000
    mov dword [seed], 12345
.rr: push cx
    mov eax, [seed]
    imul eax, eax, 1103515245
    add eax, 12345
    mov [seed], eax
    shr eax, 8
    and eax, (DATA_SECTORS / 8) - 1
    shl eax, 3
    add eax, DATA_LBA
    mov ebx, eax
    mov al, 0xc8
    mov dx, 8
    call dma_cmd
    pop cx
    loop .rr
    call elapsed_ticks
    ; IOPS = 4000 * 1193182 / periods
    mov eax, 4000
    mov edx, 1193182
    mul edx
    mov ecx, [ticks]
    div ecx
    call print_dec
    mov si, s_iops
    call print

    ; --- write a pattern by DMA, read it back by PIO, checksum it
    call verify
    mov si, s_done
    call print

    ; Power off through ACPI (S5 is sleep type 0 on QEMU-style PIIX4): PM1a_CNT = PMBA + 4, with
    ; PMBA read from the PM function (00:01.3, register 0x40) as SeaBIOS programmed it.
    ; If that does not stop us, leave through isa-debug-exit.
    mov eax, 0x80000b40
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    and ax, 0xffc0
    add ax, 4
    mov dx, ax
    mov ax, 0x2000
    out dx, ax
    ; The power-off may take effect a little later (QEMU handles it in its main loop): give it a second.
    call read_time
    mov [t0], eax
.spin:
    hlt
    call read_time
    sub eax, [t0]
    cmp eax, 1193182
    jb .spin
    mov al, 0
    out 0xf4, al
    cli
    hlt

fail:
    mov si, s_fail
    call print
    mov al, 1
    out 0xf4, al
    cli
    hlt

; ---------------------------------------------------------------------------------------------
; ATA helpers. EBX = LBA.

wait_ready:                        ; wait for BSY clear; fail on ERR
    mov dx, ATA + 7
.w: in al, dx
    test al, 0x80
    jnz .w
    test al, 0x01
    jnz fail
    ret

wait_drq:
    mov dx, ATA + 7
.w: in al, dx
    test al, 0x80
    jnz .w
    test al, 0x01
    jnz fail
    test al, 0x08
    jz .w
    ret

setup_lba:                         ; EBX = LBA, DX = sector count (1..256)
    push dx
    call wait_ready
    pop ax
    mov dx, ATA + 2
    out dx, al                     ; count (256 -> 0)
    mov eax, ebx
    mov dx, ATA + 3
    out dx, al
    shr eax, 8
    inc dx
    out dx, al
    shr eax, 8
    inc dx
    out dx, al
    shr eax, 8
    and al, 0x0f
    or al, 0xe0                    ; LBA, master
    inc dx
    out dx, al
    ret

identify:
    call wait_ready
    mov dx, ATA + 6
    mov al, 0xa0
    out dx, al
    mov dx, ATA + 7
    mov al, 0xec
    out dx, al
    call wait_drq
    push es
    mov ax, BUF
    mov es, ax
    xor di, di
    mov cx, 256
    mov dx, ATA
    rep insw
    mov eax, [es:120]              ; words 60-61: LBA28 sectors
    pop es
    mov [disk_sectors], eax
    ret

pio_read_128k:
    mov dx, 256
    call setup_lba
    mov dx, ATA + 7
    mov al, 0x20
    out dx, al
    push es
    mov ax, BUF
    mov es, ax
    xor di, di
    mov bp, 256
.s: call wait_drq
    mov dx, ATA
    mov cx, 256
    rep insw
    test di, di
    jnz .n
    mov ax, es
    add ax, 0x1000
    mov es, ax
.n: dec bp
    jnz .s
    pop es
    ret

pio_write_128k:
    mov dx, 256
    call setup_lba
    mov dx, ATA + 7
    mov al, 0x30
    out dx, al
    push ds
    mov ax, BUF
    mov ds, ax
    xor si, si
    mov bp, 256
.s: call wait_drq
    mov dx, ATA
    mov cx, 256
    rep outsw
    test si, si
    jnz .n
    mov ax, ds
    add ax, 0x1000
    mov ds, ax
.n: dec bp
    jnz .s
    pop ds
    call wait_ready
    ret

flush_cache:
    call wait_ready
    mov dx, ATA + 7
    mov al, 0xe7
    out dx, al
    call wait_ready
    ret

; Finds the PIIX IDE bus-master base (PCI 00:01.1 BAR4) and enables bus mastering.
find_busmaster:
    mov eax, 0x80000920            ; bus 0, dev 1, fn 1, reg 0x20
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    and ax, 0xfffc
    mov [bm_base], ax
    mov eax, 0x80000904            ; command register
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfc
    in ax, dx
    or ax, 0x0005                  ; I/O space and bus master
    out dx, ax
    ; PRD table: two 64 KiB entries covering physical 0x10000-0x2ffff.
    mov dword [PRD], 0x10000
    mov dword [PRD + 4], 0
    mov dword [PRD + 8], 0x20000
    mov dword [PRD + 12], 0x80000000
    mov dword [PRD4K], 0x10000
    mov dword [PRD4K + 4], 0x80001000
    ret

; AL = command (0xc8 read DMA, 0xca write DMA), DX = sectors (<= 256), EBX = LBA.
dma_cmd:
    mov [dma_op], al
    mov [dma_sectors], dx
    call setup_lba
    mov dx, [bm_base]
    xor al, al
    out dx, al                     ; stop
    add dx, 2
    mov al, 0x06
    out dx, al                     ; clear interrupt and error
    add dx, 2
    mov eax, PRD
    cmp word [dma_sectors], 8
    jne .p
    mov eax, PRD4K
.p: out dx, eax
    mov dx, ATA + 7
    mov al, [dma_op]
    out dx, al
    mov dx, [bm_base]
    mov al, 0x09                   ; start, device-to-memory
    cmp byte [dma_op], 0xca
    jne .go
    mov al, 0x01                   ; start, memory-to-device
.go:
    out dx, al
    add dx, 2
.w: in al, dx                     ; poll until the engine stops (interrupts stay masked by nIEN)
    test al, 0x02
    jnz fail
    test al, 0x01
    jnz .w
    mov dx, [bm_base]
    xor al, al
    out dx, al
    add dx, 2
    mov al, 0x04
    out dx, al
    call wait_ready
    ret

; Writes 1 MiB of a position-dependent pattern by DMA, reads it back by PIO and checks it.
verify:
    mov si, s_verify
    call print
    mov dword [csum], 0
    mov ebx, DATA_LBA
    mov word [chunk], 8
.w: push es
    mov ax, BUF
    mov es, ax
    xor edi, edi
.f: mov eax, edi
    add eax, ebx
    imul eax, eax, 2654435761
    mov [es:di], eax
    ; the second 64 KiB segment
    push es
    mov cx, es
    add cx, 0x1000
    mov es, cx
    xor eax, 0x5a5a5a5a
    mov [es:di], eax
    pop es
    add di, 4
    jnz .f
    pop es
    mov al, 0xca
    mov dx, 256
    call dma_cmd
    add ebx, 256
    dec word [chunk]
    jnz .w
    call flush_cache

    mov ebx, DATA_LBA
    mov word [chunk], 8
.r: call pio_read_128k
    push es
    mov ax, BUF
    mov es, ax
    xor edi, edi
.c: mov eax, edi
    add eax, ebx
    imul eax, eax, 2654435761
    cmp [es:di], eax
    jne .bad
    add [csum], eax
    push es
    mov cx, es
    add cx, 0x1000
    mov es, cx
    xor eax, 0x5a5a5a5a
    cmp [es:di], eax
    pop es
    jne .bad
    add [csum], eax
    add di, 4
    jnz .c
    pop es
    add ebx, 256
    dec word [chunk]
    jnz .r
    mov si, s_ok
    call print
    mov eax, [csum]
    call print_hex
    mov si, s_nl
    call print
    ret
.bad:
    pop es
    jmp fail

; ---------------------------------------------------------------------------------------------
; Timing: the BIOS tick count (IRQ0, every 65536 PIT periods) combined with PIT channel 0's current
; count, giving PIT periods of 1/1193182 s in a 32-bit value.

read_time:                         ; EAX = time in PIT periods
    push edx
    push ebx
    cli
    xor al, al
    out 0x43, al                   ; latch channel 0
    in al, 0x40
    mov bl, al
    in al, 0x40
    mov bh, al
    mov edx, [TICKS]
    mov al, 0x0a                   ; read the master PIC's IRR
    out 0x20, al
    in al, 0x20
    sti
    test al, 1
    jz .n
    cmp bx, 0x8000                 ; IRQ0 pending and the counter just wrapped: that tick is not counted yet
    jb .n
    inc edx
.n: shl edx, 16
    movzx eax, bx
    neg ax                         ; periods elapsed in this tick: 65536 - count
    movzx eax, ax
    add eax, edx
    pop ebx
    pop edx
    ret

tick_start:
    mov dword [bytes_kib], 8192
    call read_time
    mov [t0], eax
    ret

elapsed_ticks:                     ; [ticks] = PIT periods since tick_start (at least 1)
    call read_time
    sub eax, [t0]
    jnz .ok
    inc eax
.ok:
    mov [ticks], eax
    ret

report_rate:
report_rate_kib:                   ; prints bytes_kib over the elapsed time as MiB/s with one decimal
    call elapsed_ticks
    ; tenths of MiB/s = kib * 1193182 * 10 / (periods * 1024)
    mov eax, [bytes_kib]
    mov edx, 1193182
    mul edx                        ; edx:eax = KiB * Hz
    mov ecx, [ticks]
    div ecx                        ; eax = KiB/s
    mov edx, 10
    mul edx
    shr eax, 10                    ; tenths of MiB/s
    xor edx, edx
    mov ecx, 10
    div ecx
    push edx
    call print_dec
    mov si, s_dot
    call print
    pop eax
    call print_dec
    mov si, s_mibs
    call print
    ret

; ---------------------------------------------------------------------------------------------
; Output to VGA text memory and the debug console.

clear_screen:
    push es
    mov ax, 0xb800
    mov es, ax
    xor di, di
    mov ax, 0x0720
    mov cx, 80 * 25
    rep stosw
    pop es
    mov word [cursor], 0
    ret

print:                             ; DS:SI = zero-terminated string
    push es
    mov ax, 0xb800
    mov es, ax
.l: lodsb
    test al, al
    jz .d
    out 0xe9, al
    call serial_out
    cmp al, 10
    je .nl
    mov di, [cursor]
    mov ah, 0x07
    mov [es:di], ax
    add word [cursor], 2
    jmp .l
.nl:
    mov ax, [cursor]
    mov bl, 160
    div bl
    xor ah, ah
    inc ax
    cmp ax, 25
    jb .k
    mov ax, 0
.k: mul bl
    mov [cursor], ax
    jmp .l
.d: pop es
    ret

serial_out:                        ; AL to COM1, waiting for the transmitter
    push dx
    push ax
    mov dx, 0x3fd
.w: in al, dx
    test al, 0x20
    jz .w
    pop ax
    mov dx, 0x3f8
    out dx, al
    pop dx
    ret

print_dec:                         ; EAX
    mov di, numbuf + 11
    mov byte [di], 0
    mov ecx, 10
.l: xor edx, edx
    div ecx
    add dl, '0'
    dec di
    mov [di], dl
    test eax, eax
    jnz .l
    mov si, di
    jmp print

print_hex:                         ; EAX as 8 hex digits
    mov di, numbuf
    mov cx, 8
.l: rol eax, 4
    mov bl, al
    and bl, 0x0f
    add bl, '0'
    cmp bl, '9'
    jbe .s
    add bl, 7
.s: mov [di], bl
    inc di
    loop .l
    mov byte [di], 0
    mov si, numbuf
    jmp print

; ---------------------------------------------------------------------------------------------
s_banner: db "Emu demo guest: disk benchmark through the IDE controller", 10, 0
s_disk:   db "disk: ", 0
s_mib:    db " MiB", 10, 0
s_pio_w:  db "PIO sequential write 8 MiB:  ", 0
s_pio_r:  db "PIO sequential read 8 MiB:   ", 0
s_dma_w:  db "DMA sequential write 16 MiB: ", 0
s_dma_r:  db "DMA sequential read 16 MiB:  ", 0
s_rand:   db "DMA 4 KiB random read:       ", 0
s_iops:   db " IOPS", 10, 0
s_verify: db "verify 1 MiB (DMA write, PIO read): ", 0
s_ok:     db "OK checksum ", 0
s_done:   db "demo finished", 10, 0
s_fail:   db 10, "FAILED: the disk reported an error", 10, 0
s_dot:    db ".", 0
s_mibs:   db " MiB/s", 10, 0
s_nl:     db 10, 0

align 4
disk_sectors: dd 0
bm_base:      dw 0
dma_op:       db 0
dma_sectors:  dw 0
chunk:        dw 0
seed:         dd 0
csum:         dd 0
t0:           dd 0
ticks:        dd 0
bytes_kib:    dd 0
cursor:       dw 0
numbuf:       times 12 db 0

times (PROG_SECTORS + 1) * 512 - ($ - $$) db 0
