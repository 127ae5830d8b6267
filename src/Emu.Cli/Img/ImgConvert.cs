using System.Globalization;
using Emu.Block;
using Emu.Block.Qcow2;

namespace Emu.Cli.Img;

public static partial class ImgCommand
{
    /// <summary>Opens the convert target; an encrypted one is keyed by the encrypt.key-secret given with -o, as qemu-img does.</summary>
    private static BlockDriver OpenConvertTarget(ImageArgs images, GetOpt o, string outName, string outFormat)
    {
        string? secret = null;
        foreach (var spec in o.GetAll("o"))
            secret = ImageArgs.ParseKeyValues(spec).GetValueOrDefault("encrypt.key-secret") ?? secret;
        // Like qemu-img, the target is written with cache=unsafe unless -t says otherwise: no fsync at the end.
        var defaults = new ImageOptions { Cache = ParseCache(o.Get("t") ?? "unsafe") };
        if (secret == null || o.Has("target-image-opts"))
            return images.Open(outName, outFormat, o.Has("target-image-opts"), readOnly: false, defaults: defaults);
        return images.Open($"driver={outFormat},file.filename={outName.Replace(",", ",,")},encrypt.key-secret={secret}", null, true,
            readOnly: false, defaults: defaults);
    }

    private static int Convert(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var o = new GetOpt(args, "fOoBsltTSrm", "cpqnhWU", ["object"],
            ["image-opts", "force-share", "target-image-opts", "bitmaps", "skip-broken-bitmaps", "target-is-zero", "salvage"]);
        if (o.Operands.Count < 2)
            throw new UsageException("Expecting at least one input and one output filename");
        string outName = o.Operands[^1];
        var inNames = o.Operands.Take(o.Operands.Count - 1).ToList();
        string outFormat = o.Get("O") ?? "raw";
        bool compress = o.Has("c");
        bool progress = o.Has("p") && !o.Has("q");
        var images = Objects(o);
        if (compress && outFormat != "qcow2")
            throw new UsageException($"Compression not supported for this file format");
        bool bitmaps = o.Has("bitmaps"), skipBroken = o.Has("skip-broken-bitmaps");
        if (skipBroken && !bitmaps)
            throw new UsageException("Use of --skip-broken-bitmaps requires --bitmaps");
        bool targetIsZero = o.Has("target-is-zero"), salvage = o.Has("salvage");
        if (targetIsZero && !o.Has("n"))
            throw new UsageException("--target-is-zero requires use of -n flag");
        int sparse = SparseSize(o.Get("S"));

        var inputs = new List<BlockDriver>();
        try
        {
            foreach (var n in inNames)
                inputs.Add(images.Open(n, o.Get("f"), o.Has("image-opts"), readOnly: true,
                    defaults: new ImageOptions { Cache = ParseCache(o.Get("T") ?? "writeback") }, forceShare: ImageArgs.ForceShare(o)));
            long total = inputs.Sum(i => i.Size);
            var bitmapSource = bitmaps ? BitmapSource(inputs, skipBroken) : null;

            if (!o.Has("n"))
            {
                var createArgs = new List<string> { "-q", "-f", outFormat };
                foreach (var spec in o.GetAll("o"))
                {
                    createArgs.Add("-o");
                    createArgs.Add(spec);
                }
                foreach (var spec in o.GetAll("object"))
                    createArgs.Add("--object=" + spec);
                if (o.Get("B") is { } backing)
                {
                    createArgs.Add("-b");
                    createArgs.Add(backing);
                }
                createArgs.Add(outName);
                createArgs.Add(total.ToString(CultureInfo.InvariantCulture));
                int rc = Create([.. createArgs], TextWriter.Null);
                if (rc != 0)
                    return rc;
            }
            using var output = OpenConvertTarget(images, o, outName, outFormat);
            // Zeroes need no writing where the target reads as zeroes already (or the user says it does).
            bool freshZero = targetIsZero || (!o.Has("n") && output.Backing == null);
            int chunk = Math.Max(output.ClusterSize, 64 * 1024);
            if (chunk < 1 << 20 && !compress)
                chunk = 1 << 20;
            if (compress)
                chunk = Math.Max(output.ClusterSize, (1 << 20) / output.ClusterSize * output.ClusterSize);
            // The next piece is read (and checked for zeroes) on the thread pool while this one is written.
            byte[][] buffers = [new byte[chunk], new byte[chunk]];
            int slot = 0;
            long done = 0;
            int lastShown = -1;
            using var pieces = Pieces(inputs, chunk, compress ? output.ClusterSize : 1).GetEnumerator();
            var ahead = pieces.MoveNext() ? ReadPiece(pieces.Current, buffers[slot], salvage) : null;
            try
            {
                while (ahead != null)
                {
                    var piece = ahead.GetAwaiter().GetResult();
                    slot ^= 1;
                    ahead = pieces.MoveNext() ? ReadPiece(pieces.Current, buffers[slot], salvage) : null;
                    foreach (long bad in piece.Unreadable ?? [])
                        stderr.WriteLine($"emu img: warning: error while reading offset {bad}: Input/output error");
                    if (!piece.Zero)
                    {
                        if (compress)
                            WriteCompressedRuns(output, piece, freshZero);
                        else
                            WriteSparse(output, piece, sparse, freshZero);
                    }
                    else if (sparse == 0 && !compress)
                        WriteAllocatedZeroes(output, piece.OutOffset, piece.Length, buffers[slot ^ 1]);
                    else if (!freshZero)
                        output.WriteZeroes(piece.OutOffset, piece.Length);
                    done += piece.Length;
                    if (progress)
                    {
                        int pct = total == 0 ? 100 : (int)(done * 100 / total);
                        if (pct != lastShown)
                        {
                            stdout.Write($"    ({pct}.00/100%)\r");
                            lastShown = pct;
                        }
                    }
                }
            }
            finally
            {
                // An error while writing leaves the read ahead running: let it finish before the inputs close.
                if (ahead is { IsCompleted: false })
                    ((IAsyncResult)ahead).AsyncWaitHandle.WaitOne();
            }
            if (bitmapSource != null)
                CopyBitmaps(bitmapSource, output, stderr);
            output.Flush();
            if (progress)
                stdout.WriteLine("    (100.00/100%)");
            return 0;
        }
        finally
        {
            foreach (var i in inputs)
                i.Dispose();
        }
    }

    /// <summary>The input whose bitmaps convert --bitmaps copies, checked before the output is created.</summary>
    private static Qcow2Driver BitmapSource(List<BlockDriver> inputs, bool skipBroken)
    {
        if (inputs.Count != 1)
            throw new UsageException("Copying bitmaps only possible with single source");
        if (inputs[0] is not Qcow2Driver source)
            throw new UsageException("Source lacks bitmap support");
        // QEMU walks the bitmaps last to first when it checks and warns.
        foreach (var b in source.Bitmaps.Reverse())
            if ((b.InUse || !b.Usable) && !skipBroken)
                throw new UsageException($"Cannot copy inconsistent bitmap '{b.Name}'\nTry --skip-broken-bitmaps, or use 'qemu-img bitmap --remove' to delete it");
        return source;
    }

    /// <summary>Adds each consistent bitmap of the source to the output with the same name, granularity and state, and
    /// its bits (after the data, so copying the data does not mark them).</summary>
    private static void CopyBitmaps(Qcow2Driver source, BlockDriver output, TextWriter stderr)
    {
        if (output is not Qcow2Driver target || target.Header.Version < 3)
            throw new UsageException($"Format driver '{output.Format}' does not support bitmaps");
        foreach (var b in source.Bitmaps.Reverse().Where(b => b.InUse || !b.Usable))
            stderr.WriteLine($"emu img: warning: Skipping inconsistent bitmap '{b.Name}'");
        foreach (var b in source.Bitmaps.Where(b => !b.InUse && b.Usable))
        {
            target.AddBitmap(b.Name, b.Granularity, b.Enabled);
            target.MergeBitmap(b.Name, source, b.Name);
        }
    }

    /// <summary>One stretch of the input: where it is read and written, and whether it is known to read as zeroes
    /// (a known-zero stretch may be longer than a chunk: it is never read).</summary>
    private readonly record struct ConvertRange(BlockDriver Input, long InOffset, long OutOffset, long Length, bool Zero);

    /// <summary>A stretch ready to write: its bytes, or no bytes when all <see cref="Length"/> of it read as zeroes.</summary>
    private readonly record struct ConvertPiece(long OutOffset, Memory<byte> Data, long Length, bool Zero, List<long>? Unreadable = null);

    // The inputs laid end to end, cut at chunk boundaries of the output and where the allocation status changes,
    // but only at multiples of align (compressed writes take whole clusters): a piece rounded up past a status
    // change is read rather than assumed zero.
    private static IEnumerable<ConvertRange> Pieces(List<BlockDriver> inputs, int chunk, int align)
    {
        long outPos = 0;
        foreach (var input in inputs)
        {
            for (long pos = 0; pos < input.Size;)
            {
                long n = Math.Min(chunk - (outPos % chunk), input.Size - pos);
                var st = input.GetStatus(pos, n);
                bool zero = (st.Flags & BlockStatusFlags.Zero) != 0;
                if (zero && st.Length == n && pos + n < input.Size)
                {
                    // A zero chunk may start a long zero run: take the run (up to 1 GiB) as one piece, never read.
                    var run = input.GetStatus(pos, Math.Min(input.Size - pos, 1L << 30));
                    if ((run.Flags & BlockStatusFlags.Zero) != 0 && run.Length / align * align > n)
                        st = run with { Length = run.Length / align * align };
                    n = st.Length;
                }
                else if (st.Length < n)
                {
                    long aligned = (st.Length + align - 1) / align * align;
                    zero &= aligned == st.Length;
                    n = Math.Min(n, aligned);
                }
                yield return new ConvertRange(input, pos, outPos, n, zero);
                pos += n;
                outPos += n;
            }
        }
    }

    // Compressed output keeps all-zero clusters unallocated (or zeroed), as qemu-img does: only the runs of
    // clusters with data are compressed, each run in one call so its clusters compress in parallel.
    private static void WriteCompressedRuns(BlockDriver output, ConvertPiece piece, bool freshZero)
    {
        var data = piece.Data.Span;
        int cluster = output.ClusterSize;
        int start = 0;
        for (int at = 0; at < data.Length; at += cluster)
        {
            var part = data.Slice(at, Math.Min(cluster, data.Length - at));
            if (part.IndexOfAnyExcept((byte)0) >= 0)
                continue;
            if (at > start)
                output.WriteCompressed(piece.OutOffset + start, data[start..at]);
            if (!freshZero)
                output.WriteZeroes(piece.OutOffset + at, part.Length);
            start = at + part.Length;
        }
        if (start < data.Length)
            output.WriteCompressed(piece.OutOffset + start, data[start..]);
    }

    private static Task<ConvertPiece> ReadPiece(ConvertRange range, byte[] buffer, bool salvage)
    {
        if (range.Zero)
            return Task.FromResult(new ConvertPiece(range.OutOffset, Memory<byte>.Empty, range.Length, true));
        return Task.Run(() =>
        {
            var data = buffer.AsMemory(0, (int)range.Length);
            List<long>? unreadable = null;
            try
            {
                range.Input.Read(range.InOffset, data.Span);
            }
            catch (Exception e) when (salvage && e is BlockException or IOException)
            {
                unreadable = SalvageRead(range.Input, range.InOffset, range.OutOffset, data.Span);
            }
            return new ConvertPiece(range.OutOffset, data, range.Length, data.Span.IndexOfAnyExcept((byte)0) < 0, unreadable);
        });
    }

    /// <summary>The -S sparse size: zero runs of at least this many bytes inside data are not written (0: write
    /// everything, zeroes included, so the output is fully allocated).</summary>
    private static int SparseSize(string? text)
    {
        if (text == null)
            return 4096;
        long size;
        try
        {
            size = Units.ParseSize(text);
        }
        catch (UsageException)
        {
            throw new UsageException("Invalid buffer size for sparse output specified. You may use k, M, G, T, P or E suffixes for "
                + "kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
        }
        if (size % 512 != 0 || size > 16 << 20)
            throw new UsageException("Invalid buffer size for sparse output specified. Valid sizes are multiples of 512 up to 16777216. "
                + "Select 0 to disable sparse detection (fully allocates output).");
        return (int)size;
    }

    /// <summary>Writes a piece's data, leaving out (or, on a target that does not read as zeroes, zeroing) every run of
    /// whole all-zero units of <paramref name="sparse"/> bytes (at least a cluster), as qemu-img -S does.</summary>
    private static void WriteSparse(BlockDriver output, ConvertPiece piece, int sparse, bool freshZero)
    {
        var data = piece.Data.Span;
        if (sparse == 0)
        {
            output.Write(piece.OutOffset, data);
            return;
        }
        // A cluster is allocated whole: zero runs count in whole clusters, as qemu-img counts them.
        sparse = Math.Max(sparse, output.ClusterSize);
        static bool ZeroUnit(ReadOnlySpan<byte> data, int at, int sparse) =>
            !data.Slice(at, Math.Min(sparse, data.Length - at)).ContainsAnyExcept((byte)0);
        for (int pos = 0; pos < data.Length;)
        {
            bool zero = ZeroUnit(data, pos, sparse);
            int end = pos;
            while (end < data.Length && ZeroUnit(data, end, sparse) == zero)
                end = Math.Min(data.Length, end + sparse);
            if (!zero)
                output.Write(piece.OutOffset + pos, data[pos..end]);
            else if (!freshZero)
                output.WriteZeroes(piece.OutOffset + pos, end - pos);
            pos = end;
        }
    }

    /// <summary>-S 0: a zero stretch is written as data, so the output has every byte allocated.</summary>
    private static void WriteAllocatedZeroes(BlockDriver output, long offset, long length, byte[] buffer)
    {
        Array.Clear(buffer);
        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(buffer.Length, length - done);
            output.Write(offset + done, buffer.AsSpan(0, n));
            done += n;
        }
    }

    /// <summary>--salvage: reads sector by sector, leaving zeroes where a sector cannot be read; returns those
    /// sectors' offsets in the output (qemu-img's granularity and warnings).</summary>
    private static List<long> SalvageRead(BlockDriver input, long offset, long outOffset, Span<byte> data)
    {
        const int Sector = 512;
        var unreadable = new List<long>();
        for (int pos = 0; pos < data.Length; pos += Sector)
        {
            var sector = data.Slice(pos, Math.Min(Sector, data.Length - pos));
            try
            {
                input.Read(offset + pos, sector);
            }
            catch (Exception e) when (e is BlockException or IOException)
            {
                sector.Clear();
                unreadable.Add(outOffset + pos);
            }
        }
        return unreadable;
    }
}
