using System.Globalization;
using Emu.Block;
using Emu.Block.Qcow2;

namespace Emu.Cli.Img;

public static partial class ImgCommand
{
    private static int Check(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var o = new GetOpt(args, "frT", "hqU", ["output", "object"], ["image-opts", "force-share"]);
        string name = Operand(o, 0, "filename");
        string output = o.Get("output") ?? "human";
        var repair = o.Get("r") switch
        {
            null => CheckRepair.None,
            "leaks" => CheckRepair.Leaks,
            "all" => CheckRepair.All,
            var other => throw new UsageException($"Invalid -r argument '{other}'"),
        };
        var images = Objects(o);
        using var d = images.Open(name, o.Get("f"), o.Has("image-opts"), readOnly: repair == CheckRepair.None, noBacking: true, forceShare: ImageArgs.ForceShare(o));
        if (d is not Qcow2Driver q)
        {
            stderr.WriteLine($"emu img: This image format does not support checks");
            return 63;
        }
        var r = q.Check(repair);
        if (output == "json")
        {
            stdout.WriteLine(Json.Write(w =>
            {
                w.WriteStartObject();
                void Opt(string key, long v)
                {
                    if (v != 0)
                        w.WriteNumber(key, v);
                }
                // Key order as qemu-img 7.2 prints it.
                Opt("image-end-offset", r.ImageEndOffset);
                Opt("compressed-clusters", r.CompressedClusters);
                Opt("total-clusters", r.TotalClusters);
                w.WriteNumber("check-errors", r.CheckErrors);
                Opt("leaks", r.Leaks);
                Opt("corruptions", r.Corruptions);
                Opt("leaks-fixed", r.LeaksFixed);
                Opt("corruptions-fixed", r.CorruptionsFixed);
                Opt("allocated-clusters", r.AllocatedClusters);
                w.WriteString("filename", name);
                w.WriteString("format", "qcow2");
                Opt("fragmented-clusters", r.FragmentedClusters);
                w.WriteEndObject();
            }));
            return ExitCode(r);
        }
        foreach (var m in r.Messages)
            stderr.WriteLine(m);
        if (r.LeaksFixed > 0 || r.CorruptionsFixed > 0)
        {
            stdout.WriteLine("The following inconsistencies were found and repaired:");
            stdout.WriteLine();
            stdout.WriteLine($"    {r.LeaksFixed} leaked clusters");
            stdout.WriteLine($"    {r.CorruptionsFixed} corruptions");
            stdout.WriteLine();
            stdout.WriteLine("Double checking the fixed image now...");
        }
        if (r.Corruptions == 0 && r.Leaks == 0 && r.CheckErrors == 0)
            stdout.WriteLine("No errors were found on the image.");
        else
        {
            if (r.Corruptions > 0)
            {
                stdout.WriteLine();
                stdout.WriteLine($"{r.Corruptions} errors were found on the image.");
                stdout.WriteLine("Data may be corrupted, or further writes to the image may corrupt it.");
            }
            if (r.Leaks > 0)
            {
                stdout.WriteLine();
                stdout.WriteLine($"{r.Leaks} leaked clusters were found on the image.");
                stdout.WriteLine("This means waste of disk space, but no harm to data.");
            }
            if (r.CheckErrors > 0)
            {
                stdout.WriteLine();
                stdout.WriteLine($"{r.CheckErrors} internal errors have occurred during the check.");
            }
        }
        if (r.TotalClusters != 0 && r.AllocatedClusters != 0)
        {
            var ci = CultureInfo.InvariantCulture;
            double alloc = 100.0 * r.AllocatedClusters / r.TotalClusters;
            double frag = 100.0 * r.FragmentedClusters / r.AllocatedClusters;
            double comp = 100.0 * r.CompressedClusters / r.AllocatedClusters;
            stdout.WriteLine(string.Format(ci, "{0}/{1} = {2:F2}% allocated, {3:F2}% fragmented, {4:F2}% compressed clusters",
                r.AllocatedClusters, r.TotalClusters, alloc, frag, comp));
        }
        if (r.ImageEndOffset > 0)
            stdout.WriteLine($"Image end offset: {r.ImageEndOffset}");
        return ExitCode(r);
    }

    private static int ExitCode(CheckResult r) =>
        r.CheckErrors > 0 ? 1 : r.Corruptions > 0 ? 2 : r.Leaks > 0 ? 3 : 0;
}
