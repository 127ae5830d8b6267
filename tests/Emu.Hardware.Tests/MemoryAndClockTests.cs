using Emu.Hardware;

namespace Emu.Hardware.Tests;

public class MemoryAndClockTests
{
    [Fact]
    public void RamReadWriteAllSizesAndPageCrossing()
    {
        var memory = new PhysicalMemory(2 << 20);
        memory.Write64(0x1FFC, 0x1122_3344_5566_7788);
        Assert.Equal(0x1122_3344_5566_7788UL, memory.Read64(0x1FFC));
        Assert.Equal(0x5566_7788u, memory.Read32(0x1FFC));
        Assert.Equal(0x1122, memory.Read16(0x2002));
        Assert.Equal(0x11, memory.Read8(0x2003));
    }

    [Fact]
    public void LegacyHoleAndBeyondRamReadAllOnes()
    {
        var memory = new PhysicalMemory(2 << 20);
        memory.Write8(0xA_0000, 1);
        Assert.Equal(0xFF, memory.Read8(0xA_0000));
        Assert.Equal(0xFFFF_FFFFu, memory.Read32(0x30_0000));
        Assert.Equal(0xFF00, memory.Read16(0x1F_FFFF)); // last RAM byte (0), then nothing
    }

    [Fact]
    public void RomIsReadOnlyAndTopOfMemoryAliasWorks()
    {
        var memory = new PhysicalMemory(2 << 20);
        var bios = new byte[0x2_0000];
        bios[^16] = 0xEA; // reset vector
        memory.AddRom(0xFFFE_0000, bios);
        memory.AddRom(0xE_0000, bios);
        Assert.Equal(0xEA, memory.Read8(0xFFFF_FFF0));
        Assert.Equal(0xEA, memory.Read8(0xF_FFF0));
        memory.Write8(0xFFFF_FFF0, 0);
        Assert.Equal(0xEA, memory.Read8(0xFFFF_FFF0));
    }

    [Fact]
    public void MmioRegionsReceiveOffsetsAndCanBeRemoved()
    {
        var memory = new PhysicalMemory(2 << 20);
        var device = new FakeMmio();
        memory.AddMmio(0xFEB0_0000, 0x1000, device);
        memory.Write32(0xFEB0_0010, 0xCAFE);
        Assert.Equal((0x10u, 4, 0xCAFEUL), device.LastWrite);
        Assert.Equal(0x10UL, memory.Read32(0xFEB0_0010));
        memory.RemoveMmio(device);
        Assert.Equal(0xFFFF_FFFFu, memory.Read32(0xFEB0_0010));
    }

    [Fact]
    public void HighRamLivesAbove4G()
    {
        var memory = new PhysicalMemory(4 << 20);
        Assert.Equal(0, memory.HighRamSize);
        Assert.Equal(-1, memory.RamOffset(0x1_0000_0000, write: false));
        Assert.Equal(0xFF, memory.Read8(0x1_0000_0000));
    }

    [Fact]
    public void DmaIsBoundsChecked()
    {
        var memory = new PhysicalMemory(2 << 20);
        var written = new List<(ulong, int)>();
        memory.RamWrittenByDevice += (a, n) => written.Add((a, n));
        Assert.True(memory.DmaWrite(0x1000, [1, 2, 3]));
        Assert.Equal([(0x1000UL, 3)], written);
        Assert.False(memory.DmaWrite(0x1F_FFFF, [1, 2]));     // crosses the end of RAM
        Assert.False(memory.DmaWrite(0x9_FFFF, [1, 2]));      // crosses into the legacy hole
        Assert.False(memory.DmaWrite(ulong.MaxValue, [1]));   // wraps
        Assert.Equal(0, memory.Ram[0x1F_FFFF]);
        var buffer = new byte[4];
        Assert.False(memory.DmaRead(0x1F_FFFE, buffer));
        Assert.Equal(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }, buffer);
        Assert.True(memory.TryGetRam(0x1000, 3, write: false, out var ram));
        Assert.Equal(new byte[] { 1, 2, 3 }, ram.ToArray());
    }

    [Fact]
    public void DmaFollowsShadowRamAndSkipsRom()
    {
        var memory = new PhysicalMemory(2 << 20);
        memory.AddRom(0xE_0000, new byte[0x2_0000]);
        Assert.False(memory.DmaWrite(0xC_0000, [1]));   // PAM off: nothing there
        memory.SetShadow(0xC_0000, 0x4000, readRam: true, writeRam: true);
        Assert.True(memory.DmaWrite(0xC_0000, [1]));    // option ROM area shadowed read/write
        Assert.Equal(1, memory.Read8(0xC_0000));
        memory.SetShadow(0xF_0000, 0x1_0000, readRam: false, writeRam: true);
        Assert.True(memory.DmaWrite(0xF_0000, [2]));
        Assert.False(memory.DmaRead(0xF_0000, new byte[1])); // reads still go to ROM
        Assert.False(memory.TryGetRam(0xE_0000, 16, write: true, out _));
    }

    [Fact]
    public void A20MaskWrapsAndRaisesMapChanged()
    {
        var memory = new PhysicalMemory(4 << 20);
        var changes = new List<(uint, uint)>();
        memory.MapChanged += (first, pages) => changes.Add((first, pages));
        memory.A20Enabled = false;
        Assert.Equal([(0u, 0u)], changes);   // no page changes target: only the CPU's address mask does
        Assert.Equal(~0x10_0000UL, memory.A20Mask);
        memory.Write8(0x10_0005, 9);
        Assert.Equal(9, memory.Ram[5]);
    }

    [Fact]
    public void MapChangedOnlyWhenTheMapChanges()
    {
        var memory = new PhysicalMemory(2 << 20);
        var changes = new List<(uint, uint)>();
        memory.MapChanged += (first, pages) => changes.Add((first, pages));
        memory.SetShadow(0xC_0000, 0x4000, readRam: true, writeRam: true);
        memory.SetShadow(0xC_0000, 0x4000, readRam: true, writeRam: true);
        Assert.Equal([(0xC0u, 4u)], changes);
    }

    [Fact]
    public void MapChangedNamesThePagesWhoseTargetsChanged()
    {
        // Moving a BAR (as PCI sizing does) reports its old and new pages, so CPUs keep code decoded elsewhere.
        var memory = new PhysicalMemory(2 << 20);
        var changes = new List<(uint, uint)>();
        memory.MapChanged += (first, pages) => changes.Add((first, pages));
        var handler = new NullMmio();
        memory.AddMmio(0xFEBF_0000, 0x2000, handler);
        memory.RemoveMmio(handler);
        memory.AddMmio(0xFEB0_0000, 0x1000, handler);
        Assert.Equal([(0xFEBF0u, 2u), (0xFEBF0u, 2u), (0xFEB00u, 1u)], changes);
    }

    private sealed class NullMmio : IMmioHandler
    {
        public ulong Read(uint offset, int size) => 0;
        public void Write(uint offset, int size, ulong value) { }
    }

    [Fact]
    public void TimersFireInDeadlineOrderWithNowAtDeadline()
    {
        var clock = new VirtualClock();
        var fired = new List<(string, long)>();
        var b = clock.Schedule(200, () => fired.Add(("b", clock.Now)));
        clock.Schedule(100, () => fired.Add(("a", clock.Now)));
        var c = clock.Schedule(150, () => fired.Add(("c", clock.Now)));
        c.Cancel();
        Assert.Equal(100, clock.NextDeadline);
        clock.AdvanceTo(1000);
        Assert.Equal([("a", 100L), ("b", 200L)], fired);
        Assert.Equal(1000, clock.Now);
        Assert.False(b.IsArmed);
        Assert.Equal(long.MaxValue, clock.NextDeadline);
    }

    [Fact]
    public void TimerRearmedFromItsCallbackFiresAgainInSameAdvance()
    {
        var clock = new VirtualClock();
        int count = 0;
        TimerEvent? timer = null;
        timer = clock.CreateTimer(() => { count++; timer!.Arm(clock.Now + 10); });
        timer.Arm(10);
        clock.AdvanceTo(55);
        Assert.Equal(5, count);
        Assert.Equal(60, timer.Deadline);
    }

    [Fact]
    public async Task EventLoopRunsPostedWorkOnDrainingThread()
    {
        var loop = new EventLoop();
        int ranOn = -1;
        await Task.Run(() => loop.Post(() => ranOn = Environment.CurrentManagedThreadId));
        Assert.True(loop.HasPending);
        Assert.True(loop.WaitForWork(TimeSpan.Zero));
        Assert.Equal(1, loop.RunPending());
        Assert.Equal(Environment.CurrentManagedThreadId, ranOn);
        Assert.False(loop.WaitForWork(TimeSpan.FromMilliseconds(1)));
    }

    private sealed class FakeMmio : IMmioHandler
    {
        public (uint Offset, int Size, ulong Value) LastWrite { get; private set; }

        public ulong Read(uint offset, int size) => offset;

        public void Write(uint offset, int size, ulong value) => LastWrite = (offset, size, value);
    }
}
