using Emu.Block;
using Emu.Block.Qcow2;

namespace Emu.Cli.Img;

// resize, rebase and commit: changing an image's size or its place in a backing chain.
public static partial class ImgCommand
{
    private static int Resize(string[] args, TextWriter stdout)
    {
        var o = new GetOpt(args, "f", "hq", ["object", "preallocation"], ["shrink", "image-opts"]);
        if (o.Operands.Count != 2)
            throw new UsageException("Expecting image file name and size");
        string name = o.Operands[0];
        string sizeText = o.Operands[1];
        var images = Objects(o);
        using var d = images.Open(name, o.Get("f"), o.Has("image-opts"), readOnly: false, noBacking: true);
        long size = (sizeText.Length > 0 ? sizeText[0] : '\0') switch
        {
            '+' => d.Size + Units.ParseSize(sizeText[1..], "image size"),
            '-' => d.Size - Units.ParseSize(sizeText[1..], "image size"),
            _ => Units.ParseSize(sizeText, "image size"),
        };
        if (size < 0)
            throw new UsageException("New image size must be positive");
        if (size < d.Size && !o.Has("shrink"))
            throw new UsageException("Use the --shrink option to perform a shrink operation.");
        d.Resize(size);
        if (!o.Has("q"))
            stdout.WriteLine("Image resized.");
        return 0;
    }

    /// <summary>The backing file a safe rebase compares against; -U reads it even while another process writes it, as
    /// qemu-img rebase -U does (the image's own chain is locked as usual).</summary>
    private static BlockDriver OpenNewBacking(string image, string backing, string? format, bool forceShare)
    {
        try
        {
            return ImageOpener.Open(ImageOpener.ResolveBacking(image, backing),
                new ImageOptions { Format = format, ReadOnly = true, ForceShare = forceShare });
        }
        catch (BlockException e) when (e.InnerException is ImageLockException l)
        {
            throw new BlockException($"Could not open new backing file '{backing}': {ImageLockException.Describe(l.Reason, backing)}", e);
        }
    }

    private static int Rebase(string[] args, TextWriter stdout)
    {
        var o = new GetOpt(args, "fFbtT", "hqupU", ["object"], ["image-opts"]);
        string name = Operand(o, 0, "filename");
        string? newBacking = o.Get("b") ?? throw new UsageException("Must specify backing file (-b) or use '-b \"\"'");
        if (newBacking == "")
            newBacking = null;
        string? newFormat = o.Get("F");
        var images = Objects(o);
        bool unsafeMode = o.Has("u");
        using var d = images.Open(name, o.Get("f"), o.Has("image-opts"), readOnly: false, noBacking: unsafeMode);
        if (d is not Qcow2Driver q)
            throw new UsageException($"Format '{d.Format}' has no backing file to change");
        if (newBacking != null && newFormat == null && !unsafeMode)
            newFormat = ImageOpener.Probe(ImageOpener.ResolveBacking(d.FileName, newBacking));
        if (!unsafeMode)
        {
            // Safe mode: wherever the old and new backing differ, the data the guest saw is copied into this image.
            using var newBase = newBacking == null ? null : OpenNewBacking(d.FileName, newBacking, newFormat, ImageArgs.ForceShare(o));
            var old = q.Backing;
            int chunk = q.ClusterSize;
            var a = new byte[chunk];
            var b = new byte[chunk];
            for (long pos = 0; pos < q.Size; pos += chunk)
            {
                int n = (int)Math.Min(chunk, q.Size - pos);
                var st = q.GetStatus(pos, n);
                if (st.Depth == 0 && (st.Flags & BlockStatusFlags.Allocated) != 0)
                    continue;
                ReadOrZero(old, pos, a.AsSpan(0, n));
                ReadOrZero(newBase, pos, b.AsSpan(0, n));
                if (!a.AsSpan(0, n).SequenceEqual(b.AsSpan(0, n)))
                    q.Write(pos, a.AsSpan(0, n));
            }
        }
        q.SetBacking(newBacking, newFormat);
        return 0;
    }

    private static void ReadOrZero(BlockDriver? d, long pos, Span<byte> buf)
    {
        buf.Clear();
        if (d == null || pos >= d.Size)
            return;
        int n = (int)Math.Min(buf.Length, d.Size - pos);
        d.Read(pos, buf[..n]);
    }

    // Like qemu-img commit, zeroes may give the base's clusters back (a qcow2 base gets zero clusters, no data).
    private static void ZeroMayUnmap(BlockDriver target, long offset, long length)
    {
        if (target is Qcow2Driver q)
            q.WriteZeroes(offset, length, unmap: true);
        else
            target.WriteZeroes(offset, length);
    }

    private static int Commit(string[] args, TextWriter stdout)
    {
        var o = new GetOpt(args, "fbts", "hqdp", ["object"], ["image-opts"]);
        string name = Operand(o, 0, "filename");
        var images = Objects(o);
        using var d = images.Open(name, o.Get("f"), o.Has("image-opts"), readOnly: false, noBacking: true);
        if (d is not Qcow2Driver q || q.Header.BackingFile == null)
            throw new UsageException($"Image '{name}' does not have a backing file");
        string basePath = ImageOpener.ResolveBacking(d.FileName, q.Header.BackingFile);
        using (var target = ImageOpener.Open(basePath, new ImageOptions { Format = q.Header.BackingFormat }))
        {
            int chunk = Math.Max(q.ClusterSize, 1 << 20);
            var buf = new byte[chunk];
            for (long pos = 0; pos < q.Size;)
            {
                var st = q.GetStatus(pos, Math.Min(chunk, q.Size - pos));
                int n = (int)st.Length;
                if ((st.Flags & BlockStatusFlags.Allocated) != 0 && st.Depth == 0)
                {
                    if (pos + n > target.Size)
                        throw new BlockException($"The backing file '{basePath}' is smaller than the data to commit");
                    if ((st.Flags & BlockStatusFlags.Zero) != 0 && (st.Flags & BlockStatusFlags.Data) == 0)
                        ZeroMayUnmap(target, pos, n);
                    else
                    {
                        q.Read(pos, buf.AsSpan(0, n));
                        target.Write(pos, buf.AsSpan(0, n));
                    }
                }
                pos += n;
            }
            target.Flush();
        }
        if (!o.Has("d"))
            q.MakeEmpty();
        if (!o.Has("q"))
            stdout.WriteLine("Image committed.");
        return 0;
    }
}
