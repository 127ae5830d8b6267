using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Emu.X86;

// The handlers Dispatch tail-calls, one per decoded form. They stay out of line: inlined, their registers would
// make Dispatch save and restore them for every form.
public sealed partial class Cpu
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    void MovRM32(in OpForm f)
    {
        uint v = ReadMem32(f.Seg, EffAddr(f));
        if (!_faulted) R[f.A] = v;
    }

    /// <summary>MOVZX r32, m8 or m16.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    void MovzxRM(in OpForm f)
    {
        uint offset = EffAddr(f);
        uint v = f.Kind == Form.MovzxRM8 ? ReadMem8(f.Seg, offset) : ReadMem16(f.Seg, offset);
        if (!_faulted) R[f.A] = v;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    void MovRM16(in OpForm f)
    {
        uint v = ReadMem16(f.Seg, EffAddr(f));
        if (!_faulted) SetReg16(f.A, v);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    void MovRM8(in OpForm f)
    {
        uint v = ReadMem8(f.Seg, EffAddr(f));
        if (!_faulted) SetReg8(f.A, v);
    }

    /// <summary>MOV m32, r32 or imm32.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    void StoreMemory32(in OpForm f) => WriteMem32(f.Seg, EffAddr(f), f.Kind == Form.MovMR32 ? R[f.B] : f.Imm);

    [MethodImpl(MethodImplOptions.NoInlining)]
    void MovMR16(in OpForm f) => WriteMem(f.Seg, EffAddr(f), 2, (ushort)R[f.B]);

    [MethodImpl(MethodImplOptions.NoInlining)]
    void MovMI8(in OpForm f) => WriteMem(f.Seg, EffAddr(f), 1, f.Imm);

    [MethodImpl(MethodImplOptions.NoInlining)]
    void IncDecByMnemonic(ref Instruction i) => IncDec(ref i, i.Mnemonic == Mnemonic.Inc);

    [MethodImpl(MethodImplOptions.NoInlining)]
    void MovMR8(in OpForm f) => WriteMem(f.Seg, EffAddr(f), 1, GetReg8(f.B));

    [MethodImpl(MethodImplOptions.NoInlining)]
    void AluRM32(in OpForm f)
    {
        uint b = ReadMem32(f.Seg, EffAddr(f));
        if (!_faulted) Alu32(f.Alu, f.A, b);
    }

    /// <summary>CMP/TEST m32 with a register or an immediate.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    void CompareMemory32(in OpForm f)
    {
        uint a = ReadMem32(f.Seg, EffAddr(f));
        if (!_faulted) AluResult(f.Alu, a, f.Kind == Form.CmpMR32 ? R[f.B] : f.Imm, 4);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    void PushR32(in OpForm f, ref Instruction i)
    {
        if (!_stack32) { Push(ref i); return; }
        uint sp = R[4] - 4;
        WriteMem32(SS, sp, R[f.A]);
        if (!_faulted) R[4] = sp;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    void PopR32(in OpForm f, ref Instruction i)
    {
        if (!_stack32) { Pop(ref i); return; }
        uint v = ReadMem32(SS, R[4]);
        if (_faulted) return;
        R[4] += 4;
        R[f.A] = v;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    void MovzxRR(in OpForm f) => R[f.A] = f.B < 8 ? GetReg8(f.B) : (ushort)R[f.B - 8];

    [MethodImpl(MethodImplOptions.NoInlining)]
    void ShiftRI32(in OpForm f, ref Instruction i) => R[f.A] = ShiftValue(i.Mnemonic, R[f.A], (int)f.Imm, 4);

    [MethodImpl(MethodImplOptions.NoInlining)]
    void ImulRR32(in OpForm f) =>
        R[f.A] = ImulTruncated((int)(f.Alu == AluOp.Imm ? R[f.B] : R[f.A]), (int)(f.Alu == AluOp.Imm ? f.Imm : R[f.B]), 4);

    [MethodImpl(MethodImplOptions.NoInlining)]
    void CmovR32(in OpForm f)
    {
        if (Condition((ConditionCode)f.A)) R[f.Seg] = R[f.B];
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    void CmovRM32(in OpForm f)
    {
        uint v = ReadMem32(f.Seg, EffAddr(f));
        if (!_faulted && Condition((ConditionCode)f.A)) R[f.B] = v;
    }

    /// <summary>MUL r32 or m32: EDX:EAX = EAX * source.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    void Mul32(in OpForm f)
    {
        uint src = f.Kind == Form.MulR32 ? R[f.A] : ReadMem32(f.Seg, EffAddr(f));
        if (_faulted) return;
        ulong r = (ulong)R[0] * src;
        R[0] = (uint)r;
        R[2] = (uint)(r >> 32);
        SetMulFlags(r > 0xFFFFFFFF, (uint)r, 4);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    void CallRel32(in OpForm f, ref Instruction i)
    {
        if (!_stack32) { Call(ref i); return; }
        uint t = _eip + f.Imm, sp = R[4] - 4;
        if (t > S[CS].Max && ProtectedMode) { GP(0); return; }
        WriteMem32(SS, sp, _eip);
        if (_faulted) return;
        R[4] = sp;
        _eip = t;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    void Ret32(in OpForm f, ref Instruction i)
    {
        if (!_stack32) { RetNear(ref i); return; }
        uint t = ReadMem32(SS, R[4]);
        if (_faulted) return;
        if (t > S[CS].Max && ProtectedMode) { GP(0); return; }
        R[4] += 4 + f.Imm;
        _eip = t;
    }
}
