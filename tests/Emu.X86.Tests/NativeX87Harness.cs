using System.Runtime.InteropServices;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

/// <summary>Runs one x87 instruction sequence both on the host's FPU and on the emulated CPU, over the same buffer
/// layout: control word at +32, final status word at +64; the body chooses where its operands and results live.</summary>
internal static unsafe class NativeX87Harness
{
    [DllImport("libc")]
    private static extern IntPtr mmap(IntPtr addr, nuint length, int prot, int flags, int fd, nint offset);

    /// <summary>Executable memory for the host-side code (read, write, execute; private anonymous).</summary>
    public static IntPtr AllocateCode() => mmap(IntPtr.Zero, 1 << 16, 7, 0x22, -1, 0);

    /// <summary>Assembles <paramref name="body"/> as a host function taking the buffer in RDI, writes it to
    /// <paramref name="code"/>, and loads the same body as real-mode guest code on <paramref name="machine"/> working on
    /// the buffer at <paramref name="guestBuffer"/> and ending with a write to port 0xF4.</summary>
    public static delegate* unmanaged<byte*, void> Prepare(TestMachine machine, IntPtr code, uint guestBuffer,
        Action<Assembler, Func<int, AssemblerMemoryOperand>> body)
    {
        byte[] native = TestMachine.Assemble(64, (ulong)code, a =>
        {
            a.fninit();
            a.fldcw(__word_ptr[rdi + 32]);
            body(a, off => __[rdi + off]);
            a.fnstsw(__word_ptr[rdi + 64]);
            a.ret();
        });
        Marshal.Copy(native, 0, code, native.Length);
        machine.Load(TestMachine.CodeBase, TestMachine.Assemble(16, TestMachine.CodeBase, a =>
        {
            a.xor(ax, ax); a.mov(ds, ax);
            a.fninit();
            a.fldcw(__word_ptr[guestBuffer + 32]);
            body(a, off => __[(long)(guestBuffer + off)]);
            a.fnstsw(__word_ptr[guestBuffer + 64]);
            a.mov(al, 1);
            a.@out(0xF4, al);
        }));
        return (delegate* unmanaged<byte*, void>)code;
    }
}
