using System.Text;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Bench;

/// <summary>The guest programs of the CPU benchmarks, each with a host-computed expected result.</summary>
public static class CpuWorkloads
{
    /// <summary>The benchmark names, one per workload.</summary>
    public static readonly string[] Names = [nameof(TightLoop), nameof(PagedMemcpy), nameof(Mixed), nameof(MemoryOperands), nameof(LargeCode)];

    /// <summary>Builds the workload named <paramref name="name"/>.</summary>
    public static CpuWorkload Create(string name) => name switch
    {
        nameof(TightLoop) => TightLoop(),
        nameof(PagedMemcpy) => PagedMemcpy(),
        nameof(Mixed) => Mixed(),
        nameof(MemoryOperands) => MemoryOperands(),
        nameof(LargeCode) => LargeCode(),
        _ => throw new ArgumentException($"no CPU workload named {name}", nameof(name)),
    };

    /// <summary>Register-only integer loop: ADD, XOR, SUB, LEA, SHR, DEC, JNZ (7 instructions an iteration).</summary>
    public static CpuWorkload TightLoop()
    {
        const uint Iterations = 5_000_000;
        var m = new GuestMachine(a =>
        {
            var top = a.CreateLabel();
            a.xor(eax, eax); a.xor(ebx, ebx); a.xor(edx, edx); a.xor(esi, esi);
            a.mov(ecx, Iterations);
            a.Label(ref top);
            a.add(eax, ecx);
            a.xor(edx, eax);
            a.sub(ebx, edx);
            a.lea(esi, __dword_ptr[esi + ebx * 2]);
            a.shr(eax, 1);
            a.dec(ecx);
            a.jnz(top);
            a.xor(eax, ebx); a.xor(eax, edx); a.xor(eax, esi);
            ReportEax(a);
        });
        uint ea = 0, eb = 0, ed = 0, es = 0;
        for (uint c = Iterations; c != 0; c--)
        {
            ea += c; ed ^= ea; eb -= ed; es += eb * 2; ea >>= 1;
        }
        return new CpuWorkload(nameof(TightLoop), m, ea ^ eb ^ ed ^ es);
    }

    /// <summary>Memory operands as kernel code uses them (counters, flag bytes, compares against fields) with paging
    /// on: ADD m32 r32/imm, TEST and XOR m8 imm8, INC m32, CMP m32 r32, ADC, DEC, Jcc.</summary>
    public static CpuWorkload MemoryOperands()
    {
        const uint Iterations = 2_000_000, Data = 0x300000;
        var m = new GuestMachine(a =>
        {
            var top = a.CreateLabel();
            var even = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ebx, Data);
            a.mov(ecx, Iterations);
            a.Label(ref top);
            a.add(__dword_ptr[ebx], ecx);
            a.add(__dword_ptr[ebx + 4], 3);
            a.test(__byte_ptr[ebx + 8], 1);
            a.jz(even);
            a.inc(__dword_ptr[ebx + 12]);
            a.Label(ref even);
            a.xor(__byte_ptr[ebx + 8], 1);
            a.cmp(__dword_ptr[ebx + 4], ecx);
            a.adc(eax, 0);
            a.dec(ecx);
            a.jnz(top);
            a.xor(eax, __dword_ptr[ebx]);
            a.xor(eax, __dword_ptr[ebx + 4]);
            a.xor(eax, __dword_ptr[ebx + 12]);
            ReportEax(a);
        });
        uint sum = 0, counter = 0, flag = 0, odd = 0, carries = 0;
        for (uint c = Iterations; c != 0; c--)
        {
            sum += c;
            counter += 3;
            if ((flag & 1) != 0) odd++;
            flag ^= 1;
            if (counter < c) carries++;
        }
        return new CpuWorkload(nameof(MemoryOperands), m, carries ^ sum ^ counter ^ odd);
    }

    /// <summary>Kernel-sized code: 3000 small functions (160 KiB of code, 39 k instructions) that each update their own
    /// record through memory operands, called in a shuffled order round after round, so the decoded instructions do not
    /// fit in the host's caches as they do in the other workloads.</summary>
    public static CpuWorkload LargeCode()
    {
        const int Functions = 3000;
        const uint Rounds = 400, Data = 0x300000;
        var rnd = new Random(11);
        uint[] imm = new uint[Functions];
        for (int k = 0; k < Functions; k++) imm[k] = (uint)rnd.Next();
        int[] order = Enumerable.Range(0, Functions).ToArray();
        rnd.Shuffle(order);
        var m = new GuestMachine(a =>
        {
            var round = a.CreateLabel();
            var end = a.CreateLabel();
            var functions = new Iced.Intel.Label[Functions];
            for (int k = 0; k < Functions; k++) functions[k] = a.CreateLabel();
            a.xor(edx, edx);
            a.mov(ebx, Data);
            a.mov(ebp, Rounds);
            a.Label(ref round);
            a.mov(ecx, ebp);
            foreach (int k in order) a.call(functions[k]);
            a.dec(ebp);
            a.jnz(round);
            a.mov(eax, edx);
            a.jmp(end);
            for (int k = 0; k < Functions; k++)
            {
                // record k: +0 sum, +4 mix, +8 flag byte, +12 odd-round counter
                int r = k * 16;
                var even = a.CreateLabel();
                a.Label(ref functions[k]);
                a.mov(eax, __dword_ptr[ebx + r]);
                a.add(eax, imm[k]);
                a.lea(esi, __dword_ptr[eax + ecx * 2]);
                a.xor(esi, edx);
                a.mov(__dword_ptr[ebx + r + 4], esi);
                a.add(__dword_ptr[ebx + r], ecx);
                a.test(__byte_ptr[ebx + r + 8], 1);
                a.jz(even);
                a.inc(__dword_ptr[ebx + r + 12]);
                a.Label(ref even);
                a.xor(__byte_ptr[ebx + r + 8], 1);
                a.add(edx, esi);
                a.ret();
            }
            a.Label(ref end);
            ReportEax(a);
        });
        var sum = new uint[Functions];
        var flag = new uint[Functions];
        uint acc = 0;
        for (uint c = Rounds; c != 0; c--)
            foreach (int k in order)
            {
                uint mix = ((sum[k] + imm[k]) + c * 2) ^ acc;
                sum[k] += c;
                flag[k] ^= 1;
                acc += mix;
            }
        bool Check(GuestMachine g)
        {
            for (int k = 0; k < Functions; k++)
                if (BitConverter.ToUInt32(g.Ram, (int)Data + k * 16) != sum[k] || g.Ram[(int)Data + k * 16 + 8] != flag[k]
                    || BitConverter.ToUInt32(g.Ram, (int)Data + k * 16 + 12) != Rounds / 2)
                    return false;
            return true;
        }
        return new CpuWorkload(nameof(LargeCode), m, acc, Check);
    }

    /// <summary>Copies 2 MiB three times through 4 KiB pages, twice over: REP MOVSD into a region whose pages are mapped
    /// in reverse physical order, then a dword MOV loop and a byte MOV loop between identity-mapped regions.</summary>
    public static CpuWorkload PagedMemcpy()
    {
        const uint Size = 2 << 20, Src = 0x400000, Dst = 0x800000, Dst2 = 0xC00000, Dst3 = 0xE00000, Rounds = 2;
        var m = new GuestMachine(a =>
        {
            var round = a.CreateLabel();
            var dwords = a.CreateLabel();
            var bytes = a.CreateLabel();
            a.mov(ebp, Rounds);
            a.Label(ref round);
            a.cld();
            a.mov(esi, Src); a.mov(edi, Dst); a.mov(ecx, Size / 4);
            a.rep.movsd();
            a.mov(esi, Dst); a.mov(edi, Dst2); a.mov(ecx, Size / 4);
            a.Label(ref dwords);
            a.mov(eax, __dword_ptr[esi]);
            a.mov(__dword_ptr[edi], eax);
            a.add(esi, 4);
            a.add(edi, 4);
            a.dec(ecx);
            a.jnz(dwords);
            a.mov(esi, Dst2); a.mov(edi, Dst3); a.mov(ecx, Size);
            a.Label(ref bytes);
            a.mov(al, __byte_ptr[esi]);
            a.mov(__byte_ptr[edi], al);
            a.inc(esi);
            a.inc(edi);
            a.dec(ecx);
            a.jnz(bytes);
            a.dec(ebp);
            a.jnz(round);
            a.mov(eax, __dword_ptr[Dst3 + Size - 4]);
            ReportEax(a);
        });
        const int Pages = (int)(Size >> 12);
        for (uint p = 0; p < Pages; p++)
            m.Map(Dst + (p << 12), Dst + ((Pages - 1 - p) << 12));
        new Random(7).NextBytes(m.Ram.AsSpan((int)Src, (int)Size));
        uint last = BitConverter.ToUInt32(m.Ram, (int)(Src + Size - 4));
        bool Check(GuestMachine g)
        {
            var src = g.Ram.AsSpan((int)Src, (int)Size);
            for (int p = 0; p < Pages; p++)
                if (!src.Slice(p << 12, 4096).SequenceEqual(g.Ram.AsSpan((int)Dst + ((Pages - 1 - p) << 12), 4096)))
                    return false;
            return src.SequenceEqual(g.Ram.AsSpan((int)Dst2, (int)Size)) && src.SequenceEqual(g.Ram.AsSpan((int)Dst3, (int)Size));
        }
        return new CpuWorkload(nameof(PagedMemcpy), m, last, Check);
    }

    /// <summary>Builds a CRC-32 table in the guest, then repeatedly LZ-decompresses 192 KiB of text and CRC-32s it
    /// in 4 KiB calls: byte loads and stores, table lookups, data-dependent branches, calls and returns.</summary>
    public static CpuWorkload Mixed()
    {
        const uint Table = 0x100000, Input = 0x110000, Output = 0x200000, Rounds = 12;
        byte[] text = Text(192 << 10);
        byte[] packed = GuestLz.Compress(text);
        uint inputEnd = Input + (uint)packed.Length;
        var m = new GuestMachine(a =>
        {
            var inflate = a.CreateLabel();
            var crc32 = a.CreateLabel();
            var crcUpdate = a.CreateLabel();
            var table = a.CreateLabel();
            var bit = a.CreateLabel();
            var noXor = a.CreateLabel();
            var round = a.CreateLabel();
            var skip = a.CreateLabel();

            a.xor(ecx, ecx);
            a.Label(ref table);
            a.mov(eax, ecx);
            a.mov(edx, 8);
            a.Label(ref bit);
            a.shr(eax, 1);
            a.jnc(noXor);
            a.xor(eax, 0xEDB88320);
            a.Label(ref noXor);
            a.dec(edx);
            a.jnz(bit);
            a.mov(__dword_ptr[ecx * 4 + Table], eax);
            a.inc(ecx);
            a.cmp(ecx, 256);
            a.jne(table);

            a.push(Rounds);
            a.Label(ref round);
            a.mov(esi, Input); a.mov(edi, Output);
            a.call(inflate);
            a.mov(esi, Output); a.mov(ecx, (uint)text.Length);
            a.call(crc32);
            a.dec(__dword_ptr[esp]);
            a.jnz(round);
            a.pop(ecx);
            ReportEax(a);
            a.jmp(skip);

            // inflate: ESI compressed input, EDI output.
            var token = a.CreateLabel();
            var literal = a.CreateLabel();
            var match = a.CreateLabel();
            var matchCopy = a.CreateLabel();
            var done = a.CreateLabel();
            a.Label(ref inflate);
            a.mov(ebp, inputEnd);
            a.Label(ref token);
            a.cmp(esi, ebp);
            a.jae(done);
            a.movzx(eax, __byte_ptr[esi]);
            a.inc(esi);
            a.test(al, 0x80);
            a.jnz(match);
            a.lea(ecx, __dword_ptr[eax + 1]);
            a.Label(ref literal);
            a.mov(al, __byte_ptr[esi]);
            a.mov(__byte_ptr[edi], al);
            a.inc(esi);
            a.inc(edi);
            a.dec(ecx);
            a.jnz(literal);
            a.jmp(token);
            a.Label(ref match);
            a.and(eax, 0x7F);
            a.lea(ecx, __dword_ptr[eax + 3]);
            a.movzx(edx, __word_ptr[esi]);
            a.add(esi, 2);
            a.mov(ebx, edi);
            a.sub(ebx, edx);
            a.Label(ref matchCopy);
            a.mov(al, __byte_ptr[ebx]);
            a.mov(__byte_ptr[edi], al);
            a.inc(ebx);
            a.inc(edi);
            a.dec(ecx);
            a.jnz(matchCopy);
            a.jmp(token);
            a.Label(ref done);
            a.ret();

            // crc32: ESI buffer, ECX length (> 0) -> EAX, calling crcUpdate on chunks of up to 4 KiB.
            var chunk = a.CreateLabel();
            a.Label(ref crc32);
            a.mov(eax, 0xFFFFFFFF);
            a.Label(ref chunk);
            a.mov(edx, 4096);
            a.cmp(ecx, edx);
            a.cmovb(edx, ecx);
            a.sub(ecx, edx);
            a.call(crcUpdate);
            a.test(ecx, ecx);
            a.jnz(chunk);
            a.not(eax);
            a.ret();

            // crcUpdate: EAX running CRC, ESI data, EDX count (> 0).
            a.Label(ref crcUpdate);
            a.movzx(ebx, __byte_ptr[esi]);
            a.xor(bl, al);
            a.shr(eax, 8);
            a.xor(eax, __dword_ptr[ebx * 4 + Table]);
            a.inc(esi);
            a.dec(edx);
            a.jnz(crcUpdate);
            a.ret();

            a.Label(ref skip);
        });
        m.Load(Input, packed);
        bool Check(GuestMachine g) => g.Ram.AsSpan((int)Output, text.Length).SequenceEqual(text);
        return new CpuWorkload(nameof(Mixed), m, Crc32(text), Check);
    }

    static void ReportEax(Iced.Intel.Assembler a)
    {
        a.mov(dx, GuestMachine.ResultPort);
        a.@out(dx, eax);
    }

    /// <summary>Pseudo-random English-like text: compressible, but not trivially.</summary>
    static byte[] Text(int length)
    {
        string[] words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "emulator", "cluster", "refcount",
            "snapshot", "guest", "kernel", "page", "table", "interrupt", "vector", "segment", "descriptor", "and", "of", "to", "a"];
        var rnd = new Random(42);
        var sb = new StringBuilder(length + 32);
        while (sb.Length < length)
        {
            sb.Append(words[rnd.Next(words.Length)]);
            int r = rnd.Next(20);
            sb.Append(r == 0 ? ".\n" : r == 1 ? ", " : r == 2 ? $" {rnd.Next(1000)} " : " ");
        }
        return Encoding.ASCII.GetBytes(sb.ToString(0, length));
    }

    static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }
}
