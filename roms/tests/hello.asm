; Test guest: prints "BOOT-OK" and the BIOS drive number on the debug console, then exits through
; isa-debug-exit with value 0x10 (exit status 33). Used to boot from every IDE position and format.
bits 16
org 0x7c00
    xor ax, ax
    mov ds, ax
    mov si, msg
.l: lodsb
    test al, al
    jz .d
    out 0xe9, al
    jmp .l
.d: mov al, 0x10
    out 0xf4, al
    hlt
msg: db "BOOT-OK", 10, 0
times 510-($-$$) db 0
dw 0xaa55
