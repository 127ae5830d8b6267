using System.Diagnostics;
using System.Globalization;
using Emu.Block;
using Emu.Block.Qcow2;

namespace Emu.Cli.Io;

/// <summary><c>emu io</c>: qemu-io's command-line form, running -c commands against one image.</summary>
public sealed class IoCommand
{
    private readonly TextWriter _out;
    private readonly ImageArgs _images;
    private readonly string? _format;
    private readonly bool _imageOpts;
    private bool _readOnly;
    private ImageOptions _defaults;
    private BlockDriver? _drv;

    private IoCommand(TextWriter stdout, ImageArgs images, string? format, bool imageOpts, bool readOnly, ImageOptions defaults)
    {
        _out = stdout;
        _images = images;
        _format = format;
        _imageOpts = imageOpts;
        _readOnly = readOnly;
        _defaults = defaults;
    }

    /// <summary>Open options from qemu-io's -n (cache=none), -t/--cache MODE and -o KEY=VALUE,...</summary>
    private static ImageOptions OpenOptions(GetOpt o)
    {
        var options = new ImageOptions();
        try
        {
            if (o.Has("n"))
                options = options with { Cache = HostCacheMode.None };
            if (ImageArgs.ForceShare(o))
                options = options with { ForceShare = true };
            if ((o.Get("t") ?? o.Get("cache")) is { } mode)
                options = options with { Cache = HostCache.Parse(mode) };
            foreach (var spec in o.GetAll("o"))
                options = ImageOpenOptions.Apply(options, ImageArgs.ParseKeyValues(spec));
        }
        catch (BlockException e)
        {
            throw new UsageException(e.Message);
        }
        return options;
    }

    /// <summary>qemu-io's long options that are spellings of short ones.</summary>
    private static readonly Dictionary<string, string> LongForms = new()
    {
        ["cmd"] = "c",
        ["format"] = "f",
        ["read-only"] = "r",
        ["snapshot"] = "s",
        ["nocache"] = "n",
        ["native-aio"] = "k",
        ["discard"] = "d",
        ["trace"] = "T",
        ["help"] = "h",
    };

    /// <summary>Rewrites --cmd X, --cmd=X and the other long spellings in <see cref="LongForms"/> as their short options.</summary>
    private static string[] ShortForms(string[] args)
    {
        var result = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                result.AddRange(args[i..]);
                break;
            }
            int eq = a.IndexOf('=');
            if (a.StartsWith("--") && LongForms.TryGetValue(eq < 0 ? a[2..] : a[2..eq], out var letter))
            {
                result.Add("-" + letter);
                if (eq >= 0)
                    result.Add(a[(eq + 1)..]);
            }
            else
                result.Add(a);
        }
        return [.. result];
    }

    private const string Usage = """
        usage: emu io [options] [-c COMMAND]... [IMAGE]
        Runs qemu-io commands on a disk image, one -c at a time, in order.

          -c, --cmd COMMAND    run COMMAND (read, write, readv, writev, aio_read, aio_write, flush,
                               discard, alloc, map, length, info, truncate, open, close, sleep)
          -f, --format FMT     the image's format (probed when omitted)
          --image-opts         IMAGE is an option string (driver=...,file.filename=...)
          --object SPEC        define an object, e.g. secret,id=sec0,data=... for encrypted images
          -r, --read-only      open the image read-only
          -s, --snapshot       write to a temporary overlay: the image itself is only read
          -n, --nocache        bypass the host page cache (cache=none)
          -t, --cache MODE     none, writeback, writethrough, directsync or unsafe
          -o KEY=VALUE,...     open options, as with --image-opts
          -k, --native-aio     accepted; emu has its own I/O engine
          -U, --force-share    open an image that another process holds open for writing
          -h, --help           show this help
        """;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var o = new GetOpt(ShortForms(args), "cftodT", "rnshqUk", ["object", "cache", "aio"], ["image-opts", "force-share"]);
        if (o.Has("h"))
        {
            stdout.Write(Usage);
            return 0;
        }
        if (o.Has("d"))
            throw new UsageException("-d MODE: discard modes are not supported");
        if (o.Has("T"))
            throw new UsageException("-T: tracing is not supported");
        var images = new ImageArgs();
        images.AddObjects(o.GetAll("object"));
        var io = new IoCommand(stdout, images, o.Get("f"), o.Has("image-opts"), o.Has("r"), OpenOptions(o)) { _snapshot = o.Has("s") };
        int status = 0;
        try
        {
            if (o.Operands.Count > 0)
                io.Open(o.Operands[0]);
            foreach (var cmd in o.GetAll("c"))
            {
                try
                {
                    if (!io.Execute(cmd, stderr))
                        status = 1;
                }
                catch (UsageException e)
                {
                    stderr.WriteLine(e.Message);
                    status = 1;
                }
            }
        }
        catch (BlockException e)
        {
            stderr.WriteLine($"emu io: {e.Message}");
            status = 1;
        }
        finally
        {
            io.Close();
        }
        return status;
    }

    private void Open(string name)
    {
        if (!_snapshot)
        {
            _drv = _images.Open(name, _format, _imageOpts, _readOnly, defaults: _defaults);
            return;
        }
        if (_imageOpts)
            throw new UsageException("-s cannot be used with --image-opts");
        // -s: writes go to a temporary qcow2 overlay whose backing file is the image, which is only read.
        string format = _format ?? ImageOpener.Probe(name);
        long size;
        using (var image = _images.Open(name, format, false, readOnly: true, defaults: _defaults))
            size = image.Size;
        _overlay = Qcow2Creator.CreateTemporaryOverlay(name, format, size);
        _drv = _images.Open(_overlay, "qcow2", false, _readOnly, defaults: _defaults);
    }

    private void Close()
    {
        _drv?.Dispose();
        _drv = null;
        if (_overlay != null)
            File.Delete(_overlay);
        _overlay = null;
    }

    private bool _snapshot;
    private string? _overlay;

    /// <summary>sleep MS: pauses the command list (the image stays open, with its locks).</summary>
    private static bool SleepCmd(string[] args, TextWriter stderr)
    {
        if (args.Length != 1)
        {
            stderr.WriteLine($"bad argument count {args.Length} to sleep, expected 1 arguments");
            return false;
        }
        if (!int.TryParse(args[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int ms))
        {
            stderr.WriteLine($"{args[0]} is not a valid number");
            return false;
        }
        Thread.Sleep(ms);
        return true;
    }

    private BlockDriver Drv => _drv ?? throw new UsageException("no file open, try 'help open'");

    /// <summary>Runs one command line; false when the command failed.</summary>
    private bool Execute(string line, TextWriter stderr)
    {
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
            return true;
        var args = words[1..];
        try
        {
            switch (words[0])
            {
                case "read" or "r" or "aio_read":
                    return ReadCmd(args, vectored: false);
                case "readv":
                    return ReadCmd(args, vectored: true);
                case "writev":
                    return WritevCmd(args);
                case "truncate" or "t":
                    return TruncateCmd(args);
                case "write" or "w" or "aio_write":
                    return WriteCmd(args, stderr);
                case "flush" or "f" or "aio_flush":
                    Drv.Flush();
                    return true;
                case "discard" or "d":
                    return DiscardCmd(args);
                case "alloc":
                    return AllocCmd(args);
                case "map":
                    return MapCmd();
                case "length" or "l":
                    _out.WriteLine(Units.CvtStr(Drv.Size));
                    return true;
                case "info" or "i":
                    return InfoCmd();
                case "open" or "o":
                    Close();
                    var oo = new GetOpt(args, "ot", "rsnkU");
                    _readOnly = oo.Has("r");
                    _snapshot = oo.Has("s");
                    _defaults = OpenOptions(oo);
                    Open(oo.Operands.Count > 0 ? oo.Operands[0] : throw new UsageException("open: filename missing"));
                    return true;
                case "close" or "c":
                    Close();
                    return true;
                case "sleep":
                    return SleepCmd(args, stderr);
                default:
                    stderr.WriteLine($"command \"{words[0]}\" not found");
                    return false;
            }
        }
        catch (BlockException e)
        {
            // qemu-io reports a failed request on stdout, with its results.
            _out.WriteLine($"{words[0].Replace("aio_", "")} failed: {e.Message}");
            return false;
        }
        catch (ReportedFailure e)
        {
            _out.WriteLine(e.Message);
            return false;
        }
    }

    /// <summary>A command's failure that qemu-io prints on stdout (a bad number), unlike usage errors.</summary>
    private sealed class ReportedFailure(string message) : Exception(message);

    private static long Num(string s)
    {
        try
        {
            return s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                ? long.Parse(s[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                : Units.ParseSize(s, "number");
        }
        catch (Exception e) when (e is UsageException or FormatException or OverflowException)
        {
            throw new ReportedFailure($"Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- {s}");
        }
    }

    private static byte Pattern(string s)
    {
        long v = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? long.Parse(s[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : long.Parse(s, CultureInfo.InvariantCulture);
        return (byte)v;
    }

    private (long Offset, long Count) OffsetCount(GetOpt o, string cmd)
    {
        if (o.Operands.Count != 2)
            throw new UsageException($"{cmd}: wrong number of arguments");
        long offset = Num(o.Operands[0]);
        long count = Num(o.Operands[1]);
        if (count > int.MaxValue)
            throw new UsageException($"length {count} is too large");
        if (offset + count > Drv.Size || offset < 0)
            throw new BlockException("Input/output error");
        return (offset, count);
    }

    /// <summary>readv / writev operands: an offset and the lengths of the buffers that follow one another from it.</summary>
    private (long Offset, List<Memory<byte>> Buffers, byte[] Whole) Vector(GetOpt o, string cmd)
    {
        if (o.Operands.Count < 2)
            throw new UsageException($"bad argument count {o.Operands.Count} to {cmd}, expected at least 2 arguments");
        long offset = Num(o.Operands[0]);
        var lengths = o.Operands.Skip(1).Select(Num).ToList();
        long total = lengths.Sum();
        if (total > int.MaxValue)
            throw new UsageException($"length {total} is too large");
        if (offset + total > Drv.Size || offset < 0)
            throw new BlockException("Input/output error");
        var whole = new byte[total];
        var buffers = new List<Memory<byte>>();
        int at = 0;
        foreach (long n in lengths)
        {
            buffers.Add(whole.AsMemory(at, (int)n));
            at += (int)n;
        }
        return (offset, buffers, whole);
    }

    private bool ReadCmd(string[] args, bool vectored)
    {
        var o = new GetOpt(args, "Pps", "bCqv");
        long offset;
        byte[] buf;
        List<Memory<byte>>? buffers = null;
        if (vectored)
            (offset, buffers, buf) = Vector(o, "readv");
        else
        {
            (offset, long length) = OffsetCount(o, "read");
            buf = new byte[length];
        }
        long count = buf.Length;
        var sw = Stopwatch.StartNew();
        if (buffers != null)
            Drv.ReadVectored(offset, buffers);
        else
            Drv.Read(offset, buf);
        sw.Stop();
        bool ok = true;
        if (o.Get("P") is { } p)
        {
            byte pat = Pattern(p);
            if (buf.AsSpan().IndexOfAnyExcept(pat) >= 0)
            {
                _out.WriteLine($"Pattern verification failed at offset {offset}, {count} bytes");
                ok = false;
            }
        }
        if (o.Has("q"))
            return ok;
        if (o.Has("v"))
            Dump(buf, offset);
        Report("read", sw.Elapsed, offset, count);
        return ok;
    }

    private bool WriteCmd(string[] args, TextWriter stderr)
    {
        var o = new GetOpt(args, "P", "bcCfnquz");
        if (o.Has("z") && o.Has("P"))
            throw new UsageException("-z and -P cannot be specified at the same time");
        if (o.Has("z") && o.Has("c"))
            throw new UsageException("-z and -c cannot be specified at the same time");
        if (o.Has("u") && !o.Has("z"))
            throw new UsageException("-u requires -z to be specified");
        var (offset, count) = OffsetCount(o, "write");
        var sw = Stopwatch.StartNew();
        if (o.Has("z"))
        {
            if (Drv is Qcow2Driver q)
                q.WriteZeroes(offset, count, unmap: o.Has("u"));
            else
                Drv.WriteZeroes(offset, count);
        }
        else
        {
            var buf = new byte[count];
            Array.Fill(buf, o.Get("P") is { } p ? Pattern(p) : (byte)0xcd);
            if (o.Has("c"))
                Drv.WriteCompressed(offset, buf);
            else
                Drv.Write(offset, buf);
        }
        sw.Stop();
        if (!o.Has("q"))
            Report("wrote", sw.Elapsed, offset, count);
        return true;
    }

    private bool WritevCmd(string[] args)
    {
        var o = new GetOpt(args, "P", "Cq");
        var (offset, buffers, whole) = Vector(o, "writev");
        Array.Fill(whole, o.Get("P") is { } p ? Pattern(p) : (byte)0xcd);
        var sw = Stopwatch.StartNew();
        Drv.WriteVectored(offset, buffers);
        sw.Stop();
        if (!o.Has("q"))
            Report("wrote", sw.Elapsed, offset, whole.Length);
        return true;
    }

    /// <summary>truncate SIZE: grows or shrinks the image (what a guest device would see as a new disk size).</summary>
    private bool TruncateCmd(string[] args)
    {
        var o = new GetOpt(args, "m", "");
        if (args.Length is < 1 or > 3)
            throw new UsageException($"bad argument count {args.Length} to truncate, expected between 1 and 3 arguments");
        if (o.Operands.Count != 1)
            throw new UsageException("truncate: wrong number of arguments");
        if (o.Get("m") is { } mode && mode != "off")
            throw new UsageException($"Invalid preallocation mode '{mode}'");
        Drv.Resize(Num(o.Operands[0]));
        return true;
    }

    private bool DiscardCmd(string[] args)
    {
        var o = new GetOpt(args, "", "Cq");
        var (offset, count) = OffsetCount(o, "discard");
        var sw = Stopwatch.StartNew();
        Drv.Discard(offset, count);
        sw.Stop();
        if (!o.Has("q"))
            Report("discard", sw.Elapsed, offset, count);
        return true;
    }

    private bool AllocCmd(string[] args)
    {
        if (args.Length is < 1 or > 2)
            throw new UsageException("alloc: wrong number of arguments");
        long offset = Num(args[0]);
        long count = args.Length > 1 ? Num(args[1]) : 512;
        long end = Math.Min(offset + count, Drv.Size);
        long allocated = 0;
        for (long pos = offset; pos < end;)
        {
            var s = Drv.GetStatus(pos, end - pos);
            if ((s.Flags & BlockStatusFlags.Allocated) != 0 && s.Depth == 0)
                allocated += s.Length;
            pos += s.Length;
        }
        _out.WriteLine($"{allocated}/{count} bytes allocated at offset {Units.CvtStr(offset)}");
        return true;
    }

    private bool MapCmd()
    {
        long pos = 0;
        long size = Drv.Size;
        while (pos < size)
        {
            var first = Drv.GetStatus(pos, size - pos);
            bool alloc = (first.Flags & BlockStatusFlags.Allocated) != 0 && first.Depth == 0;
            long len = first.Length;
            while (pos + len < size)
            {
                var s = Drv.GetStatus(pos + len, size - pos - len);
                if (((s.Flags & BlockStatusFlags.Allocated) != 0 && s.Depth == 0) != alloc)
                    break;
                len += s.Length;
            }
            _out.WriteLine($"{Units.CvtStr(len)} (0x{len:x}) bytes {(alloc ? "   " : "not")} allocated at offset {Units.CvtStr(pos)} (0x{pos:x})");
            pos += len;
        }
        return true;
    }

    private bool InfoCmd()
    {
        _out.WriteLine($"format name: {Drv.Format}");
        _out.WriteLine($"format version: {(Drv is Qcow2Driver q ? (q.Header.Version >= 3 ? "1.1" : "0.10") : "")}".TrimEnd());
        _out.WriteLine($"cluster size: {Units.CvtStr(Drv.ClusterSize)}");
        _out.WriteLine($"vm state offset: {Units.CvtStr(Drv is Qcow2Driver q2 ? q2.VmStateOffset : 0)}");
        return true;
    }

    private void Report(string op, TimeSpan t, long offset, long count)
    {
        _out.WriteLine($"{op} {count}/{count} bytes at offset {offset}");
        double secs = Math.Max(t.TotalSeconds, 1e-9);
        string time = t.TotalSeconds < 60
            ? $"{(int)t.TotalSeconds:D2}.{t.Milliseconds / 10:D2} sec"
            : $"{(int)t.TotalMinutes}:{t.Seconds:D2}.{t.Milliseconds / 10:D2}";
        _out.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0}, 1 ops; {1} ({2}/sec and {3:F4} ops/sec)",
            Units.CvtStr(count), time, Units.CvtStr(count / secs), 1 / secs));
    }

    private void Dump(byte[] buf, long offset)
    {
        for (int i = 0; i < buf.Length; i += 16)
        {
            var line = new System.Text.StringBuilder();
            line.Append($"{offset + i:x8}:  ");
            int n = Math.Min(16, buf.Length - i);
            for (int j = 0; j < n; j++)
                line.Append($"{buf[i + j]:x2} ");
            line.Append(' ');
            for (int j = 0; j < n; j++)
                line.Append(buf[i + j] is >= 0x20 and < 0x7f ? (char)buf[i + j] : '.');
            _out.WriteLine(line.ToString());
        }
    }
}
