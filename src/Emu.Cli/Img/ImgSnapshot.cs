using Emu.Block.Qcow2;

namespace Emu.Cli.Img;

public static partial class ImgCommand
{
    private static int Snapshot(string[] args, TextWriter stdout)
    {
        var o = new GetOpt(args, "fcad", "lhqU", ["object"], ["image-opts", "force-share"]);
        string name = Operand(o, 0, "filename");
        int actions = (o.Has("l") ? 1 : 0) + (o.Has("c") ? 1 : 0) + (o.Has("a") ? 1 : 0) + (o.Has("d") ? 1 : 0);
        if (actions > 1)
            throw new UsageException("Cannot mix '-l', '-a', '-c', '-d'");
        bool list = o.Has("l") || actions == 0;
        var images = Objects(o);
        using var d = images.Open(name, o.Get("f"), o.Has("image-opts"), readOnly: list, noBacking: true, forceShare: ImageArgs.ForceShare(o));
        if (d is not Qcow2Driver q)
            throw new UsageException($"Format '{d.Format}' does not support internal snapshots");
        if (list)
        {
            if (q.Snapshots.Count > 0)
            {
                stdout.WriteLine("Snapshot list:");
                WriteSnapshotTable(stdout, q.Snapshots);
            }
            return 0;
        }
        if (o.Get("c") is { } create)
            q.CreateSnapshot(create);
        else if (o.Get("a") is { } apply)
        {
            if (q.FindSnapshot(apply) == null)
                throw new UsageException($"Could not apply snapshot '{apply}': Can't find the snapshot");
            q.ApplySnapshot(apply);
        }
        else if (o.Get("d") is { } delete)
        {
            if (q.FindSnapshot(delete) == null)
                throw new UsageException($"Could not delete snapshot '{delete}': snapshot not found");
            q.DeleteSnapshot(delete);
        }
        return 0;
    }
}
