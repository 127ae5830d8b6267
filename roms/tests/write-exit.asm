; Test guest: writes one sector of 0x5A bytes at LBA 100 through IDE PIO (no FLUSH CACHE), then ends
; the run at once through isa-debug-exit with value 0x10 (exit status 33). The write must be in the
; image afterwards and the image must be consistent: the emulator flushes on every way a run ends.
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov dx, 0x3f6
    mov al, 0x02                   ; nIEN: poll
    out dx, al
    mov dx, 0x1f7
.r: in al, dx
    test al, 0x80
    jnz .r
    mov dx, 0x1f2
    mov al, 1
    out dx, al
    inc dx
    mov al, 100                    ; LBA 100
    out dx, al
    inc dx
    xor al, al
    out dx, al
    inc dx
    out dx, al
    inc dx
    mov al, 0xe0
    out dx, al
    inc dx
    mov al, 0x30                   ; WRITE SECTORS
    out dx, al
.d: in al, dx
    test al, 0x80
    jnz .d
    test al, 0x08
    jz .d
    mov dx, 0x1f0
    mov cx, 256
    mov ax, 0x5a5a
.w: out dx, ax
    loop .w
    mov dx, 0x1f7
.b: in al, dx
    test al, 0x80
    jnz .b
    mov al, 0x10
    out 0xf4, al
    hlt
times 510-($-$$) db 0
dw 0xaa55
