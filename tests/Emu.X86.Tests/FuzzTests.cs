namespace Emu.X86.Tests;

/// <summary>Random code must never crash the emulator: every guest error is a guest exception, not a .NET one.</summary>
public class FuzzTests
{
    static readonly int Rounds = int.TryParse(Environment.GetEnvironmentVariable("EMU_X86_FUZZ_ROUNDS"), out int r) ? r : 1;

    [Fact]
    public void RandomRealModeCodeNeverThrows()
    {
        var rng = new Random(2024 + Rounds);
        var code = new byte[256];
        var m = new TestMachine();
        int trapped = 0, rounds = 1500 * Rounds;
        for (int round = 0; round < rounds; round++)
        {
            m.Cpu.Reset();
            Array.Clear(m.Ram);
            rng.NextBytes(code);
            m.Load(TestMachine.CodeBase, code);
            // Every vector points at a HLT so a fault ends the round.
            for (int v = 0; v < 256; v++) { m.Ram[v * 4] = 0x00; m.Ram[v * 4 + 1] = 0x05; }
            m.Ram[0x500] = 0xF4;
            m.Cpu.SetSegmentReal(SegReg.CS, 0);
            m.Cpu.Eip = TestMachine.CodeBase;
            m.Cpu.Run(2000);
            if (m.Cpu.Halted && m.Cpu.Eip == 0x501) trapped++;
        }
        Assert.True(trapped > rounds / 4, $"only {trapped} of {rounds} rounds ended in an interrupt handler");
    }

    [Fact]
    public void RandomProtectedModeCodeNeverThrows()
    {
        var rng = new Random(2025 + Rounds);
        var code = new byte[256];
        int exceptions = 0, rounds = 300 * Rounds;
        for (int round = 0; round < rounds; round++)
        {
            rng.NextBytes(code);
            var m = ProtectedMode.Boot(a => a.db(code), ram: 2 << 20);
            m.Cpu.Run(5000);
            if (m.ExitCode is >= 0x80 and < 0xA0) exceptions++;
        }
        Assert.True(exceptions > rounds / 4, $"only {exceptions} of {rounds} rounds reported a CPU exception");
    }
}
