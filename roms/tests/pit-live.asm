; Test guest: reads the PIT's channel 2 count 20000 times back to back and prints on COM1, as four hex
; digits, how often it changed between two reads; then ends the run through isa-debug-exit (exit status 33).
; Linux's fast TSC calibration polls the count like this and needs it to move between reads, not only
; between the emulator's slices of guest instructions.
bits 16
org 0x7c00
    cli
    mov al, 0xb0                   ; channel 2, low then high byte, mode 0, binary
    out 0x43, al
    mov al, 0xff
    out 0x42, al
    out 0x42, al
    in al, 0x61
    and al, 0xfc
    or al, 0x01                    ; gate 2 on, speaker off
    out 0x61, al
    xor bx, bx                     ; changes seen
    xor di, di                     ; previous count
    mov cx, 20000
.read:
    mov al, 0x80                   ; latch channel 2
    out 0x43, al
    in al, 0x42
    mov ah, al
    in al, 0x42
    xchg al, ah
    cmp ax, di
    je .same
    inc bx
    mov di, ax
.same:
    loop .read
    mov dx, 0x3f8
    mov cx, 4
.digit:
    rol bx, 4
    mov al, bl
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe .put
    add al, 7
.put:
    out dx, al
    loop .digit
    mov al, 0x0a
    out dx, al
    mov al, 0x10
    out 0xf4, al
    hlt
times 510-($-$$) db 0
dw 0xaa55
