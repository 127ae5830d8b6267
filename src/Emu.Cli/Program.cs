namespace Emu.Cli;

/// <summary>Entry point of the emu command: dispatches to run, img and io.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("usage: emu run|img|io ...");
            return args.Length == 0 ? 1 : 0;
        }
        Console.Error.WriteLine($"emu: unknown command '{args[0]}'");
        return 1;
    }
}
