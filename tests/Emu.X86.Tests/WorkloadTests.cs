using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

/// <summary>Small real programs whose results are checked against the same computation in C#.</summary>
public class WorkloadTests
{
    [Fact]
    public void Crc32OfFourKilobytes()
    {
        const uint Buf = 0x20000;
        var data = new byte[4096];
        new Random(7).NextBytes(data);
        var m = ProtectedMode.Boot(a =>
        {
            var outer = a.CreateLabel(); var inner = a.CreateLabel(); var noXor = a.CreateLabel();
            a.mov(esi, Buf);
            a.mov(ecx, data.Length);
            a.mov(eax, 0xFFFFFFFF);
            a.Label(ref outer);
            a.movzx(edx, __byte_ptr[esi]);
            a.xor(eax, edx);
            a.mov(ebx, 8);
            a.Label(ref inner);
            a.shr(eax, 1);
            a.jnc(noXor);
            a.xor(eax, 0xEDB88320);
            a.Label(ref noXor);
            a.dec(ebx);
            a.jnz(inner);
            a.inc(esi);
            a.loop(outer);
            a.not(eax);
            a.hlt();
        }, setup: m => data.CopyTo(m.Ram, (int)Buf));
        Assert.True(m.Cpu.Halted);
        Assert.Equal(Crc32(data), m.Cpu.Eax);
    }

    static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    [Fact]
    public void InsertionSortWithSignedCompares()
    {
        const uint Arr = 0x30000;
        const int N = 300;
        var values = new int[N];
        var rng = new Random(99);
        for (int i = 0; i < N; i++) values[i] = rng.Next(int.MinValue, int.MaxValue);
        var m = ProtectedMode.Boot(a =>
        {
            var outer = a.CreateLabel(); var inner = a.CreateLabel(); var place = a.CreateLabel(); var done = a.CreateLabel();
            a.mov(ecx, 1);                                   // i
            a.Label(ref outer);
            a.cmp(ecx, N);
            a.jge(done);
            a.mov(eax, __dword_ptr[ecx * 4 + (int)Arr]);     // key
            a.mov(edx, ecx);                                 // j
            a.Label(ref inner);
            a.test(edx, edx);
            a.jz(place);
            a.mov(ebx, __dword_ptr[edx * 4 + (int)Arr - 4]);
            a.cmp(ebx, eax);
            a.jle(place);
            a.mov(__dword_ptr[edx * 4 + (int)Arr], ebx);
            a.dec(edx);
            a.jmp(inner);
            a.Label(ref place);
            a.mov(__dword_ptr[edx * 4 + (int)Arr], eax);
            a.inc(ecx);
            a.jmp(outer);
            a.Label(ref done);
            a.hlt();
        }, setup: m => { for (int i = 0; i < N; i++) BitConverter.GetBytes(values[i]).CopyTo(m.Ram, Arr + i * 4); });
        Assert.True(m.Cpu.Halted);
        Array.Sort(values);
        Assert.Equal(values, Enumerable.Range(0, N).Select(i => (int)m.Dword(Arr + (uint)i * 4)).ToArray());
    }

    [Fact]
    public void RecursiveFibonacciUsesTheStack()
    {
        var m = ProtectedMode.Boot(a =>
        {
            Fibonacci(a, 20);
            a.hlt();
        });
        Assert.True(m.Cpu.Halted);
        Assert.Equal(6765u, m.Cpu.Eax);
        Assert.Equal(0x9000u, m.Cpu.Esp);
    }

    /// <summary>EAX = fib(<paramref name="n"/>) by a recursive cdecl function (it follows the call).</summary>
    internal static void Fibonacci(Assembler a, int n)
    {
        var fib = a.CreateLabel(); var small = a.CreateLabel(); var done = a.CreateLabel();
        a.push(n);
        a.call(fib);
        a.add(esp, 4);
        a.jmp(done);
        a.Label(ref fib);
        a.push(ebp);
        a.mov(ebp, esp);
        a.push(ebx);
        a.mov(eax, __dword_ptr[ebp + 8]);
        a.cmp(eax, 2);
        a.jl(small);
        a.dec(eax);
        a.push(eax);
        a.call(fib);
        a.mov(ebx, eax);
        a.pop(eax);
        a.dec(eax);
        a.push(eax);
        a.call(fib);
        a.add(esp, 4);
        a.add(eax, ebx);
        a.Label(ref small);
        a.pop(ebx);
        a.leave();
        a.ret();
        a.Label(ref done);
    }
}
