using Emu.Block;

namespace Emu.Cli;

/// <summary>Entry point of the emu command: dispatches to run, img and io.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("usage: emu run [options] | emu img COMMAND ... | emu io [options] IMAGE");
            return args.Length == 0 ? 1 : 0;
        }
        string tool = args[0];
        var rest = args[1..];
        try
        {
            return tool switch
            {
                "img" => Img.ImgCommand.Run(rest, Console.Out, Console.Error),
                "io" => Io.IoCommand.Run(rest, Console.Out, Console.Error),
                "run" => Run.RunCommand.Run(rest, Console.Error),
                _ => throw new UsageException($"unknown command '{tool}'"),
            };
        }
        catch (Exception e) when (e is UsageException or BlockException or IOException or Emu.Machine.MachineException)
        {
            Console.Error.WriteLine($"emu {tool}: {e.Message}");
            return 1;
        }
    }
}
