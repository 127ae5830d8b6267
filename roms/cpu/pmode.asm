; CPU differential guest: protected-mode entry and exit and privilege transitions. Real mode ->
; 32-bit protected mode -> 16-bit protected mode -> real mode and back; IRET to ring 3, far CALL
; through a call gate to ring 0 and RETF back, conforming code, interrupt versus trap gates,
; descriptor-probing instructions (LAR, LSL, VERR, VERW, ARPL) and the segment state each
; transition leaves behind, printed in hex.
%include "common.inc"
%include "pm.inc"

main:
    mov eax, 0x12345678
    ENTER_PM32 pm_main
pm_main:
    call pm_setup
    PRINT {"@@BEGIN pmode", 10}
    mov [saved], eax
    PRINT "eax kept across entry "
    call phex8_32
    mov eax, cr0
    and eax, 0x80000001
    call phex8_32
    call nl32

    ; 32-bit -> 16-bit protected mode: 16-bit operand and address defaults, segment limits
    jmp SEL_CODE16:pm16
bits 16
pm16:
    mov ax, SEL_DATA16
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    push word 0x1234
    push dword 0x89ABCDEF
    pop eax
    pop bx
    mov [val16], bx
    mov [val32], eax
    mov cx, sp
    mov [valsp], cx
    ; 16-bit protected mode -> real mode
    mov eax, cr0
    and eax, ~1
    mov cr0, eax
    jmp 0:real_again
real_again:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    PRINT "16-bit pm "
    movzx eax, word [val16]
    call phex8_16
    mov eax, [val32]
    call phex8_16
    movzx eax, word [valsp]
    call phex8_16
    mov eax, cr0
    and eax, 0x80000001
    call phex8_16
    call nl16
    mov eax, 0xCAFEBABE
    mov [val32], eax
    PRINT "back in real mode "
    mov eax, [val32]
    call phex8_16
    call nl16
    ; and into 32-bit protected mode again
    ENTER_PM32 pm_again
pm_again:
    PRINT {"pm again", 10}

TRY "sgdt sidt str"
    sgdt [dtr]
    movzx eax, word [dtr]
    call phex8_32
    mov eax, [dtr + 2]
    call phex8_32
    sidt [dtr]
    movzx eax, word [dtr]
    call phex8_32
    str ax
    movzx eax, ax
    call phex8_32
    call nl32
ENDTRY

TRY "lar lsl verr verw"
    ; LAR's bits 19:16 are undefined, and the accessed bit of code descriptors is left out: QEMU
    ; does not set it when a far JMP loads CS. A null LLDT leaves no LDT (the reset LDTR differs).
    xor eax, eax
    lldt ax
    mov esi, probe_sels
.l: movzx ebx, word [esi]
    test ebx, ebx
    jz .d
    mov eax, ebx
    mov cl, 4
    call phex32
    mov eax, 0x11111111
    lar eax, bx
    pushfd
    and eax, 0x00F0FE00
    call phex8_32
    pop eax
    and eax, 0x40
    mov cl, 2
    call phex32
    mov eax, 0x22222222
    lsl eax, bx
    pushfd
    call phex8_32
    pop eax
    and eax, 0x40
    call phex32
    verr bx
    pushfd
    pop eax
    and eax, 0x40
    call phex32
    verw bx
    pushfd
    pop eax
    and eax, 0x40
    call phex32
    call nl32
    add esi, 2
    jmp .l
.d:
ENDTRY

TRY "arpl"
    mov ax, 0x0010
    mov bx, 0x0003
    arpl ax, bx
    pushfd
    movzx eax, ax
    call phex8_32
    pop eax
    and eax, 0x40
    call phex8_32
    mov ax, 0x0013
    arpl ax, bx
    pushfd
    movzx eax, ax
    call phex8_32
    pop eax
    and eax, 0x40
    call phex8_32
    call nl32
ENDTRY

TRY "interrupt and trap gates"
    sti
    int 0x31
    int 0x32
    cli
    int 0x31
ENDTRY

TRY "iret to ring 3 and back"
    TO_RING3 .r3, 0x3202
.r3:
    mov ax, SEL_DATA3
    mov ds, ax
    mov es, ax
    mov ax, cs
    mov [saved], ax
    pushfd
    pop dword [saved + 4]
    mov [saved + 8], esp
    int 0x30
ENDTRY
    PRINT "ring 3 saw cs "
    movzx eax, word [saved]
    mov cl, 4
    call phex32
    mov eax, [saved + 4]
    call phex8_32
    mov eax, [saved + 8]
    call phex8_32
    call nl32

TRY "call gate from ring 3"
    TO_RING3 .r3, 0x3002
.r3:
    mov ax, SEL_DATA3
    mov ds, ax
    mov es, ax
    call SEL_GATE3:0
    mov ax, cs
    mov [saved], ax
    mov ax, ss
    mov [saved + 2], ax
    mov [saved + 4], esp
    mov [saved + 8], ds
    int 0x30
ENDTRY
    PRINT "after retf cs ss esp ds "
    movzx eax, word [saved]
    mov cl, 4
    call phex32
    movzx eax, word [saved + 2]
    call phex32
    mov eax, [saved + 4]
    call phex8_32
    movzx eax, word [saved + 8]
    call phex32
    call nl32

TRY "conforming code from ring 3"
    TO_RING3 .r3, 0x3002
.r3:
    mov ax, SEL_DATA3
    mov ds, ax
    call SEL_CONFORM:conf_code
    int 0x30
ENDTRY
    PRINT "conforming ran at cs "
    movzx eax, word [saved]
    mov cl, 4
    call phex32
    call nl32

TRY "ring 3 data segments nulled by iret"
    mov ax, SEL_DATA32
    mov fs, ax
    mov ax, SEL_DATA3
    mov gs, ax
    TO_RING3 .r3, 0x3002
.r3:
    mov ax, fs
    mov bx, gs
    mov cx, SEL_DATA3
    mov ds, cx
    mov [saved], ax
    mov [saved + 2], bx
    int 0x30
ENDTRY
    PRINT "fs gs after iret "
    movzx eax, word [saved]
    mov cl, 4
    call phex32
    movzx eax, word [saved + 2]
    call phex32
    call nl32

TRY "far call and retf with immediate"
    push dword 0xAAAA
    push dword 0xBBBB
    call SEL_CODE32:far_target
    mov eax, esp
    call phex8_32
    call nl32
ENDTRY

TRY "pushf popf iopl at ring 3"
    TO_RING3 .r3, 0x0202
.r3:
    mov ax, SEL_DATA3
    mov ds, ax
    pushfd
    pop eax
    or eax, 0x3000          ; IOPL cannot change at CPL 3, IF cannot at CPL > IOPL
    and eax, ~0x200
    push eax
    popfd
    pushfd
    pop dword [saved]
    int 0x30
ENDTRY
    PRINT "eflags "
    mov eax, [saved]
    and eax, 0x3ED5
    call phex8_32
    call nl32
    EXIT

conf_code:
    mov ax, cs
    mov [saved], ax
    retf

far_target:
    PRINT "far target cs "
    mov eax, [esp + 4]
    mov cl, 4
    call phex32
    call nl32
    retf 8

bits 16
LIB 16
bits 32
LIB 32
PM_CODE
COMMON_DATA
PM_DATA
probe_sels: dw SEL_CODE32, SEL_DATA32, SEL_CODE3, SEL_DATA3, SEL_TSS, SEL_GATE3, SEL_LIMDATA
            dw SEL_RODATA, SEL_NPCODE, SEL_XOCODE, SEL_NPDATA, SEL_CONFORM, SEL_DATA3RO
            dw 0x1F8, 0x4, 0x3, 0
align 4
saved: times 4 dd 0
val32: dd 0
val16: dw 0
valsp: dw 0
dtr: times 8 db 0
image_end:
