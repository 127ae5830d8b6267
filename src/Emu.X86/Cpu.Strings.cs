using Iced.Intel;

namespace Emu.X86;

// String instructions with REP/REPE/REPNE. A long REP runs in slices: after a slice EIP stays on the
// instruction so pending interrupts are taken between slices, exactly as an interrupted REP would.
// Every iteration after the first counts as a retired instruction, so Run budgets and the default
// time stamp track the work done.
public sealed partial class Cpu
{
    const int RepSlice = 4096;

    void StringOp(ref Instruction i)
    {
        if (!i.IsStringInstruction) { UD(); return; }
        Mnemonic m = i.Mnemonic;
        int size = MemSize[(int)i.MemorySize];
        bool a32 = i.Op0Kind is OpKind.MemoryESEDI or OpKind.MemorySegESI || i.Op1Kind is OpKind.MemoryESEDI or OpKind.MemorySegESI;
        uint amask = a32 ? 0xFFFFFFFF : 0xFFFF;
        bool rep = i.HasRepPrefix || i.HasRepnePrefix;
        int srcSeg = MemSeg(i);
        int delta = (_flags & Flags.DF) != 0 ? -size : size;
        bool isIo = m is Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd or Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd;
        if (isIo && !IoPermitted((ushort)R[2], size)) return;
        bool compare = m is Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd;
        bool repe = i.HasRepePrefix;

        uint count = R[1] & amask;
        if (rep && count == 0) return;
        if (rep && delta > 0 && m is Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd or Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd)
        {
            count = BulkForward(m is Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd, srcSeg, size, amask, count);
            if (_faulted || count == 0) return;
        }
        for (int n = 0; ; n++)
        {
            uint si = R[6] & amask, di = R[7] & amask;
            switch (m)
            {
                case Mnemonic.Movsb:
                case Mnemonic.Movsw:
                case Mnemonic.Movsd:
                    {
                        uint v = ReadMem(srcSeg, si, size);
                        if (_faulted) return;
                        WriteMem(ES, di, size, v);
                        if (_faulted) return;
                        AdvanceIndex(6, delta, amask);
                        AdvanceIndex(7, delta, amask);
                        break;
                    }
                case Mnemonic.Stosb:
                case Mnemonic.Stosw:
                case Mnemonic.Stosd:
                    WriteMem(ES, di, size, R[0]);
                    if (_faulted) return;
                    AdvanceIndex(7, delta, amask);
                    break;
                case Mnemonic.Lodsb:
                case Mnemonic.Lodsw:
                case Mnemonic.Lodsd:
                    {
                        uint v = ReadMem(srcSeg, si, size);
                        if (_faulted) return;
                        SetReg(size == 1 ? Register.AL : size == 2 ? Register.AX : Register.EAX, v);
                        AdvanceIndex(6, delta, amask);
                        break;
                    }
                case Mnemonic.Cmpsb:
                case Mnemonic.Cmpsw:
                case Mnemonic.Cmpsd:
                    {
                        uint a = ReadMem(srcSeg, si, size);
                        if (_faulted) return;
                        uint b = ReadMem(ES, di, size);
                        if (_faulted) return;
                        SetLazy(LazyOp.Sub, a, b, a - b, size);
                        AdvanceIndex(6, delta, amask);
                        AdvanceIndex(7, delta, amask);
                        break;
                    }
                case Mnemonic.Scasb:
                case Mnemonic.Scasw:
                case Mnemonic.Scasd:
                    {
                        uint b = ReadMem(ES, di, size);
                        if (_faulted) return;
                        uint a = R[0] & SizeMask(size);
                        SetLazy(LazyOp.Sub, a, b, a - b, size);
                        AdvanceIndex(7, delta, amask);
                        break;
                    }
                case Mnemonic.Insb:
                case Mnemonic.Insw:
                case Mnemonic.Insd:
                    {
                        if (!ProbeMemWrite(ES, di, size)) return;
                        uint v = PortIn((ushort)R[2], size);
                        WriteMem(ES, di, size, v);
                        AdvanceIndex(7, delta, amask);
                        break;
                    }
                default: // OUTS
                    {
                        uint v = ReadMem(srcSeg, si, size);
                        if (_faulted) return;
                        PortOut((ushort)R[2], size, v);
                        AdvanceIndex(6, delta, amask);
                        break;
                    }
            }
            if (!rep) return;
            count = (count - 1) & amask;
            R[1] = (R[1] & ~amask) | count;
            if (count == 0) return;
            if (compare && ZeroFlag != repe) return;
            _instructions++;
            if (n >= RepSlice || _breakBlock || _instructions >= _runLimit)
            {
                _eip = _eipStart;
                _breakBlock = true;
                return;
            }
        }
    }

    /// <summary>REP MOVS/STOS going up: copies or fills whole runs that stay inside one RAM page on each side
    /// directly in the RAM array. Returns the remaining count for the element-by-element loop.</summary>
    uint BulkForward(bool store, int srcSeg, int size, uint amask, uint count)
    {
        for (int chunkNo = 0; chunkNo < 16 && count != 0 && _instructions < _runLimit; chunkNo++)
        {
            uint di = R[7] & amask, si = R[6] & amask;
            ref Segment es = ref S[ES];
            uint dLin = es.Base + di;
            uint n = Math.Min(count, (0x1000 - (dLin & 0xFFF)) / (uint)size);
            uint sLin = 0;
            if (!store)
            {
                sLin = S[srcSeg].Base + si;
                n = Math.Min(n, (0x1000 - (sLin & 0xFFF)) / (uint)size);
            }
            uint bytes = n * (uint)size;
            // Segment windows (and 16-bit index wrap) must hold for the whole run; otherwise take the slow loop.
            if (n == 0 || !es.Writable || di < es.Min || di + bytes - 1 > es.Max || di + bytes - 1 > amask) return count;
            if (!store)
            {
                ref Segment ss = ref S[srcSeg];
                if (!ss.Readable || si < ss.Min || si + bytes - 1 > ss.Max || si + bytes - 1 > amask) return count;
            }
            uint dPhys = Translate(dLin, true, _user);
            if (_faulted) return count;
            if (!_mem.CanWriteDirect(dPhys)) return count;
            if (store)
            {
                Span<byte> dst = _mem.Ram.AsSpan((int)dPhys, (int)bytes);
                uint v = R[0];
                if (size == 1) dst.Fill((byte)v);
                else if (size == 2) System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(dst).Fill((ushort)v);
                else System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(dst).Fill(v);
            }
            else
            {
                uint sPhys = Translate(sLin, false, _user);
                if (_faulted) return count;
                // Overlap with the destination just ahead of the source replicates data: element order matters.
                if (!_mem.CanReadDirect(sPhys) || (dPhys > sPhys && dPhys < sPhys + bytes)) return count;
                _mem.Ram.AsSpan((int)sPhys, (int)bytes).CopyTo(_mem.Ram.AsSpan((int)dPhys, (int)bytes));
            }
            if (_codeMarks[dPhys >> 12] != 0) CheckCodeWrite(dPhys, (int)bytes);
            R[7] = (R[7] & ~amask) | ((di + bytes) & amask);
            if (!store) R[6] = (R[6] & ~amask) | ((si + bytes) & amask);
            count -= n;
            R[1] = (R[1] & ~amask) | count;
            _instructions += n;
        }
        if (count != 0)
        {
            // Long copies continue after a chance to take interrupts.
            _eip = _eipStart;
            _breakBlock = true;
        }
        return 0;
    }

    void AdvanceIndex(int reg, int delta, uint amask) => R[reg] = (R[reg] & ~amask) | ((R[reg] + (uint)delta) & amask);
}
