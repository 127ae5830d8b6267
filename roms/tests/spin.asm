; Test guest for `emu run --profile`: spins with interrupts off in one loop at 0x7c40 until the run's timeout,
; so a guest profile must charge most of the run to that loop.
bits 16
org 0x7c00
    cli
    xor ax, ax
    jmp spin
    times 0x40 - ($ - $$) db 0x90
spin:                              ; 0x7c40
    inc ax
    dec ax
    jmp spin
    times 510 - ($ - $$) db 0
    dw 0xaa55
