using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

/// <summary>Builds a flat 32-bit protected-mode environment: GDT, IDT with recording exception stubs, TSS.</summary>
static class ProtectedMode
{
    public const uint Gdt = 0x1000, Idt = 0x2000, Tss = 0x3000, Stubs = 0xA000, Body = 0x8000;
    public const ushort Code32 = 0x08, Data32 = 0x10, Code16 = 0x18, UserCode = 0x23, UserData = 0x2B, TssSel = 0x30;
    /// <summary>Exception stubs record: [0x600] vector, [0x604] error code, [0x608] saved EIP, [0x60C] CR2.</summary>
    public const uint VectorSlot = 0x600, ErrorSlot = 0x604, EipSlot = 0x608, Cr2Slot = 0x60C;

    public static ulong Seg(uint bas, uint limit, byte access, byte flags) =>
        (limit & 0xFFFF) | ((ulong)(bas & 0xFFFFFF) << 16) | ((ulong)access << 40)
        | ((ulong)((limit >> 16) & 0xF) << 48) | ((ulong)flags << 52) | ((ulong)(bas >> 24) << 56);

    public static ulong Gate(ushort sel, uint offset, byte type) =>
        (offset & 0xFFFF) | ((ulong)sel << 16) | ((ulong)type << 40) | ((ulong)(offset >> 16) << 48);

    public static void SetGdt(TestMachine m, int index, ulong d) => BitConverter.GetBytes(d).CopyTo(m.Ram, Gdt + index * 8);
    public static void SetIdt(TestMachine m, int vector, ulong d) => BitConverter.GetBytes(d).CopyTo(m.Ram, Idt + vector * 8);

    /// <summary>Installs a #PF handler at 0xB000 that sets the present bit of the faulting page's entry in
    /// <paramref name="pageTable"/> (the first 4 MiB), counts the fault in the dword at <paramref name="counter"/>
    /// and returns to retry the access.</summary>
    public static void InstallPageMapper(TestMachine m, uint pageTable, uint counter)
    {
        m.Load(0xB000, TestMachine.Assemble(32, 0xB000, a =>
        {
            a.push(eax);
            a.mov(eax, cr2);
            a.shr(eax, 12);
            a.or(__dword_ptr[eax * 4 + (int)pageTable], 1);
            a.inc(__dword_ptr[counter]);
            a.pop(eax);
            a.add(esp, 4);
            a.iretd();
        }));
        SetIdt(m, 14, Gate(Code32, 0xB000, 0x8E));
    }

    /// <summary>Boots to 32-bit ring 0 with DS=ES=SS=0x10, ESP=0x9000, then runs <paramref name="body"/> at 0x8000.</summary>
    public static TestMachine Boot(Action<Assembler> body, Action<TestMachine>? setup = null, int ram = 1 << 20, int budget = 1_000_000)
    {
        var m = new TestMachine(ram);
        SetGdt(m, 1, Seg(0, 0xFFFFF, 0x9A, 0xC));
        SetGdt(m, 2, Seg(0, 0xFFFFF, 0x92, 0xC));
        SetGdt(m, 3, Seg(0, 0xFFFF, 0x9A, 0x0));
        SetGdt(m, 4, Seg(0, 0xFFFFF, 0xFA, 0xC));
        SetGdt(m, 5, Seg(0, 0xFFFFF, 0xF2, 0xC));
        SetGdt(m, 6, Seg(Tss, 0x67, 0x89, 0x0));
        BitConverter.GetBytes(0x9000u).CopyTo(m.Ram, Tss + 4);       // ESP0
        BitConverter.GetBytes((uint)Data32).CopyTo(m.Ram, Tss + 8);  // SS0
        BitConverter.GetBytes((ushort)0x68).CopyTo(m.Ram, Tss + 0x66); // no I/O bitmap
        for (int v = 0; v < 32; v++)
        {
            uint stub = Stubs + (uint)v * 0x40;
            bool hasError = v is 8 or 10 or 11 or 12 or 13 or 14 or 17;
            m.Load(stub, TestMachine.Assemble(32, stub, a =>
            {
                // SS-relative so a test that breaks DS still gets its report.
                a.mov(__dword_ptr.ss[VectorSlot], v);
                if (hasError) a.pop(__dword_ptr.ss[ErrorSlot]);
                a.pop(__dword_ptr.ss[EipSlot]);
                a.mov(eax, cr2);
                a.mov(__dword_ptr.ss[Cr2Slot], eax);
                a.mov(al, (byte)(0x80 | v));
                a.@out(0xF4, al);
            }));
            SetIdt(m, v, Gate(Code32, stub, 0x8E));
        }
        // GDTR at 0x7E00, IDTR at 0x7E08.
        BitConverter.GetBytes((ushort)0xFF).CopyTo(m.Ram, 0x7E00);
        BitConverter.GetBytes(Gdt).CopyTo(m.Ram, 0x7E02);
        BitConverter.GetBytes((ushort)0x7FF).CopyTo(m.Ram, 0x7E08);
        BitConverter.GetBytes(Idt).CopyTo(m.Ram, 0x7E0A);
        m.Load(Body, TestMachine.Assemble(32, Body, a =>
        {
            a.mov(ax, Data32);
            a.mov(ds, ax); a.mov(es, ax); a.mov(ss, ax); a.mov(fs, ax); a.mov(gs, ax);
            a.mov(esp, 0x9000);
            a.mov(ax, TssSel);
            a.ltr(ax);
            body(a);
        }));
        setup?.Invoke(m);
        m.RunReal(a =>
        {
            a.cli();
            a.lgdt(__fword_ptr[0x7E00]);
            a.lidt(__fword_ptr[0x7E08]);
            a.mov(eax, cr0);
            a.or(eax, 1);
            a.mov(cr0, eax);
            a.db(0x66, 0xEA);                        // jmp dword 0x08:Body
            a.dd(Body);
            a.dw(Code32);
        }, budget);
        return m;
    }

    public static uint VectorOf(TestMachine m) => m.Dword(VectorSlot);
}
