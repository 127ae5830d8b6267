namespace Emu.Block.Tests;

public class SmokeTests
{
    [Fact]
    public void UnknownCommandFails() => Assert.Equal(1, Emu.Cli.Program.Main(["bogus"]));
}
