; CPU differential guest: bad instruction streams in 32-bit protected mode raise the architectural
; exception. Each case prints "T name", then either the exception (vector, error code, faulting
; EIP, CS) from the IDT handler or "no fault"; execution resumes after the case.
;
; Exclusions: opcodes whose meaning differs between CPU models (SALC, UD0, the 0F 0D and
; 0F 18..1F hint space, VEX/EVEX). Left out because QEMU's TCG does not model them (Emu raises the
; architectural fault in each): #UD for LOCK MOV; #GP for a near JMP/RET beyond the CS limit
; (QEMU runs on at the target); segment limit, type and null checks on data accesses (reads past a
; data segment's limit, writes to read-only or code segments, use of a null DS, SS limit #SS);
; #MF on an arithmetic x87 instruction that follows an unmasked exception (QEMU raises it only at
; FWAIT, so the cases here end with FWAIT).
%include "common.inc"
%include "pm.inc"

main:
    ENTER_PM32 pm_main
pm_main:
    call pm_setup
    PRINT {"@@BEGIN invalid", 10}

TRY "ud2"
    ud2
ENDTRY
TRY "mov cs"
    db 0x8E, 0xC8               ; mov cs, ax
ENDTRY
TRY "lea register form"
    db 0x66, 0x8D, 0xC0         ; lea ax, ax (register operand)
ENDTRY
TRY "lock add register"
    db 0xF0, 0x01, 0xD8         ; lock add eax, ebx
ENDTRY
TRY "lock nop"
    db 0xF0, 0x90
ENDTRY
TRY "lock add memory"
    lock add [scratch], eax
ENDTRY
TRY "lock xchg memory"
    lock xchg [scratch], eax
ENDTRY
TRY "lock cmpxchg8b register"
    db 0xF0, 0x0F, 0xC7, 0xC8
ENDTRY
TRY "cmpxchg8b register"
    db 0x0F, 0xC7, 0xC8
ENDTRY
TRY "invalid group 7"
    db 0x0F, 0x01, 0xE8 + 0x10  ; 0F 01 /5 register form
ENDTRY
TRY "div zero"
    xor ebx, ebx
    mov eax, 5
    div ebx
ENDTRY
TRY "idiv overflow"
    mov eax, 0x80000000
    cdq
    mov ebx, -1
    idiv ebx
ENDTRY
TRY "div8 overflow"
    mov ax, 0x1000
    mov bl, 2
    div bl
ENDTRY
TRY "aam 0"
    db 0xD4, 0x00
ENDTRY
TRY "bound out of range"
    mov eax, 200
    bound eax, [bounds]
ENDTRY
TRY "bound in range"
    mov eax, 50
    bound eax, [bounds]
ENDTRY
TRY "bound16 below"
    mov ax, -5
    bound ax, [bounds16]
ENDTRY
TRY "int3"
    int3
ENDTRY
TRY "into"
    mov al, 0x7F
    add al, 1
    into
ENDTRY
TRY "int 0x40 beyond idt"
    int 0x40
ENDTRY
TRY "jmp far null"
    jmp 0:0x1234
ENDTRY
TRY "jmp far beyond gdt"
    jmp 0x1F8:0
ENDTRY
TRY "jmp far data segment"
    jmp SEL_DATA32:0
ENDTRY
TRY "jmp far beyond limit"
    jmp SEL_LIMCODE:0x12345
ENDTRY
TRY "jmp far not present"
    jmp SEL_NPCODE:0
ENDTRY
TRY "jmp far rpl3 to dpl0"
    jmp (SEL_CODE32 | 3):0
ENDTRY
TRY "jmp far dpl3 code"
    jmp SEL_CODE3:0
ENDTRY
TRY "call far null"
    call 0:0
ENDTRY
TRY "jmp far small tss"
    jmp SEL_SMALLTSS:0
ENDTRY
TRY "read at limit"
    mov ax, SEL_LIMDATA
    mov fs, ax
    mov al, [fs:0xFFF]
ENDTRY
TRY "load ds execute-only"
    mov ax, SEL_XOCODE
    mov ds, ax
ENDTRY
TRY "load fs execute-only"
    mov ax, SEL_XOCODE
    mov fs, ax
ENDTRY
TRY "load ds tss"
    mov ax, SEL_TSS
    mov ds, ax
ENDTRY
TRY "load ds not present"
    mov ax, SEL_NPDATA
    mov ds, ax
ENDTRY
TRY "load ss not present"
    mov ax, SEL_NPDATA
    mov ss, ax
ENDTRY
TRY "load ss read-only"
    mov ax, SEL_RODATA
    mov ss, ax
ENDTRY
TRY "load ss null"
    xor eax, eax
    mov ss, ax
ENDTRY
TRY "load ds beyond gdt"
    mov ax, 0x400
    mov ds, ax
ENDTRY
TRY "lgdt ring3"
    TO_RING3 .r3, 0x002
.r3:
    lgdt [gdt_desc]
ENDTRY
TRY "cli ring3 iopl0"
    TO_RING3 .r3, 0x002
.r3:
    cli
ENDTRY
TRY "out ring3 iopl0"
    TO_RING3 .r3, 0x002
.r3:
    out 0x80, al
ENDTRY
TRY "hlt ring3"
    TO_RING3 .r3, 0x3002
.r3:
    hlt
ENDTRY
TRY "mov cr0 ring3"
    TO_RING3 .r3, 0x3002
.r3:
    mov eax, cr0
ENDTRY
TRY "int 0x31 dpl0 from ring3"
    TO_RING3 .r3, 0x3002
.r3:
    int 0x31
ENDTRY
TRY "ring3 load ds dpl0"
    TO_RING3 .r3, 0x3002
.r3:
    mov ax, SEL_DATA32
    mov ds, ax
ENDTRY
TRY "ring3 back via int 0x30"
    TO_RING3 .r3, 0x3002
.r3:
    int 0x30
ENDTRY
TRY "ring3 far jmp to ring0"
    TO_RING3 .r3, 0x3002
.r3:
    jmp SEL_CODE32:0
ENDTRY
TRY "ring3 16-bit code ud"
    TO_RING3 .r3, 0x3002
.r3:
    jmp SEL_CODE16_3:.c16
bits 16
.c16:
    ud2
bits 32
ENDTRY
TRY "iret to bad cs"
    pushfd
    push dword 0x1F8
    push dword 0
    iretd
ENDTRY
TRY "retf to null"
    push dword 0
    push dword 0
    retf
ENDTRY
TRY "ltr data"
    mov ax, SEL_DATA32
    ltr ax
ENDTRY
TRY "lldt bad"
    mov ax, SEL_CODE32
    lldt ax
ENDTRY
TRY "mov cr1"
    db 0x0F, 0x22, 0xC8
ENDTRY
TRY "fpu with cr0.em"
    mov eax, cr0
    or eax, 4
    mov cr0, eax
    fld1
ENDTRY
    mov eax, cr0
    and eax, ~4
    mov cr0, eax
TRY "wait with cr0.ts mp"
    mov eax, cr0
    or eax, 0xA
    mov cr0, eax
    fwait
ENDTRY
    clts
    mov eax, cr0
    and eax, ~2
    mov cr0, eax
TRY "x87 unmasked zero divide"
    mov eax, cr0
    or eax, 0x20                ; NE: report through #MF
    mov cr0, eax
    fninit
    fldcw [cw_zm]
    fld1
    fldz
    fdivp st1, st0              ; the exception is pending until the next waiting instruction
    mov eax, 1
    fwait
ENDTRY
    fninit
TRY "x87 unmasked invalid"
    fninit
    fldcw [cw_im]
    fldz
    fsqrt
    fld1
    fchs
    fsqrt
    fnstsw ax
    fwait
ENDTRY
    fnstsw ax
    movzx eax, ax
    and eax, ~0x4700            ; C0..C3 are undefined after FSQRT
    call phex8_32
    call nl32
    fninit
TRY "clean"
    nop
ENDTRY
    EXIT

LIB 32
PM_CODE
COMMON_DATA
PM_DATA
align 4
scratch: dd 0
bounds: dd 10, 100
bounds16: dw 0, 100
cw_zm: dw 0x037B                 ; all masked but ZE
cw_im: dw 0x037E                 ; all masked but IE
image_end:
