; Test guest: sizes the VGA's framebuffer BAR (00:02.0, BAR0) ITERATIONS times the way Linux's PCI probe does
; (write all ones, read the size back, restore), so the BAR moves twice each time; then ends the run through
; isa-debug-exit (exit status 33). Assemble with -DITERATIONS=n.
bits 16
org 0x7c00
    cli
    mov cx, ITERATIONS
.again:
    mov dx, 0xcf8
    mov eax, 0x80001010            ; bus 0, device 2, function 0, register 10h
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    mov ebx, eax
    mov eax, 0xffffffff
    out dx, eax                    ; the BAR moves to the top of the address space
    in eax, dx
    mov eax, ebx
    out dx, eax                    ; and back
    loop .again
    mov al, 0x10
    out 0xf4, al
    hlt
times 510-($-$$) db 0
dw 0xaa55
