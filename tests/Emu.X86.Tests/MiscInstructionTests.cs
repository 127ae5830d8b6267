using System.Text;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.X86.Tests;

public class MiscInstructionTests
{
    [Fact]
    public void CpuidReportsGenuineIntelPentiumPro()
    {
        var cpu = Exec.Run(a => { a.xor(eax, eax); a.cpuid(); a.mov(esi, eax); a.mov(eax, 1); a.mov(edi, ebx); a.cpuid(); });
        Assert.Equal(2u, cpu.Esi);
        var vendor = new byte[12];
        BitConverter.GetBytes(cpu.Edi).CopyTo(vendor, 0);
        var cpu0 = Exec.Run(a => { a.xor(eax, eax); a.cpuid(); });
        BitConverter.GetBytes(cpu0.Ebx).CopyTo(vendor, 0);
        BitConverter.GetBytes(cpu0.Edx).CopyTo(vendor, 4);
        BitConverter.GetBytes(cpu0.Ecx).CopyTo(vendor, 8);
        Assert.Equal("GenuineIntel", Encoding.ASCII.GetString(vendor));
        Assert.Equal(6u, (cpu.Eax >> 8) & 0xF);
        uint features = cpu.Edx;
        Assert.True((features & (1 << 15)) != 0, "CMOV");
        Assert.True((features & (1 << 8)) != 0, "CX8");
        Assert.True((features & (1 << 4)) != 0, "TSC");
        Assert.True((features & (1 << 23)) == 0, "no MMX");
    }

    [Fact]
    public void WordAndByteMovesThroughMemoryKeepTheRestOfTheRegister()
    {
        var m = new TestMachine().RunReal(a =>
        {
            a.mov(eax, 0x11223344);
            a.mov(__word_ptr[0x600], ax);
            a.mov(__byte_ptr[0x602], ah);
            a.mov(__byte_ptr[0x603], al);
            a.mov(ebx, 0xAAAAAAAA);
            a.mov(bx, __word_ptr[0x600]);
            a.mov(ecx, 0xBBBBBBBB);
            a.mov(ch, __byte_ptr[0x602]);
            a.mov(cl, __byte_ptr[0x603]);
            a.mov(edx, 0xCCCCCCCC);
            a.movzx(edx, __word_ptr[0x602]);
            a.hlt();
        });
        Assert.Equal(new byte[] { 0x44, 0x33, 0x33, 0x44 }, m.Ram[0x600..0x604]);
        Assert.Equal(0xAAAA3344u, m.Cpu.Ebx);
        Assert.Equal(0xBBBB3344u, m.Cpu.Ecx);
        Assert.Equal(0x00004433u, m.Cpu.Edx);
    }

    [Fact]
    public void BitScanAndTest()
    {
        var cpu = Exec.Run(a => { a.mov(eax, 0x00801000); a.bsf(ebx, eax); a.bsr(ecx, eax); });
        Assert.Equal((12u, 23u), (cpu.Ebx, cpu.Ecx));
        cpu = Exec.Run(a => { a.mov(ebx, 77); a.xor(eax, eax); a.bsf(ebx, eax); });
        Assert.Equal(77u, cpu.Ebx);
        Assert.Equal(Flags.ZF, cpu.Eflags & Flags.ZF);
        cpu = Exec.Run(a => { a.mov(eax, 0x10); a.bts(eax, 0); a.btr(eax, 4); a.btc(eax, 31); a.bt(eax, 31); });
        Assert.Equal(0x80000001u, cpu.Eax);
        Assert.Equal(Flags.CF, cpu.Eflags & Flags.CF);
    }

    [Fact]
    public void BitTestWithRegisterOffsetReachesBeyondOperand()
    {
        var m = new TestMachine().RunReal(a =>
        {
            a.xor(ax, ax); a.mov(ds, ax);
            a.mov(bx, 0x1000);
            a.mov(eax, 35);                       // bit 3 of the dword at 0x1004
            a.bts(__dword_ptr[bx], eax);
            a.mov(eax, -1);                       // bit 31 of the dword at 0x0FFC
            a.bts(__dword_ptr[bx], eax);
            a.hlt();
        });
        Assert.Equal(8u, m.Dword(0x1004));
        Assert.Equal(0x80000000u, m.Dword(0x0FFC));
    }

    [Fact]
    public void CompareExchangeFamily()
    {
        var cpu = Exec.Run(a => { a.mov(eax, 5); a.mov(ebx, 5); a.mov(ecx, 9); a.cmpxchg(ebx, ecx); });
        Assert.Equal((9u, 5u), (cpu.Ebx, cpu.Eax));
        Assert.Equal(Flags.ZF, cpu.Eflags & Flags.ZF);
        cpu = Exec.Run(a => { a.mov(eax, 5); a.mov(ebx, 6); a.mov(ecx, 9); a.cmpxchg(ebx, ecx); });
        Assert.Equal((6u, 6u), (cpu.Ebx, cpu.Eax));
        Assert.Equal(0u, cpu.Eflags & Flags.ZF);
        cpu = Exec.Run(a => { a.mov(eax, 10); a.mov(ebx, 3); a.xadd(eax, ebx); });
        Assert.Equal((13u, 10u), (cpu.Eax, cpu.Ebx));

        var m = new TestMachine();
        BitConverter.GetBytes(0x1122334455667788UL).CopyTo(m.Ram, 0x1000);
        m.RunReal(a =>
        {
            a.xor(ax, ax); a.mov(ds, ax); a.mov(si, 0x1000);
            a.mov(edx, 0x11223344); a.mov(eax, 0x55667788);
            a.mov(ecx, 0xAABBCCDD); a.mov(ebx, 0xEEFF0011);
            a.cmpxchg8b(__qword_ptr[si]);
            a.hlt();
        });
        Assert.Equal(0xAABBCCDDEEFF0011UL, BitConverter.ToUInt64(m.Ram, 0x1000));
        Assert.Equal(Flags.ZF, m.Cpu.Eflags & Flags.ZF);
    }

    [Fact]
    public void ConditionalMovesAndSets()
    {
        var cpu = Exec.Run(a =>
        {
            a.mov(eax, 1); a.mov(ebx, 2); a.mov(ecx, 100); a.mov(edx, 200);
            a.cmp(eax, ebx);
            a.cmovl(ecx, edx);    // taken
            a.cmovg(edx, eax);    // not taken
            a.setb(al);
            a.setg(bl);
        });
        Assert.Equal((200u, 200u), (cpu.Ecx, cpu.Edx));
        Assert.Equal((1u, 0u), (cpu.Eax & 0xFF, cpu.Ebx & 0xFF));
    }

    [Fact]
    public void StackFrameInstructions()
    {
        var cpu = Exec.Run(a =>
        {
            a.mov(bp, 0x1234);
            a.enter(8, 0);
            a.mov(si, sp);
            a.mov(di, bp);
            a.leave();
            a.mov(cx, bp);
        });
        Assert.Equal(0x7000u - 2 - 8, cpu.Esi & 0xFFFF);
        Assert.Equal(0x7000u - 2, cpu.Edi & 0xFFFF);
        Assert.Equal(0x1234u, cpu.Ecx & 0xFFFF);
        Assert.Equal(0x7000u, cpu.Esp & 0xFFFF);

        cpu = Exec.Run(a =>
        {
            a.mov(eax, 1); a.mov(ecx, 2); a.mov(edx, 3); a.mov(ebx, 4); a.mov(ebp, 6); a.mov(esi, 7); a.mov(edi, 8);
            a.pushad();
            a.xor(eax, eax); a.xor(ecx, ecx); a.xor(ebp, ebp); a.xor(edi, edi);
            a.popad();
        });
        Assert.Equal((1u, 2u, 6u, 8u), (cpu.Eax, cpu.Ecx, cpu.Ebp, cpu.Edi));
        Assert.Equal(0x7000u, cpu.Esp & 0xFFFF);
    }

    [Fact]
    public void FlagTransfers()
    {
        var cpu = Exec.Run(a => { a.mov(ah, 0xD5); a.sahf(); a.mov(ah, 0); a.lahf(); });
        Assert.Equal(0xD7u, (cpu.Eax >> 8) & 0xFF);
        Assert.Equal("SZAPC", Exec.F(cpu.Eflags));
    }

    [Fact]
    public void ExtendsAndConverts()
    {
        var cpu = Exec.Run(a => { a.mov(bl, 0x80); a.movsx(eax, bl); a.movzx(ecx, bl); a.mov(dx, 0x8000); a.movsx(esi, dx); });
        Assert.Equal((0xFFFFFF80u, 0x80u, 0xFFFF8000u), (cpu.Eax, cpu.Ecx, cpu.Esi));
        cpu = Exec.Run(a => { a.mov(eax, 0xFFFF8000); a.cwd(); a.mov(ebx, edx); a.cdq(); a.mov(ecx, 0x12345678); a.bswap(ecx); });
        Assert.Equal(0xFFFFu, cpu.Ebx & 0xFFFF);
        Assert.Equal(0xFFFFFFFFu, cpu.Edx);
        Assert.Equal(0x78563412u, cpu.Ecx);
    }

    [Fact]
    public void XlatAndFarPointerLoads()
    {
        var m = new TestMachine();
        for (int i = 0; i < 16; i++) m.Ram[0x1000 + i] = (byte)(i * 3);
        BitConverter.GetBytes(0x5678u).CopyTo(m.Ram, 0x2000);
        BitConverter.GetBytes((ushort)0x1234).CopyTo(m.Ram, 0x2002);
        m.RunReal(a =>
        {
            a.xor(ax, ax); a.mov(ds, ax);
            a.mov(bx, 0x1000); a.mov(al, 5); a.xlatb();
            a.les(di, __dword_ptr[0x2000]);
            a.hlt();
        });
        Assert.Equal(15u, m.Cpu.Eax & 0xFF);
        Assert.Equal(0x5678u, m.Cpu.Edi & 0xFFFF);
        Assert.Equal(0x1234, m.Cpu.GetSegment(SegReg.ES).Selector);
        Assert.Equal(0x12340u, m.Cpu.GetSegment(SegReg.ES).Base);
    }

    [Fact]
    public void RealModeFarCallAndReturn()
    {
        var m = new TestMachine();
        m.Load(0x10010, TestMachine.Assemble(16, 0x10, a => { a.mov(cx, cs); a.retf(); }));
        m.RunReal(a =>
        {
            a.db(0x9A); a.dw(0x0010); a.dw(0x1000);     // call 1000:0010
            a.hlt();
        });
        Assert.Equal(0x1000u, m.Cpu.Ecx & 0xFFFF);
        Assert.Equal(0, m.Cpu.GetSegment(SegReg.CS).Selector);
        Assert.Equal(0x7000u, m.Cpu.Esp & 0xFFFF);
    }

    [Fact]
    public void TimeStampCounterComesFromTheMachineClock()
    {
        var m = new TestMachine();
        m.Cpu.TimeStampSource = () => 0x1_0000_0005UL;
        m.RunReal(a => { a.rdtsc(); a.hlt(); });
        Assert.Equal((5u, 1u), (m.Cpu.Eax, m.Cpu.Edx));
    }
}

public class TimeStampTests
{
    [Fact]
    public void DefaultTimeStampAdvancesWithinOneRun()
    {
        var m = new TestMachine().RunReal(a =>
        {
            a.rdtsc(); a.mov(ebx, eax);
            a.nop(); a.nop(); a.nop();
            a.rdtsc();
            a.sub(eax, ebx);
            a.hlt();
        });
        Assert.Equal(5u, m.Cpu.Eax);   // the first RDTSC, the MOV and three NOPs retired in between
    }
}

public class AddressingTests
{
    [Fact]
    public void SixteenBitAddressingWrapsAndDefaultsToStackSegmentForBp()
    {
        var m = new TestMachine();
        m.Ram[0x20001] = 0x11;           // SS=0x2000: [bp+2] with BP=0xFFFF wraps to offset 1
        m.Ram[0x30001] = 0x22;           // DS=0x3000: [bx+2] with BX=0xFFFF wraps to offset 1
        m.Ram[0x30000 + 0x1234 + 0x10] = 0x33;
        m.RunReal(a =>
        {
            a.mov(ax, 0x2000); a.mov(ss, ax);
            a.mov(ax, 0x3000); a.mov(ds, ax);
            a.mov(bp, 0xFFFF); a.mov(bx, 0xFFFF);
            a.mov(cl, __byte_ptr[bp + 2]);
            a.mov(ch, __byte_ptr[bx + 2]);
            a.mov(si, 0x1234); a.mov(di, 0x10);
            a.xor(bx, bx);
            a.lea(dx, __word_ptr[bx + si + 0x10]);
            a.mov(bl, __byte_ptr[bx + si + 0x10]);
            a.hlt();
        });
        Assert.True(m.Cpu.Halted);
        Assert.Equal(0x2211u, m.Cpu.Ecx & 0xFFFF);
        Assert.Equal(0x1244u, m.Cpu.Edx & 0xFFFF);
        Assert.Equal(0x33u, m.Cpu.Ebx & 0xFF);
    }

    [Fact]
    public void SixteenBitAddressingIgnoresTheRegistersUpperHalves()
    {
        var m = new TestMachine();
        BitConverter.GetBytes(0x5EEDF00Du).CopyTo(m.Ram, 0x30000 + 2);
        m.RunReal(a =>
        {
            a.mov(ax, 0x3000); a.mov(ds, ax);
            a.mov(ebx, 0xABCD0010);
            a.mov(esi, 0x1234FFF0);
            a.mov(eax, __dword_ptr[bx + si + 2]);   // (0x0010 + 0xFFF0 + 2) mod 64 KiB = 2
            a.hlt();
        });
        Assert.True(m.Cpu.Halted);
        Assert.Equal(0x5EEDF00Du, m.Cpu.Eax);
    }

    [Fact]
    public void ScaledIndexAndSegmentOverride()
    {
        var m = new TestMachine();
        BitConverter.GetBytes(0xA1B2C3D4u).CopyTo(m.Ram, 0x40000 + 0x100 + 3 * 4 + 8);
        m.RunReal(a =>
        {
            a.mov(ax, 0x4000); a.mov(fs, ax);
            a.mov(ebx, 0x100); a.mov(ecx, 3);
            a.mov(eax, __dword_ptr.fs[ebx + ecx * 4 + 8]);
            a.hlt();
        });
        Assert.Equal(0xA1B2C3D4u, m.Cpu.Eax);
    }
}
