using Iced.Intel;

namespace Emu.X86;

// The dispatcher: one switch on the mnemonic, delegating to the instruction group files.
public sealed partial class Cpu
{
    void Execute(ref Instruction i)
    {
        switch (i.Mnemonic)
        {
            // ---- data movement ----
            case Mnemonic.Mov: Mov(ref i); break;
            case Mnemonic.Movzx: MovExtend(ref i, false); break;
            case Mnemonic.Movsx: MovExtend(ref i, true); break;
            case Mnemonic.Lea: Lea(ref i); break;
            case Mnemonic.Xchg: Xchg(ref i); break;
            case Mnemonic.Nop: case Mnemonic.Pause: case Mnemonic.Fnop: break;
            case Mnemonic.Push: Push(ref i); break;
            case Mnemonic.Pop: Pop(ref i); break;
            case Mnemonic.Pusha: PushAll(false); break;
            case Mnemonic.Pushad: PushAll(true); break;
            case Mnemonic.Popa: PopAll(false); break;
            case Mnemonic.Popad: PopAll(true); break;
            case Mnemonic.Pushf: PushFlags(false); break;
            case Mnemonic.Pushfd: PushFlags(true); break;
            case Mnemonic.Popf: PopFlags(false); break;
            case Mnemonic.Popfd: PopFlags(true); break;
            case Mnemonic.Lahf: Lahf(); break;
            case Mnemonic.Sahf: Sahf(); break;
            case Mnemonic.Cbw: R[0] = (R[0] & 0xFFFF0000) | (ushort)(short)(sbyte)R[0]; break;
            case Mnemonic.Cwde: R[0] = (uint)(short)R[0]; break;
            case Mnemonic.Cwd: R[2] = (R[2] & 0xFFFF0000) | ((R[0] & 0x8000) != 0 ? 0xFFFFu : 0); break;
            case Mnemonic.Cdq: R[2] = (R[0] & 0x80000000) != 0 ? 0xFFFFFFFF : 0; break;
            case Mnemonic.Xlatb: Xlat(ref i); break;
            case Mnemonic.Bswap: Bswap(ref i); break;
            case Mnemonic.Cmova:
            case Mnemonic.Cmovae:
            case Mnemonic.Cmovb:
            case Mnemonic.Cmovbe:
            case Mnemonic.Cmove:
            case Mnemonic.Cmovg:
            case Mnemonic.Cmovge:
            case Mnemonic.Cmovl:
            case Mnemonic.Cmovle:
            case Mnemonic.Cmovne:
            case Mnemonic.Cmovno:
            case Mnemonic.Cmovnp:
            case Mnemonic.Cmovns:
            case Mnemonic.Cmovo:
            case Mnemonic.Cmovp:
            case Mnemonic.Cmovs:
                Cmov(ref i); break;
            case Mnemonic.Seta:
            case Mnemonic.Setae:
            case Mnemonic.Setb:
            case Mnemonic.Setbe:
            case Mnemonic.Sete:
            case Mnemonic.Setg:
            case Mnemonic.Setge:
            case Mnemonic.Setl:
            case Mnemonic.Setle:
            case Mnemonic.Setne:
            case Mnemonic.Setno:
            case Mnemonic.Setnp:
            case Mnemonic.Setns:
            case Mnemonic.Seto:
            case Mnemonic.Setp:
            case Mnemonic.Sets:
                WriteOp0(i, 1, Condition(i) ? 1u : 0); break;
            case Mnemonic.Enter: Enter(ref i); break;
            case Mnemonic.Leave: Leave(ref i); break;
            case Mnemonic.Lds: LoadFarPointer(ref i, DS); break;
            case Mnemonic.Les: LoadFarPointer(ref i, ES); break;
            case Mnemonic.Lfs: LoadFarPointer(ref i, FS); break;
            case Mnemonic.Lgs: LoadFarPointer(ref i, GS); break;
            case Mnemonic.Lss: LoadFarPointer(ref i, SS); break;

            // ---- arithmetic and logic ----
            case Mnemonic.Add:
            case Mnemonic.Or:
            case Mnemonic.Adc:
            case Mnemonic.Sbb:
            case Mnemonic.And:
            case Mnemonic.Sub:
            case Mnemonic.Xor:
            case Mnemonic.Cmp:
            case Mnemonic.Test:
                AluBinary(ref i); break;
            case Mnemonic.Inc: IncDec(ref i, true); break;
            case Mnemonic.Dec: IncDec(ref i, false); break;
            case Mnemonic.Neg: Neg(ref i); break;
            case Mnemonic.Not: Not(ref i); break;
            case Mnemonic.Mul: Mul(ref i); break;
            case Mnemonic.Imul: Imul(ref i); break;
            case Mnemonic.Div: Div(ref i); break;
            case Mnemonic.Idiv: Idiv(ref i); break;
            case Mnemonic.Rol:
            case Mnemonic.Ror:
            case Mnemonic.Rcl:
            case Mnemonic.Rcr:
            case Mnemonic.Shl:
            case Mnemonic.Sal:
            case Mnemonic.Shr:
            case Mnemonic.Sar:
                Shift(ref i); break;
            case Mnemonic.Shld: DoubleShift(ref i, true); break;
            case Mnemonic.Shrd: DoubleShift(ref i, false); break;
            case Mnemonic.Daa: Daa(); break;
            case Mnemonic.Das: Das(); break;
            case Mnemonic.Aaa: Aaa(); break;
            case Mnemonic.Aas: Aas(); break;
            case Mnemonic.Aam: Aam(ref i); break;
            case Mnemonic.Aad: Aad(ref i); break;
            case Mnemonic.Salc: R[0] = (R[0] & 0xFFFFFF00) | (CarryFlag() != 0 ? 0xFFu : 0); break;
            case Mnemonic.Bt: case Mnemonic.Bts: case Mnemonic.Btr: case Mnemonic.Btc: BitTest(ref i); break;
            case Mnemonic.Bsf: BitScan(ref i, true); break;
            case Mnemonic.Bsr: BitScan(ref i, false); break;
            case Mnemonic.Cmpxchg: Cmpxchg(ref i); break;
            case Mnemonic.Cmpxchg8b: Cmpxchg8b(ref i); break;
            case Mnemonic.Xadd: Xadd(ref i); break;

            // ---- flags ----
            case Mnemonic.Clc: SetArithFlags(Flags.CF, 0); break;
            case Mnemonic.Stc: SetArithFlags(Flags.CF, Flags.CF); break;
            case Mnemonic.Cmc: SetArithFlags(Flags.CF, CarryFlag() ^ 1); break;
            case Mnemonic.Cld: _flags &= ~Flags.DF; break;
            case Mnemonic.Std: _flags |= Flags.DF; break;
            case Mnemonic.Cli: Cli(); break;
            case Mnemonic.Sti: Sti(); break;

            // ---- control transfer ----
            case Mnemonic.Jmp: Jmp(ref i); break;
            case Mnemonic.Ja:
            case Mnemonic.Jae:
            case Mnemonic.Jb:
            case Mnemonic.Jbe:
            case Mnemonic.Je:
            case Mnemonic.Jg:
            case Mnemonic.Jge:
            case Mnemonic.Jl:
            case Mnemonic.Jle:
            case Mnemonic.Jne:
            case Mnemonic.Jno:
            case Mnemonic.Jnp:
            case Mnemonic.Jns:
            case Mnemonic.Jo:
            case Mnemonic.Jp:
            case Mnemonic.Js:
                if (Condition(i)) NearJump(BranchTarget(i)); break;
            case Mnemonic.Jcxz: if ((ushort)R[1] == 0) NearJump(BranchTarget(i)); break;
            case Mnemonic.Jecxz: if (R[1] == 0) NearJump(BranchTarget(i)); break;
            case Mnemonic.Loop: case Mnemonic.Loope: case Mnemonic.Loopne: Loop(ref i); break;
            case Mnemonic.Call: Call(ref i); break;
            case Mnemonic.Ret: RetNear(ref i); break;
            case Mnemonic.Retf: RetFar(ref i); break;
            case Mnemonic.Int: SoftwareInterrupt(i.Immediate8, InterruptSource.Software); break;
            case Mnemonic.Int3: SoftwareInterrupt(Vector.BP, InterruptSource.Int3); break;
            case Mnemonic.Int1: SoftwareInterrupt(Vector.DB, InterruptSource.Int1); break;
            case Mnemonic.Into: if (OverflowFlag) SoftwareInterrupt(Vector.OF, InterruptSource.Int3); break;
            case Mnemonic.Iret: Iret(false); break;
            case Mnemonic.Iretd: Iret(true); break;
            case Mnemonic.Bound: Bound(ref i); break;
            case Mnemonic.Hlt: Hlt(); break;

            // ---- strings ----
            case Mnemonic.Movsb:
            case Mnemonic.Movsw:
            case Mnemonic.Movsd:
            case Mnemonic.Cmpsb:
            case Mnemonic.Cmpsw:
            case Mnemonic.Cmpsd:
            case Mnemonic.Stosb:
            case Mnemonic.Stosw:
            case Mnemonic.Stosd:
            case Mnemonic.Lodsb:
            case Mnemonic.Lodsw:
            case Mnemonic.Lodsd:
            case Mnemonic.Scasb:
            case Mnemonic.Scasw:
            case Mnemonic.Scasd:
            case Mnemonic.Insb:
            case Mnemonic.Insw:
            case Mnemonic.Insd:
            case Mnemonic.Outsb:
            case Mnemonic.Outsw:
            case Mnemonic.Outsd:
                StringOp(ref i); break;

            // ---- I/O ----
            case Mnemonic.In: In(ref i); break;
            case Mnemonic.Out: Out(ref i); break;

            // ---- system ----
            case Mnemonic.Lgdt: case Mnemonic.Lidt: LoadTableRegister(ref i); break;
            case Mnemonic.Sgdt: case Mnemonic.Sidt: StoreTableRegister(ref i); break;
            case Mnemonic.Lldt: Lldt(ref i); break;
            case Mnemonic.Sldt: StoreSystemSelector(ref i, _ldtr.Selector); break;
            case Mnemonic.Ltr: Ltr(ref i); break;
            case Mnemonic.Str: StoreSystemSelector(ref i, _tr.Selector); break;
            case Mnemonic.Lmsw: Lmsw(ref i); break;
            case Mnemonic.Smsw: Smsw(ref i); break;
            case Mnemonic.Clts: if (CheckCpl0()) { _cr0 &= ~Cr0TS; } break;
            case Mnemonic.Invd: case Mnemonic.Wbinvd: CheckCpl0(); break;
            case Mnemonic.Invlpg: Invlpg(ref i); break;
            case Mnemonic.Lar: Lar(ref i); break;
            case Mnemonic.Lsl: Lsl(ref i); break;
            case Mnemonic.Verr: Verify(ref i, false); break;
            case Mnemonic.Verw: Verify(ref i, true); break;
            case Mnemonic.Arpl: Arpl(ref i); break;
            case Mnemonic.Cpuid: Cpuid(); break;
            case Mnemonic.Rdtsc: Rdtsc(); break;
            case Mnemonic.Rdpmc: Rdpmc(); break;
            case Mnemonic.Rdmsr: Rdmsr(); break;
            case Mnemonic.Wrmsr: Wrmsr(); break;
            case Mnemonic.Ud0: case Mnemonic.Ud1: case Mnemonic.Ud2: UD(); break;

            default:
                if (!ExecuteFpu(ref i)) UD();
                break;
        }
    }
}
