using System.Diagnostics;
using System.Globalization;
using Emu.Block;

namespace Emu.Cli.Img;

public static partial class ImgCommand
{
    private static int Bench(string[] args, TextWriter stdout)
    {
        var o = new GetOpt(args, "cdfostS", "hnqwU", ["flush-interval", "pattern", "object"], ["no-drain", "image-opts", "force-share"]);
        string name = Operand(o, 0, "filename");
        int count = o.Get("c") is { } c ? ParseInt(c, "request count") : 75000;
        int depth = o.Get("d") is { } d ? ParseInt(d, "queue depth") : 64;
        long offset = o.Get("o") is { } off ? Units.ParseSize(off, "offset") : 0;
        int size = o.Get("s") is { } s ? (int)Units.ParseSize(s, "buffer size") : 4096;
        long step = o.Get("S") is { } st ? Units.ParseSize(st, "step size") : size;
        bool write = o.Has("w");
        int flushInterval = o.Get("flush-interval") is { } fi ? ParseInt(fi, "flush interval") : 0;
        byte pattern = o.Get("pattern") is { } p ? (byte)ParseInt(p, "pattern") : (byte)0;
        var cache = ParseCache(o.Get("t") ?? "writeback");
        if (count <= 0 || depth <= 0 || size <= 0)
            throw new UsageException("Invalid bench parameters");
        if (flushInterval > 0 && !write)
            throw new UsageException("--flush-interval is only available in write tests");
        var images = Objects(o);
        using var drv = images.Open(name, o.Get("f"), o.Has("image-opts"), readOnly: !write, defaults: new ImageOptions { Cache = cache }, forceShare: ImageArgs.ForceShare(o));
        if (size > drv.Size)
            throw new UsageException("Buffer size is larger than the image");
        using var dev = new BlockDevice(drv);
        if (!o.Has("q"))
            stdout.WriteLine($"Sending {count} {(write ? "write" : "read")} requests, {size} bytes each, {depth} parallel requests " +
                $"(starting at offset {offset}, step size {step})" + (flushInterval > 0 ? $"\nSending flush every {flushInterval} requests" : ""));

        long next = offset;
        int issued = 0;
        var gate = new object();
        long NextOffset()
        {
            lock (gate)
            {
                if (issued >= count)
                    return -1;
                issued++;
                long at = next;
                // Like qemu-img, the offset advances by the step and wraps around the image size.
                next = (next + step) % drv.Size;
                if (at + size > drv.Size)
                    at = 0;
                return at;
            }
        }
        var sw = Stopwatch.StartNew();
        // One dedicated thread per queue slot (as QEMU's thread pool does for aio=threads): requests
        // block in the host's file I/O, so pool threads that start one by one would cap the depth.
        var workers = new Thread[Math.Min(Math.Min(depth, count), 64)];
        int completed = 0;
        for (int w = 0; w < workers.Length; w++)
        {
            workers[w] = new Thread(() =>
            {
                var buffer = new byte[size];
                Array.Fill(buffer, pattern);
                long at;
                while ((at = NextOffset()) >= 0)
                {
                    if (write)
                        drv.Write(at, buffer);
                    else
                        drv.Read(at, buffer);
                    int n = Interlocked.Increment(ref completed);
                    if (flushInterval > 0 && n % flushInterval == 0)
                        drv.Flush();
                }
            });
            workers[w].Start();
        }
        foreach (var t in workers)
            t.Join();
        // As in qemu-img, the timed run ends when the requests completed; closing the image flushes it afterwards.
        sw.Stop();
        if (!o.Has("q"))
            stdout.WriteLine(string.Format(CultureInfo.InvariantCulture, "Run completed in {0:F3} seconds.", sw.Elapsed.TotalSeconds));
        return 0;
    }

    private static HostCacheMode ParseCache(string text)
    {
        try
        {
            return HostCache.Parse(text);
        }
        catch (BlockException e)
        {
            throw new UsageException(e.Message);
        }
    }

    private static int ParseInt(string text, string what)
    {
        if (text.StartsWith("0x") && int.TryParse(text[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int h))
            return h;
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 0)
            return v;
        throw new UsageException($"Invalid {what} specified");
    }
}
