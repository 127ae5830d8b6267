; CPU differential guest: paging. 4 KiB pages and 4 MiB PSE pages, deliberate page faults (the
; handler prints the error code and CR2), CR0.WP, user/supervisor protection from ring 3, accessed
; and dirty bits read back from the tables, INVLPG and CR3 reloads after a table change.
;
; Exclusions: reading through a stale TLB entry (whether a changed entry is seen before INVLPG is
; implementation-specific) and the dirty bit of a PDE that maps a page table (ignored by the CPU).
%include "common.inc"
%include "pm.inc"

PD      equ 0x20000
PT0     equ 0x21000
NOTPRES equ 0x300000        ; not present
SUPRO   equ 0x301000        ; supervisor, read-only
USERRO  equ 0x302000        ; user, read-only
ALIAS   equ 0x303000        ; maps physical 0x100000
REMAP   equ 0x304000        ; maps 0x110000, then 0x111000
ADPAGE  equ 0x305000        ; accessed/dirty probe
BIG     equ 0x400000        ; 4 MiB page at physical 0x800000
BIGRO   equ 0x800000        ; the same physical 4 MiB, read-only
NOPDE   equ 0xC00000        ; no page table

; PTE address of a linear address in the first 4 MiB
%define PTE(a) (PT0 + ((a) >> 12) * 4)

main:
    ENTER_PM32 pm_main
pm_main:
    call pm_setup
    PRINT {"@@BEGIN paging", 10}
    ; identity-map the first 4 MiB as user read/write, then carve out the test pages
    mov edi, PD
    xor eax, eax
    mov ecx, 2048
    rep stosd
    mov edi, PT0
    mov eax, 0x007
    mov ecx, 1024
.m: stosd
    add eax, 0x1000
    loop .m
    mov dword [PD], PT0 | 0x007
    mov dword [PD + 4], 0x800000 | 0x083      ; 4 MiB, supervisor read/write
    mov dword [PD + 8], 0x800000 | 0x081      ; the same, read-only
    mov dword [PTE(NOTPRES)], 0
    mov dword [PTE(SUPRO)], SUPRO | 0x001
    mov dword [PTE(USERRO)], USERRO | 0x005
    mov dword [PTE(ALIAS)], 0x100000 | 0x003
    mov dword [PTE(REMAP)], 0x110000 | 0x003
    mov dword [0x110000], 0x11111111
    mov dword [0x111000], 0x22222222
    mov dword [0x100000], 0
    mov eax, cr4
    or eax, 0x10                ; PSE
    mov cr4, eax
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp .on
.on:
    PRINT "paging on cr0 "
    mov eax, cr0
    and eax, 0x80010001
    call phex8_32
    call nl32

TRY "read not present"
    mov eax, [NOTPRES]
ENDTRY
TRY "write not present"
    mov dword [NOTPRES + 4], 1
ENDTRY
TRY "fetch not present"
    jmp NOTPRES
ENDTRY
TRY "read without page table"
    mov eax, [NOPDE + 0x123]
ENDTRY
TRY "write read-only, wp=0"
    mov dword [SUPRO], 0x5A5A5A5A
    mov eax, [SUPRO]
    call phex8_32
    call nl32
ENDTRY
    mov eax, cr0
    or eax, 0x10000
    mov cr0, eax
TRY "write read-only, wp=1"
    mov dword [SUPRO + 8], 1
ENDTRY
TRY "write 4M read-only, wp=1"
    mov dword [BIGRO + 0x1230], 1
ENDTRY
TRY "movsd into read-only"
    mov esi, 0x7c00
    mov edi, SUPRO + 0xFF8
    mov ecx, 4
    cld
    rep movsd
ENDTRY
TRY "ring 3 read supervisor page"
    TO_RING3 .r3, 0x3002
.r3:
    mov cx, SEL_DATA3
    mov ds, cx
    mov eax, [SUPRO]
    int 0x30
ENDTRY
TRY "ring 3 write user read-only"
    TO_RING3 .r3, 0x3002
.r3:
    mov cx, SEL_DATA3
    mov ds, cx
    mov dword [USERRO], 1
    int 0x30
ENDTRY
TRY "ring 3 read user read-only"
    TO_RING3 .r3, 0x3002
.r3:
    mov cx, SEL_DATA3
    mov ds, cx
    mov eax, [USERRO]
    int 0x30
ENDTRY
TRY "ring 3 read 4M supervisor"
    TO_RING3 .r3, 0x3002
.r3:
    mov cx, SEL_DATA3
    mov ds, cx
    mov eax, [BIG]
    int 0x30
ENDTRY
TRY "ring 3 push onto supervisor stack page"
    TO_RING3 .r3, 0x3002
.r3:
    mov cx, SEL_DATA3
    mov ds, cx
    mov esp, SUPRO + 0x100
    push eax
    int 0x30
ENDTRY

TRY "alias"
    mov dword [ALIAS + 0x10], 0xA11A5000
    mov eax, [0x100010]
    call phex8_32
    call nl32
ENDTRY

TRY "4M page and its read-only alias"
    mov dword [BIG + 0x1234], 0xB16B16
    mov eax, [BIGRO + 0x1234]
    call phex8_32
    call nl32
ENDTRY

TRY "accessed and dirty bits"
    mov dword [PTE(ADPAGE)], ADPAGE | 0x003
    invlpg [ADPAGE]
    mov eax, [PTE(ADPAGE)]
    call phex8_32
    mov eax, [ADPAGE]
    mov eax, [PTE(ADPAGE)]
    call phex8_32
    mov dword [ADPAGE], 7
    mov eax, [PTE(ADPAGE)]
    call phex8_32
    mov eax, [PD]
    and eax, 0x3F               ; the D bit of a PDE mapping a page table is ignored
    call phex8_32
    call nl32
    and dword [PD + 4], ~0x60
    invlpg [BIG]
    mov eax, [PD + 4]
    call phex8_32
    mov eax, [BIG + 8]
    mov eax, [PD + 4]
    call phex8_32
    mov [BIG + 8], eax
    mov eax, [PD + 4]
    call phex8_32
    call nl32
ENDTRY

TRY "invlpg after remap"
    mov eax, [REMAP]
    call phex8_32
    mov dword [PTE(REMAP)], 0x111000 | 0x003
    invlpg [REMAP]
    mov eax, [REMAP]
    call phex8_32
    call nl32
ENDTRY

TRY "cr3 reload after remap"
    mov dword [PTE(REMAP)], 0x110000 | 0x003
    mov eax, cr3
    mov cr3, eax
    mov eax, [REMAP]
    call phex8_32
    call nl32
ENDTRY

TRY "unmap then fault"
    mov dword [PTE(REMAP)], 0
    invlpg [REMAP]
    mov eax, [REMAP + 0x44]
ENDTRY

TRY "fault in the middle of a page-crossing read"
    mov dword [PTE(REMAP)], 0x110000 | 0x003
    invlpg [REMAP]
    mov eax, [REMAP - 2]        ; crosses from ALIAS into REMAP
    call phex8_32
    mov eax, [NOTPRES - 2]      ; crosses from a present page into a not-present one
ENDTRY

TRY "paging off"
    mov eax, cr0
    and eax, ~0x80010000
    mov cr0, eax
    jmp .off
.off:
    mov eax, cr0
    and eax, 0x80010001
    call phex8_32
    mov eax, [NOTPRES]          ; physical memory again
    call nl32
ENDTRY
    EXIT

LIB 32
PM_CODE
COMMON_DATA
PM_DATA
image_end:
