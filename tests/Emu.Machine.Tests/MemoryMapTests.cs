namespace Emu.Machine.Tests;

/// <summary>How changes of the physical memory map (PCI BARs, shadow RAM) reach the CPU.</summary>
public class MemoryMapTests
{
    [Fact]
    public void MovingABarKeepsTheCodeDecodedElsewhere()
    {
        // Linux sizes every BAR at boot. Each move used to drop every decoded instruction, so the guest's loop
        // was decoded again after each one; only the pages whose targets changed lose their code now.
        long few = BlocksDecodedSizingTheBar(10), many = BlocksDecodedSizingTheBar(400);
        Assert.True(many - few < 300, $"10 sizings: {few} blocks decoded, 400 sizings: {many}");
    }

    private static long BlocksDecodedSizingTheBar(int iterations)
    {
        long blocks = 0;
        TestGuests.InTempDir("emu-bar-", dir =>
        {
            string disk = TestGuests.BootDisk(dir, "bar-sizing.asm", defines: $"ITERATIONS={iterations}");
            using var pc = new Pc(new MachineConfig { Disks = [new DiskConfig { Path = disk }], Timeout = 60 }, Stream.Null);
            Assert.Equal(33, pc.Run());
            blocks = pc.Cpu.BlocksDecoded;
        });
        return blocks;
    }
}
