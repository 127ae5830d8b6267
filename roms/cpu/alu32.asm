; CPU differential guest: integer ALU with 8-, 16- and 32-bit operands in flat 32-bit protected mode.
; See alu.inc for the driver and ops.inc for the tests and what is masked out.
%include "common.inc"
%include "alu.inc"

main:
    ENTER_PM32 pm_main
pm_main:
    PRINT {"@@BEGIN alu32", 10}
%define SZ 32
%define NM "32"
%define RA eax
%define RB ebx
%define RD edx
%define RC ecx
%include "ops.inc"
%undef SZ
%undef NM
%undef RA
%undef RB
%undef RD
%undef RC
%define SZ 16
%define NM "16"
%define RA ax
%define RB bx
%define RD dx
%define RC cx
%include "ops.inc"
    EXIT

LIB 32
ALU_DRIVER 32
COMMON_DATA
align 8
gdt:
    dq 0
    DESC 0, 0xfffff, 0x9a, 0xc
    DESC 0, 0xfffff, 0x92, 0xc
    DESC 0, 0xffff, 0x9a, 0x0
    DESC 0, 0xffff, 0x92, 0x0
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
align 4
membuf: times 32 db 0
image_end:
