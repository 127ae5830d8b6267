using Iced.Intel;

namespace Emu.X86;

// The decode cache: instructions are decoded once per physical page and code size. A guest write
// discards a page's decodings only if it touches bytes of decoded instructions (data next to code
// stays cheap); devices report their writes through InvalidateCode, which discards whole pages.
public sealed partial class Cpu
{
    const int MaxBlock = 48;

    readonly CodePage?[][] _codeDir = new CodePage?[1 << 11][];
    readonly byte[] _codeMarks = new byte[1 << 20];
    readonly BufferCodeReader _pageReader = new(4096);
    readonly BufferCodeReader _crossReader = new(16);
    readonly Decoder _decoder16, _decoder32, _crossDecoder16, _crossDecoder32;
    Instruction _crossInstruction;

    /// <summary>Blocks decoded so far (a cache-efficiency probe for tests and profiling).</summary>
    internal long BlocksDecoded { get; private set; }

    CodePage GetCodePage(uint phys)
    {
        uint key = (phys >> 12) << 1 | (_code32 ? 1u : 0);
        // Read, then store only when missing: taking the element by reference (??=) costs a covariance check per lookup.
        CodePage?[]? dir = _codeDir[key >> 10];
        if (dir == null)
            _codeDir[key >> 10] = dir = new CodePage?[1024];
        ref CodePage? p = ref dir[key & 1023];
        if (p == null)
        {
            p = new CodePage();
            _codeMarks[phys >> 12] = 1;
        }
        return p;
    }

    /// <summary>A guest write hit a page holding decoded code: discard the page only if the written bytes were decoded.</summary>
    void CheckCodeWrite(uint phys, int size)
    {
        uint page = phys >> 12;
        uint key = page << 1;
        CodePage?[]? dir = _codeDir[key >> 10];
        if (dir == null) return;
        int offset = (int)(phys & 0xFFF);
        CodePage? p16 = dir[key & 1023], p32 = dir[(key + 1) & 1023];
        if ((p16 != null && p16.Covers(offset, size)) || (p32 != null && p32.Covers(offset, size)))
            InvalidateCodePage(page);
    }

    /// <summary>Discards decoded instructions of a physical page.</summary>
    void InvalidateCodePage(uint page)
    {
        _codeMarks[page] = 0;
        uint key = page << 1;
        CodePage?[]? dir = _codeDir[key >> 10];
        if (dir != null) { dir[key & 1023] = null; dir[(key + 1) & 1023] = null; }
        _breakBlock = true;
    }

    /// <summary>Tells the CPU that something other than the CPU (DMA, a device, the loader) wrote guest memory.</summary>
    public void InvalidateCode(uint physical, uint length)
    {
        if (length == 0) return;
        for (ulong page = physical >> 12; page <= (physical + (ulong)length - 1) >> 12 && page < (1 << 20); page++)
            if (_codeMarks[page] != 0) InvalidateCodePage((uint)page);
    }

    /// <summary>Drops every decoded instruction (after remapping memory, e.g. shadow RAM changes).</summary>
    public void FlushDecodeCache()
    {
        Array.Clear(_codeDir);
        Array.Clear(_codeMarks);
        _breakBlock = true;
    }

    /// <summary>Decodes a block starting at <paramref name="phys"/>; returns its first index or -2 if it crosses the page.</summary>
    int DecodeBlock(CodePage page, uint phys)
    {
        uint pageBase = phys & ~0xFFFu;
        byte[] buf = _pageReader.Buffer;
        if (_mem.CanReadDirect(pageBase))
            Buffer.BlockCopy(_mem.Ram, (int)pageBase, buf, 0, 4096);
        else
            for (int i = 0; i < 4096; i++) buf[i] = _mem.Bus.Read8(pageBase + (uint)i);
        _pageReader.Position = (int)(phys & 0xFFF);
        _pageReader.End = 4096;
        Decoder d = _code32 ? _decoder32 : _decoder16;
        d.IP = phys & 0xFFF;
        int first = page.Count;
        int n = 0;
        BlocksDecoded++;
        while (true)
        {
            uint offset = (uint)d.IP;
            d.Decode(out Instruction ins);
            if (d.LastError == DecoderError.NoMoreBytes)
            {
                page.Start[offset] = CodePage.Crossing;
                if (n == 0) return -2;
                page.Forms[page.Count - 1].MarkEnd();
                break;
            }
            n++;
            uint next = offset + (uint)ins.Length;
            bool end = ins.FlowControl != FlowControl.Next || n >= MaxBlock || next >= 4096
                || page.Start[next] != 0;
            page.Start[offset] = (ushort)(page.Count + 1);
            OpForm form = Classify(ins);
            if (end) form.MarkEnd();
            page.Append(ins, form);
            page.Cover((int)offset, ins.Length);
            if (end) break;
        }
        return first;
    }

    /// <summary>Executes one instruction that crosses a page boundary, fetching its bytes through the MMU.</summary>
    void ExecuteUncached(uint lin)
    {
        _eipStart = _eip;
        byte[] buf = _crossReader.Buffer;
        int have = 0;
        bool fetchFault = false;
        int vector = 0, error = 0;
        uint cr2 = _cr2;
        for (; have < 15; have++)
        {
            uint p = TranslateFetch(lin + (uint)have);
            if (_faulted)
            {
                fetchFault = true; vector = _faultVector; error = _faultError;
                _faulted = false; _breakBlock = false;
                break;
            }
            buf[have] = _mem.Read8(p);
        }
        _crossReader.Position = 0;
        _crossReader.End = have;
        Decoder d = _code32 ? _crossDecoder32 : _crossDecoder16;
        d.IP = lin & 0xFFF;
        d.Decode(out _crossInstruction);
        if (d.LastError == DecoderError.NoMoreBytes)
        {
            if (fetchFault) { RaiseFault(vector, error); return; }
            _crossInstruction = default;
        }
        else _cr2 = cr2;   // the fault was beyond the instruction's end
        _eip = (_eip + (uint)_crossInstruction.Length) & _ipMask;
        Execute(ref _crossInstruction);
    }
}
