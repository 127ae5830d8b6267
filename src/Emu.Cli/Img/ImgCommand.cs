using Emu.Block;

namespace Emu.Cli.Img;

/// <summary><c>emu img</c>: qemu-img's subcommands with its options, output and exit codes.</summary>
public static partial class ImgCommand
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0)
            throw new UsageException("Not enough arguments\nTry 'emu img --help' for more information");
        var rest = args[1..];
        try
        {
            return args[0] switch
            {
                "create" => Create(rest, stdout),
                "info" => Info(rest, stdout),
                "check" => Check(rest, stdout, stderr),
                "convert" => Convert(rest, stdout, stderr),
                "snapshot" => Snapshot(rest, stdout),
                "map" => Map(rest, stdout),
                "compare" => Compare(rest, stdout, stderr),
                "bench" => Bench(rest, stdout),
                "resize" => Resize(rest, stdout),
                "rebase" => Rebase(rest, stdout),
                "commit" => Commit(rest, stdout),
                "measure" => Measure(rest, stdout),
                "amend" => Amend(rest, stdout),
                "dd" => Dd(rest, stderr),
                "bitmap" => Bitmap(rest),
                "--help" or "-h" => Help(stdout),
                _ => throw new UsageException($"Command not found: {args[0]}"),
            };
        }
        catch (BlockException e)
        {
            stderr.WriteLine($"emu img: {e.Message}");
            return 1;
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"emu img: {e.ImgMessage ?? e.Message}");
            if (e.ImgMessage != null)
                stderr.WriteLine("Try 'emu img --help' for more information");
            return 1;
        }
    }

    private static int Help(TextWriter stdout)
    {
        stdout.WriteLine("usage: emu img [standard options] command [command options]");
        stdout.WriteLine("Commands: create, info, check, convert, snapshot, map, compare, resize, rebase, commit, measure, amend, dd, bitmap, bench (qemu-img syntax)");
        return 0;
    }

    private static ImageArgs Objects(GetOpt o)
    {
        var images = new ImageArgs();
        images.AddObjects(o.GetAll("object"));
        return images;
    }

    private static string Operand(GetOpt o, int index, string what)
    {
        if (o.Operands.Count <= index)
            throw new UsageException($"Expecting {what}");
        return o.Operands[index];
    }

    /// <summary>Parses an -o option list ("a=1,b=2"), several -o options accumulating.</summary>
    private static Dictionary<string, string> CreateOptions(GetOpt o)
    {
        var all = new Dictionary<string, string>();
        foreach (var spec in o.GetAll("o"))
            foreach (var (k, v) in ImageArgs.ParseKeyValues(spec))
                all[k] = v;
        return all;
    }
}
