using Emu.Block;
using Emu.Block.Qcow2;

namespace Emu.Cli.Img;

// measure: how big a new image would be, computed the way qemu-img computes it.
public static partial class ImgCommand
{
    private static int Measure(string[] args, TextWriter stdout)
    {
        var o = new GetOpt(args, "fOol", "hU", ["object", "size", "output"], ["image-opts", "force-share"]);
        string outFormat = o.Get("O") ?? "raw";
        string? sizeText = o.Get("size");
        bool json = (o.Get("output") ?? "human") switch
        {
            "json" => true,
            "human" => false,
            _ => throw new UsageException("--output must be used with human or json as argument."),
        };
        if (sizeText != null && o.Operands.Count > 0)
            throw new UsageException("--size N cannot be used together with a filename.");
        if (sizeText == null && o.Operands.Count != 1)
            throw new UsageException("Either --size N or one filename must be specified.");
        if (outFormat is not ("raw" or "qcow2"))
            throw new UsageException($"Block driver '{outFormat}' does not support size measurement");
        var opts = CreateOptions(o);
        string[] allowed = outFormat == "raw" ? ["size", "preallocation"] : Qcow2CreateKeys;
        foreach (var k in opts.Keys)
            if (!allowed.Contains(k))
                throw new UsageException($"Invalid parameter '{k}'\nemu img: Invalid options for file format '{outFormat}'");

        BlockDriver? input = null;
        try
        {
            long size;
            if (sizeText != null)
                size = Units.ParseSize(sizeText, "image size");
            else
            {
                input = Objects(o).Open(o.Operands[0], o.Get("f"), o.Has("image-opts"), readOnly: true, forceShare: ImageArgs.ForceShare(o));
                size = input.Size;
            }
            var m = outFormat == "raw" ? MeasureRaw(size) : MeasureQcow2(opts, size, input);
            if (json)
            {
                stdout.WriteLine(Json.Write(w =>
                {
                    w.WriteStartObject();
                    if (m.Bitmaps != null)
                        w.WriteNumber("bitmaps", m.Bitmaps.Value);
                    w.WriteNumber("required", m.Required);
                    w.WriteNumber("fully-allocated", m.FullyAllocated);
                    w.WriteEndObject();
                }));
            }
            else
            {
                stdout.WriteLine($"required size: {m.Required}");
                stdout.WriteLine($"fully allocated size: {m.FullyAllocated}");
                if (m.Bitmaps != null)
                    stdout.WriteLine($"bitmaps size: {m.Bitmaps}");
            }
            return 0;
        }
        finally
        {
            input?.Dispose();
        }
    }

    private readonly record struct SizeMeasure(long Required, long FullyAllocated, long? Bitmaps);

    private static SizeMeasure MeasureRaw(long size)
    {
        long rounded = (size + 511) & ~511L;
        return new SizeMeasure(rounded, rounded, null);
    }

    /// <summary>Room for the input's persistent bitmaps as convert --bitmaps would copy them: every data cluster
    /// allocated, the tables and the directory, in output clusters of <paramref name="cs"/> bytes.</summary>
    private static long BitmapsSize(Qcow2Driver? input, long cs)
    {
        if (input == null)
            return 0;
        long total = 0, directory = 0;
        foreach (var b in input.Bitmaps)
        {
            long clusters = (b.DataBytes(input.Size) + cs - 1) / cs;
            total += clusters * cs + RoundUp(clusters * 8, cs);
            directory += b.EntryBytes;
        }
        return total + RoundUp(directory, cs);
    }

    /// <summary>Metadata for the whole disk is always counted; data only where the input holds data.</summary>
    private static SizeMeasure MeasureQcow2(Dictionary<string, string> opts, long size, BlockDriver? input)
    {
        long cs = opts.TryGetValue("cluster_size", out var csText) ? Units.ParseSize(csText, "cluster size") : 65536;
        if (cs < 512 || cs > (2 << 20) || (cs & (cs - 1)) != 0)
            throw new UsageException("Cluster size must be a power of two between 512 and 2048k");
        int refcountBits = 16;
        if (opts.TryGetValue("refcount_bits", out var rb) && (!int.TryParse(rb, out refcountBits) || refcountBits < 1 || refcountBits > 64 || (refcountBits & (refcountBits - 1)) != 0))
            throw new UsageException("Refcount width must be a power of two and may not exceed 64 bits");
        bool extendedL2 = opts.TryGetValue("extended_l2", out var el2) && ImageArgs.OnOff("extended_l2", el2);
        int version = opts.GetValueOrDefault("compat") is "0.10" or "v2" ? 2 : 3;
        var prealloc = opts.TryGetValue("preallocation", out var pre)
            ? PreallocationModes.Parse(pre) ?? throw new UsageException($"Invalid preallocation mode: '{pre}'")
            : Preallocation.Off;
        bool hasBacking = opts.ContainsKey("backing_file");

        long virtualSize = RoundUp(size, cs);
        long l2EntrySize = extendedL2 ? 16 : 8;
        long l2Tables = (virtualSize / cs + cs / l2EntrySize - 1) / (cs / l2EntrySize);
        if (l2Tables * 8 > 32L << 20)
            throw new UsageException("The image size is too large (try using a larger cluster size)");

        long required = 0;
        if (input != null)
            required = hasBacking ? virtualSize : AllocatedDataBytes(input, cs);
        if (prealloc is Preallocation.Full or Preallocation.Falloc)
            required = virtualSize;
        long fully = FullyAllocatedQcow2Size(virtualSize, cs, refcountBits, l2EntrySize);
        long? bitmaps = version >= 3 && input?.Format == "qcow2" ? BitmapsSize(input as Qcow2Driver, cs) : null;
        return new SizeMeasure(fully - virtualSize + required, fully, bitmaps);
    }

    private static long RoundUp(long value, long unit) => (value + unit - 1) / unit * unit;

    /// <summary>Bytes of whole clusters that hold data anywhere in the input's chain.</summary>
    private static long AllocatedDataBytes(BlockDriver input, long cs)
    {
        long required = 0;
        long size = input.Size;
        for (long offset = 0; offset < size;)
        {
            var st = input.GetStatus(offset, size - offset);
            long n = st.Length;
            if ((st.Flags & BlockStatusFlags.Zero) == 0 && (st.Flags & (BlockStatusFlags.Data | BlockStatusFlags.Allocated)) == (BlockStatusFlags.Data | BlockStatusFlags.Allocated))
            {
                n = RoundUp(offset + n, cs) - offset;
                required += offset % cs + n;
            }
            offset += Math.Max(1, n);
        }
        return required;
    }

    /// <summary>Header, L2 and L1 tables, refcount structures and data for a fully allocated image.</summary>
    private static long FullyAllocatedQcow2Size(long virtualSize, long cs, int refcountBits, long l2EntrySize)
    {
        long meta = cs;
        long l2Entries = RoundUp(virtualSize / cs, cs / l2EntrySize);
        meta += l2Entries * l2EntrySize;
        long l1Entries = RoundUp(l2Entries * l2EntrySize / cs, cs / 8);
        meta += l1Entries * 8;
        long clusters = (meta + virtualSize) / cs;
        var (blocks, table) = Qcow2RefcountSizing.Cover(clusters, cs * 8 / refcountBits, cs / 8);
        return meta + (blocks + table) * cs + virtualSize;
    }
}
