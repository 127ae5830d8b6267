; Test guest: echoes what arrives on COM1 back to COM1 in upper case, polling the line status register,
; and ends the run through isa-debug-exit (exit status 33) after echoing a line feed.
bits 16
org 0x7c00
    cli
    mov dx, 0x3fd                  ; LSR
.wait:
    in al, dx
    test al, 0x01                  ; data ready
    jz .wait
    mov dx, 0x3f8
    in al, dx
    cmp al, 'a'
    jb .send
    cmp al, 'z'
    ja .send
    sub al, 0x20
.send:
    out dx, al
    cmp al, 0x0a
    mov dx, 0x3fd
    jne .wait
    mov al, 0x10
    out 0xf4, al
    hlt
times 510-($-$$) db 0
dw 0xaa55
