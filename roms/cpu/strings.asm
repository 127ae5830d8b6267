; CPU differential guest: string instructions in real mode. MOVS/STOS/LODS/CMPS/SCAS in byte, word
; and dword forms, single and with REP/REPE/REPNE, DF clear and set, 16-bit addressing (including
; SI/DI wrapping at 64 KiB and CX-only counts with junk in the upper halves) and 32-bit addressing,
; and segment overrides on the source (and on SCAS, where the override must be ignored).
; Each case prints SI, DI, CX, EAX, the flags and a hash of the destination area.
%include "common.inc"

SRC_SEG equ 0x1000           ; DS: source, 64 KiB at 0x10000
DST_SEG equ 0x2000           ; ES: destination, 64 KiB at 0x20000
ALT_SEG equ 0x3000           ; FS/GS: overridden source, 64 KiB at 0x30000

; SOP name, a32 — a test whose stub follows, up to ENDSOP.
%assign OPN 0
%macro SOP 2
%push sop
%assign OPN OPN + 1
    mov esi, %%n
    mov edi, sstub_%[OPN]
    mov byte [amode], %2
    call run_str
    jmp %$after
%%n: db %1, 0
sstub_%[OPN]:
%endmacro
%macro ENDSOP 0
    ret
%$after:
%pop
%endmacro

main:
    PRINT {"@@BEGIN strings", 10}
    ; Source areas: LCG bytes; destination: the same with every 7th byte changed, so that
    ; REPE CMPS stops at a known mismatch and REPNE at a match.
    mov ax, SRC_SEG
    mov fs, ax
    mov ax, ALT_SEG
    mov gs, ax
    xor edi, edi
.fill:
    call rand16
    mov [fs:di], al
    mov [gs:di], ah
    inc di
    jnz .fill
    push ds
    push es
    mov ax, SRC_SEG
    mov ds, ax
    mov ax, DST_SEG
    mov es, ax
    xor si, si
    xor di, di
    mov cx, 0x8000
    cld
    rep movsw
    pop es
    pop ds
    mov ax, DST_SEG
    mov fs, ax
    xor di, di
.tweak:
    xor byte [fs:di], 0x01
    add di, 7
    jnc .tweak

SOP "movsb", 0
    rep movsb
ENDSOP
SOP "movsw", 0
    rep movsw
ENDSOP
SOP "movsd", 0
    rep movsd
ENDSOP
SOP "movsb1", 0
    movsb
ENDSOP
SOP "movsd1", 0
    movsd
ENDSOP
SOP "movsb_a32", 1
    a32 rep movsb
ENDSOP
SOP "movsd_a32", 1
    a32 rep movsd
ENDSOP
SOP "movsw_fs", 0
    fs rep movsw
ENDSOP
SOP "movsb_gs_a32", 1
    gs a32 rep movsb
ENDSOP
SOP "stosb", 0
    rep stosb
ENDSOP
SOP "stosw", 0
    rep stosw
ENDSOP
SOP "stosd", 0
    rep stosd
ENDSOP
SOP "stosd_a32", 1
    a32 rep stosd
ENDSOP
SOP "stosw1", 0
    stosw
ENDSOP
SOP "lodsb", 0
    rep lodsb
ENDSOP
SOP "lodsw_gs", 0
    gs rep lodsw
ENDSOP
SOP "lodsd", 0
    lodsd
ENDSOP
SOP "lodsd_a32", 1
    a32 rep lodsd
ENDSOP
SOP "repe_cmpsb", 0
    repe cmpsb
ENDSOP
SOP "repne_cmpsb", 0
    repne cmpsb
ENDSOP
SOP "repe_cmpsw", 0
    repe cmpsw
ENDSOP
SOP "repe_cmpsd", 0
    repe cmpsd
ENDSOP
SOP "repe_cmpsw_a32", 1
    a32 repe cmpsw
ENDSOP
SOP "repe_cmpsb_fs", 0
    fs repe cmpsb
ENDSOP
SOP "cmpsd1", 0
    cmpsd
ENDSOP
SOP "repne_scasb", 0
    repne scasb
ENDSOP
SOP "repe_scasb", 0
    repe scasb
ENDSOP
SOP "repne_scasw", 0
    repne scasw
ENDSOP
SOP "repne_scasd_a32", 1
    a32 repne scasd
ENDSOP
SOP "repne_scasb_gs", 0
    gs repne scasb
ENDSOP
SOP "scasw1", 0
    scasw
ENDSOP
    EXIT

; run_str: runs the stub at EDI for every direction, start and count; ESI = name.
run_str:
    mov [cur_name], esi
    mov [cur_stub], edi
    mov byte [df], 0
.ld:
    mov byte [start], 0
.ls:
    mov byte [cnt], 0
.lc:
    call str_case
    inc byte [cnt]
    cmp byte [cnt], NCOUNTS
    jb .lc
    inc byte [start]
    cmp byte [start], 2
    jb .ls
    inc byte [df]
    cmp byte [df], 2
    jb .ld
    mov esi, [cur_name]
    call phash16
    ret

str_case:
    ; registers: with 16-bit addressing the upper halves hold junk that must be ignored
    movzx ebx, byte [cnt]
    movzx ecx, byte [counts + ebx]
    mov esi, 0x100
    mov edi, 0x120
    cmp byte [start], 0
    je .s
    mov esi, 0xFFFC
    mov edi, 0x0008
    cmp byte [amode], 0
    je .s
    mov esi, 0xFF00           ; 32-bit addressing must stay inside the 64 KiB limit
    mov edi, 0xFF08
.s: cmp byte [amode], 0
    jne .a32
    or ecx, 0xABCD0000
    or esi, 0x5A5A0000
    or edi, 0xA5A50000
.a32:
    mov eax, [needles + ebx * 4]
    test bl, 1                 ; odd cases search for a value that is there
    jz .n
    push fs
    push edi
    mov dx, DST_SEG
    mov fs, dx
    movzx edi, di
    mov eax, [fs:edi + 2]
    pop edi
    pop fs
.n:
    push dword 0x8D7          ; arithmetic flags set: REPE/REPNE must not look at them beforehand
    cmp byte [df], 0
    je .f
    or dword [esp], 0x400
.f: popfd
    push ds
    push es
    push fs
    push gs
    mov bx, SRC_SEG
    mov ds, bx
    mov bx, DST_SEG
    mov es, bx
    mov bx, ALT_SEG
    mov fs, bx
    mov gs, bx
    mov ebx, [cs:cur_stub]
    call bx
    pushfd
    pop ebx
    pop gs
    pop fs
    pop es
    pop ds
    cld
    and ebx, 0x4D5             ; DF and the arithmetic flags
    mov [r_si], esi
    mov [r_di], edi
    mov [r_cx], ecx
    mov [r_ax], eax
    mov [r_fl], ebx
    ; hash of the destination areas (both ends of the segment), then undo the stores
    mov dword [hash2], 0
    push fs
    push ds
    mov ax, DST_SEG
    mov fs, ax
    mov ax, SRC_SEG
    mov ds, ax
    xor esi, esi
.h: movzx eax, byte [fs:esi]
    mov edx, [cs:hash2]
    xor edx, eax
    rol edx, 7
    imul edx, edx, 0x01000193
    mov [cs:hash2], edx
    ; restore: destination = source with every 7th byte flipped
    mov al, [esi]
    mov dx, si
    push eax
    mov ax, dx
    xor dx, dx
    mov bx, 7
    div bx
    pop eax
    test dx, dx
    jnz .k
    xor al, 1
.k: mov [fs:esi], al
    inc si
    cmp si, 0x300
    jne .h2
    mov si, 0xFE00
.h2:test si, si
    jnz .h
    pop ds
    pop fs
    ; print and hash the case
    mov esi, [cur_name]
    call puts16
    mov al, ' '
    call putc16
    mov al, [df]
    mov cl, 1
    call phex16
    movzx eax, byte [cnt]
    movzx eax, byte [counts + eax]
    mov cl, 2
    call phex16
    mov al, '>'
    call putc16
    mov al, ' '
    call putc16
    mov eax, [r_si]
    call phex8_16
    call mix16
    mov eax, [r_di]
    call phex8_16
    call mix16
    mov eax, [r_cx]
    call phex8_16
    call mix16
    mov eax, [r_ax]
    call phex8_16
    call mix16
    mov eax, [r_fl]
    mov cl, 3
    call phex16
    call mix16
    mov eax, [hash2]
    call phex8_16
    call mix16
    call nl16
    ret

LIB 16
COMMON_DATA
counts: db 0, 1, 2, 5, 16, 33
NCOUNTS equ $ - counts
align 4
needles: dd 0x11223344, 0x55667788, 0x99AABBCC, 0x00000000, 0xFFFFFFFF, 0x7F7F7F7F
cur_name: dd 0
cur_stub: dd 0
r_si: dd 0
r_di: dd 0
r_cx: dd 0
r_ax: dd 0
r_fl: dd 0
hash2: dd 0
amode: db 0
df: db 0
start: db 0
cnt: db 0
image_end:
