; CPU differential guest: x87 arithmetic with exact 80-bit results, in real mode.
;
; Each test gets ST0 = a, ST1 = b (a, b from a table of edge values, every pair, then LCG values)
; under a control word with all exceptions masked and one of several rounding/precision modes. It
; prints the 80-bit ST0 after the operation and the status word; ST1 and a memory result (FIST,
; FBSTP, FST m32/m64, FCOMI's EFLAGS) go into the per-mode hash. Raw lines are printed for the
; table pairs in the default mode (round to nearest, 64-bit precision).
;
; Exclusions: the transcendental instructions (FSIN, FCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1),
; whose last-bit results are not specified; unsupported encodings (pseudo-denormals, unnormals,
; pseudo-infinities); FBLD of invalid digits. Status word bit C1 is masked after instructions that
; round inexactly, because QEMU's TCG does not report "rounded up" in C1; the denormal-operand
; flag DE, which QEMU's TCG never raises; the condition codes where the SDM calls them undefined;
; the quotient bits of FPREM1, which QEMU always leaves clear; and registers left empty by
; popping instructions (QEMU does not model stack underflow); FSCALE of two NaNs (QEMU returns the
; larger significand rather than the QNaN); reduced precision control for the instructions it does
; not apply to (QEMU rounds FRNDINT to it) and for memory operands (QEMU rounds the converted
; m32/m64/m32int operand to it before the operation).
%include "common.inc"

%assign OPN 0
; FOP name, status-word mask, number of modes (1: only the default one; NMODES: all)
%macro FOP 3
%push fop
%assign OPN OPN + 1
    mov esi, %%n
    mov edi, fstub_%[OPN]
    mov word [swmask], %2
    mov dword [nmodes], %3
    call run_fop
    jmp %$after
%%n: db %1, 0
fstub_%[OPN]:
%endmacro
%macro ENDFOP 0
    ret
%$after:
%pop
%endmacro

%macro X80 2
    dq %2
    dw %1
%endmacro

main:
    PRINT {"@@BEGIN x87", 10}
    mov eax, cr0
    and eax, ~0x0C              ; EM = TS = 0
    or eax, 0x22                ; MP, NE: with everything masked neither #MF nor FERR# occurs
    mov cr0, eax

FOP "fadd", SW_NOCC, NMODES
    fadd st0, st1
ENDFOP
FOP "fsub", SW_NOCC, NMODES
    fsub st0, st1
ENDFOP
FOP "fsubr", SW_NOCC, NMODES
    fsubr st0, st1
ENDFOP
FOP "fmul", SW_NOCC, NMODES
    fmul st0, st1
ENDFOP
FOP "fdiv", SW_NOCC, NMODES
    fdiv st0, st1
ENDFOP
FOP "fdivr", SW_NOCC, NMODES
    fdivr st0, st1
ENDFOP
FOP "faddp", SW_NOCC, NMODES
    faddp st1, st0
ENDFOP
FOP "fsqrt", SW_NOCC, NMODES
    fsqrt
ENDFOP
FOP "fprem", SW_CC, 1
    fprem
ENDFOP
FOP "fprem1", SW_FPREM1, 1
    fprem1
ENDFOP
FOP "frndint", SW_NOCC, NMODES64
    frndint
ENDFOP
FOP "fscale", SW_NOCC, NMODES64
    mov esi, op_a               ; two NaNs: QEMU picks the larger significand, not the QNaN
    call isnan
    jnc .go
    mov esi, op_b
    call isnan
    jc .skip
.go:fscale
.skip:
ENDFOP
FOP "fxtract", SW_NOCC, 1
    fxtract
ENDFOP
FOP "fcom", SW_CC, 1
    fcom st1
ENDFOP
FOP "fucompp", SW_CC, 1
    fucompp
ENDFOP
FOP "fcomi", SW_CC, 1
    fcomi st0, st1
    pushfd
    pop dword [mout]
    and dword [mout], 0x45
ENDFOP
FOP "fucomi", SW_CC, 1
    fucomi st0, st1
    pushfd
    pop dword [mout]
    and dword [mout], 0x45
ENDFOP
FOP "ftst", SW_CC, 1
    ftst
ENDFOP
FOP "fxam", SW_CC, 1
    fxam
ENDFOP
FOP "fchs_fabs", SW_NOCC, 1
    fchs
    fxch
    fabs
    fxch
ENDFOP
FOP "fist16", SW_NOCC, NMODES64
    fist word [mout]
ENDFOP
FOP "fist32", SW_NOCC, NMODES64
    fist dword [mout]
ENDFOP
FOP "fistp64", SW_NOCC, NMODES64
    fistp qword [mout]
ENDFOP
FOP "fbstp", SW_NOCC, NMODES64
    fbstp tword [mout]
ENDFOP
FOP "fbld", SW_NOCC, NMODES64
    fbstp tword [mout]
    cmp word [mout + 8], 0xFFFF     ; indefinite: nothing valid to load back
    je .skip
    fbld tword [mout]
.skip:
ENDFOP
FOP "fst32", SW_NOCC, NMODES64
    fst dword [mout]
ENDFOP
FOP "fst64", SW_NOCC, NMODES64
    fst qword [mout]
ENDFOP
FOP "fld32", SW_NOCC, 1
    fld dword [op_a + 4]
ENDFOP
FOP "fld64", SW_NOCC, 1
    fld qword [op_a]
ENDFOP
FOP "fadd64", SW_NOCC, NMODES64
    fadd qword [op_b]
ENDFOP
FOP "fdiv32", SW_NOCC, NMODES64
    fdiv dword [op_b + 4]
ENDFOP
FOP "fild", SW_NOCC, 1
    fild word [op_a + 8]
    fild dword [op_a]
    fild qword [op_b]
    faddp st1, st0
ENDFOP
FOP "fimul", SW_NOCC, NMODES64
    fimul dword [op_b + 4]
ENDFOP
FOP "fconst", SW_NOCC, NMODES
    fldpi
    fldl2e
    fmulp st1, st0
    fldlg2
    fldln2
    faddp st1, st0
    fsubp st1, st0
    fldl2t
    fdivp st1, st0
ENDFOP
    EXIT

; run_fop: the stub at EDI in every mode; ESI = name.
run_fop:
    mov [cur_name], esi
    mov [cur_stub], edi
    mov dword [mode], 0
.lm:
    mov dword [seed], 0x2545F491
    mov dword [idx_i], 0
.li:
    mov dword [idx_j], 0
.lj:
    mov esi, [idx_i]
    imul esi, esi, 10
    add esi, fvals
    mov edi, op_a
    call copy10
    mov esi, [idx_j]
    imul esi, esi, 10
    add esi, fvals
    mov edi, op_b
    call copy10
    mov byte [raw], 1
    call fcase
    inc dword [idx_j]
    cmp dword [idx_j], NF
    jb .lj
    inc dword [idx_i]
    cmp dword [idx_i], NF
    jb .li
    mov dword [idx_i], NRAND
.lr:
    mov edi, op_a
    call randx
    mov edi, op_b
    call randx
    mov byte [raw], 0
    call fcase
    dec dword [idx_i]
    jnz .lr
    mov esi, [cur_name]
    call puts16
    mov al, ' '
    call putc16
    mov ebx, [mode]
    movzx eax, word [modes + ebx * 2]
    mov cl, 4
    call phex16
    mov esi, s_empty
    call phash16
    inc dword [mode]
    mov eax, [mode]
    cmp eax, [nmodes]
    jb .lm
    ret

; isnan: CF = the 80-bit value at ESI is a NaN.
isnan:
    push eax
    mov ax, [esi + 8]
    and ax, 0x7FFF
    cmp ax, 0x7FFF
    jne .no
    mov eax, [esi + 4]
    and eax, 0x7FFFFFFF
    or eax, [esi]
    jz .no
    pop eax
    stc
    ret
.no:pop eax
    clc
    ret

copy10:
    mov eax, [esi]
    mov [edi], eax
    mov eax, [esi + 4]
    mov [edi + 4], eax
    mov ax, [esi + 8]
    mov [edi + 8], ax
    ret

; randx: a random 80-bit normal number at EDI, exponent within 2^-60..2^67 of 1.
randx:
    call rand16
    or eax, 0x80000000
    mov [edi + 4], eax
    call rand16
    mov [edi], eax
    call rand16
    mov edx, eax
    and eax, 127
    add eax, 0x3FFF - 60
    and edx, 0x8000
    or eax, edx
    mov [edi + 8], ax
    ret

fcase:
    mov dword [mout], 0
    mov dword [mout + 4], 0
    mov dword [mout + 8], 0
    fninit
    mov ebx, [mode]
    fldcw [modes + ebx * 2]
    fld tword [op_b]
    fld tword [op_a]
    mov edi, [cur_stub]
    call di
    fnstsw [sw]
    ; store only registers that hold values: QEMU does not model x87 stack underflow
    mov dword [r0], 0
    mov dword [r0 + 4], 0
    mov dword [r0 + 8], 0
    mov dword [r1], 0
    mov dword [r1 + 4], 0
    mov dword [r1 + 8], 0
    mov ax, [sw]
    and ax, 0x3800
    jz .stored
    fstp tword [r0]
    cmp ax, 0x3800
    je .stored
    fstp tword [r1]
.stored:
    mov ax, [sw]
    and ax, [swmask]
    test al, 0x20               ; inexact: C1 reports rounding up, which QEMU does not model
    jz .c1
    and ax, ~0x0200
.c1:mov [sw], ax
    mov eax, [r0]
    call mix16
    mov eax, [r0 + 4]
    call mix16
    mov ax, [r0 + 8]
    call mix16
    mov eax, [r1]
    xor eax, [r1 + 4]
    xor ax, [r1 + 8]
    xor eax, [mout]
    xor eax, [mout + 4]
    xor eax, [mout + 8]
    mov [aux], eax
    call mix16
    movzx eax, word [sw]
    call mix16
%ifndef VERBOSE
    cmp byte [raw], 0
    je .q
    cmp dword [mode], 0
    jne .q
%endif
    mov eax, [idx_i]            ; a third of the table pairs, raw
    add eax, [idx_j]
    mov cl, 3
    div cl
%ifndef VERBOSE
    test ah, ah
    jnz .q
%endif
    mov esi, [cur_name]
    call puts16
    mov al, ' '
    call putc16
    mov eax, [idx_i]
    mov cl, 2
    call phex16
    mov eax, [idx_j]
    call phex16
    mov al, '>'
    call putc16
    mov al, ' '
    call putc16
    movzx eax, word [r0 + 8]
    mov cl, 4
%ifdef VERBOSE
    push eax
    mov ebx, [mode]
    movzx eax, word [modes + ebx * 2]
    call phex16
    pop eax
%endif
    call phex16
    mov eax, [r0 + 4]
    call phex8_16
    mov eax, [r0]
    call phex8_16
    movzx eax, word [sw]
    mov cl, 4
    call phex16
    mov eax, [aux]
    call phex8_16
    call nl16
.q: ret

LIB 16
COMMON_DATA
; DE is left out everywhere (QEMU does not report denormal operands); C0, C2 and C3 are
; undefined after all but the compare, examine and partial-remainder instructions
SW_CC equ 0xFFFD
SW_NOCC equ 0xBAFD
; QEMU's FPREM1 leaves the quotient bits (C0, C3, C1) clear
SW_FPREM1 equ 0xBCFD
NRAND equ 24
align 2
; control words: all exceptions masked; RC nearest/down/up/zero at 64-bit precision, then
; nearest at 53 bits and up at 24 bits
modes: dw 0x037F, 0x077F, 0x0B7F, 0x0F7F, 0x027F, 0x087F
NMODES equ ($ - modes) / 2
NMODES64 equ 4                  ; the 64-bit precision modes: precision control only applies to
                                ; FADD/FSUB/FMUL/FDIV/FSQRT, and QEMU also applies it to FRNDINT
align 4
fvals:
    X80 0x0000, 0                           ; +0
    X80 0x8000, 0                           ; -0
    X80 0x3FFF, 0x8000000000000000          ; 1
    X80 0xBFFF, 0x8000000000000000          ; -1
    X80 0x3FFF, 0xC000000000000000          ; 1.5
    X80 0x4000, 0xC000000000000000          ; 3
    X80 0x4000, 0xC90FDAA22168C235          ; pi
    X80 0x3FFD, 0xAAAAAAAAAAAAAAAB          ; 1/3
    X80 0x4020, 0x9502F90000000000          ; 1e10
    X80 0x403E, 0x8000000000000000          ; 2^63
    X80 0xC000, 0xA000000000000000          ; -2.5
    X80 0x3FFE, 0x8000000000000001          ; 0.5 + ulp
    X80 0x7FFE, 0xFFFFFFFFFFFFFFFF          ; largest normal
    X80 0x0001, 0x8000000000000000          ; smallest normal
    X80 0x0000, 0x0000000000000001          ; smallest denormal
    X80 0x7FFF, 0x8000000000000000          ; +inf
    X80 0xFFFF, 0x8000000000000000          ; -inf
    X80 0x7FFF, 0xC000000000000001          ; QNaN
    X80 0x7FFF, 0xA000000000000000          ; SNaN
    X80 0x4019, 0xEB79A2F000000000          ; 123456789.75 (approximately)
    X80 0xC001, 0xE000000000000000          ; -7
    X80 0x3FFB, 0xCCCCCCCCCCCCCCCD          ; 0.1
    X80 0x403D, 0xFFFFFFFFFFFFFFFF          ; just below 2^63 with a fraction
    X80 0x3C00, 0x8000000000000000          ; 2^-1023: double denormal range
NF equ ($ - fvals) / 10
s_empty: db 0
align 4
cur_name: dd 0
cur_stub: dd 0
mode: dd 0
idx_i: dd 0
idx_j: dd 0
aux: dd 0
op_a: times 12 db 0
op_b: times 12 db 0
r0: times 12 db 0
r1: times 12 db 0
mout: times 12 db 0
sw: dw 0
swmask: dw 0
nmodes: dd 0
raw: db 0
image_end:
