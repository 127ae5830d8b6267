; CPU differential guest: integer ALU with 8- and 16-bit operands, in real mode (16-bit code).
; See alu.inc for the driver and ops.inc for the tests and what is masked out.
%include "common.inc"
%include "alu.inc"

main:
    PRINT {"@@BEGIN alu16", 10}
%define SZ 8
%define NM "8"
%define RA al
%define RB bl
%define RD dl
%define RC cx
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

LIB 16
ALU_DRIVER 16
COMMON_DATA
align 4
membuf: times 32 db 0
image_end:
