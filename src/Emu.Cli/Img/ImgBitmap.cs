using Emu.Block;
using Emu.Block.Qcow2;

namespace Emu.Cli.Img;

// bitmap: add, remove, clear, enable, disable and merge persistent bitmaps of a qcow2 image, in command-line order.
public static partial class ImgCommand
{
    private static readonly string[] BitmapActions = ["add", "remove", "clear", "enable", "disable", "merge"];

    private static int Bitmap(string[] args)
    {
        var o = new GetOpt(args, "fbFg", "hq", ["merge", "object"], ["add", "remove", "clear", "enable", "disable", "image-opts"]);
        var actions = o.All.Where(a => BitmapActions.Contains(a.Name)).ToList();
        if (actions.Count == 0)
            throw new UsageException("Need at least one of --add, --remove, --clear, --enable, --disable, or --merge");
        if (o.Has("g") && !o.Has("add"))
            throw new UsageException("granularity only supported with --add");
        if (o.Has("b") && !o.Has("merge"))
            throw new UsageException("Merge bitmap source file only supported with --merge");
        if (o.Has("F") && !o.Has("b"))
            throw new UsageException("-F only supported with -b");
        if (o.Operands.Count != 2)
            throw new UsageException("Expecting filename and bitmap name");
        string file = o.Operands[0], name = o.Operands[1];
        long? granularity = o.Get("g") is { } g ? Units.ParseSize(g, "granularity") : null;
        var images = Objects(o);
        using var d = images.Open(file, o.Get("f"), o.Has("image-opts"), readOnly: false, noBacking: true);
        using var source = o.Get("b") is { } sourceFile ? images.Open(sourceFile, o.Get("F"), false, readOnly: true, noBacking: true) : null;
        foreach (var (action, value) in actions)
        {
            try
            {
                if (d is not Qcow2Driver q)
                    throw new BlockException($"Format '{d.Format}' does not support persistent bitmaps");
                switch (action)
                {
                    case "add": q.AddBitmap(name, granularity, enabled: true); break;
                    case "remove": q.RemoveBitmap(name); break;
                    case "clear": q.ClearBitmap(name); break;
                    case "enable": q.SetBitmapEnabled(name, true); break;
                    case "disable": q.SetBitmapEnabled(name, false); break;
                    default:
                        var from = (source ?? d) as Qcow2Driver ?? throw new BlockException($"Dirty bitmap '{value}' not found");
                        q.MergeBitmap(name, from, value ?? "");
                        break;
                }
            }
            catch (BlockException e)
            {
                throw new BlockException($"Operation {action} on bitmap {name} failed: {e.Message}", e);
            }
        }
        return 0;
    }
}
