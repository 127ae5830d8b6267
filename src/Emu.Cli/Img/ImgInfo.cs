using System.Text.Json;
using Emu.Block;
using Emu.Block.Crypto;
using Emu.Block.Qcow2;

namespace Emu.Cli.Img;

public static partial class ImgCommand
{
    private static int Info(string[] args, TextWriter stdout)
    {
        var o = new GetOpt(args, "f", "hUq", ["output", "object"], ["backing-chain", "image-opts", "force-share"]);
        string name = Operand(o, 0, "filename");
        string output = o.Get("output") ?? "human";
        if (output is not ("human" or "json"))
            throw new UsageException($"--output must be used with human or json as argument.");
        var images = Objects(o);
        using var top = images.Open(name, o.Get("f"), o.Has("image-opts"), readOnly: true, noBacking: !o.Has("backing-chain"), metadataOnly: true, forceShare: ImageArgs.ForceShare(o));
        var chain = new List<(BlockDriver Driver, string Name)>();
        BlockDriver? d = top;
        string shownName = o.Has("image-opts") ? top.FileName : name;
        while (d != null)
        {
            chain.Add((d, shownName));
            if (!o.Has("backing-chain"))
                break;
            string? backingName = (d as Qcow2Driver)?.Header.BackingFile;
            d = d.Backing;
            if (backingName != null)
                shownName = FullBackingName(shownName, backingName);
        }
        if (output == "json")
        {
            if (chain.Count == 1)
                stdout.WriteLine(Json.Write(w => WriteInfoJson(w, chain[0].Driver, chain[0].Name)));
            else
                stdout.WriteLine(Json.Write(w =>
                {
                    w.WriteStartArray();
                    foreach (var (drv, n) in chain)
                        WriteInfoJson(w, drv, n);
                    w.WriteEndArray();
                }));
            return 0;
        }
        for (int i = 0; i < chain.Count; i++)
        {
            if (i > 0)
                stdout.WriteLine();
            WriteInfoHuman(stdout, chain[i].Driver, chain[i].Name);
        }
        return 0;
    }

    /// <summary>The backing file name as seen from the current directory (QEMU's full-backing-filename).</summary>
    private static string FullBackingName(string imageName, string backing)
    {
        if (Path.IsPathRooted(backing))
            return backing;
        string? dir = Path.GetDirectoryName(imageName);
        return string.IsNullOrEmpty(dir) ? backing : Path.Combine(dir, backing);
    }

    private static void WriteInfoHuman(TextWriter w, BlockDriver d, string name)
    {
        w.WriteLine($"image: {name}");
        w.WriteLine($"file format: {d.Format}");
        w.WriteLine($"virtual size: {Units.SizeToStr(d.Size)} ({d.Size} bytes)");
        w.WriteLine($"disk size: {Units.SizeToStr(d.AllocatedFileBytes)}");
        if (d is not Qcow2Driver q)
            return;
        var h = q.Header;
        if (h.CryptMethod != 0)
            w.WriteLine("encrypted: yes");
        w.WriteLine($"cluster_size: {q.ClusterSize}");
        if (h.BackingFile != null)
        {
            string full = FullBackingName(name, h.BackingFile);
            w.WriteLine(full == h.BackingFile ? $"backing file: {h.BackingFile}" : $"backing file: {h.BackingFile} (actual path: {full})");
            if (h.BackingFormat != null)
                w.WriteLine($"backing file format: {h.BackingFormat}");
        }
        if (q.Snapshots.Count > 0)
        {
            w.WriteLine("Snapshot list:");
            WriteSnapshotTable(w, q.Snapshots);
        }
        w.WriteLine("Format specific information:");
        w.WriteLine($"    compat: {(h.Version >= 3 ? "1.1" : "0.10")}");
        w.WriteLine($"    compression type: {(h.CompressionType == 0 ? "zlib" : "zstd")}");
        if (h.Version >= 3)
            w.WriteLine($"    lazy refcounts: {Bool((h.CompatibleFeatures & Qcow2Header.CompatLazyRefcounts) != 0)}");
        if (q.Bitmaps.Count > 0)
        {
            w.WriteLine("    bitmaps:");
            for (int i = 0; i < q.Bitmaps.Count; i++)
            {
                var b = q.Bitmaps[i];
                w.WriteLine($"        [{i}]:");
                w.WriteLine("            flags:");
                var flags = BitmapFlags(b);
                for (int f = 0; f < flags.Count; f++)
                    w.WriteLine($"                [{f}]: {flags[f]}");
                w.WriteLine($"            name: {b.Name}");
                w.WriteLine($"            granularity: {b.Granularity}");
            }
        }
        w.WriteLine($"    refcount bits: {h.RefcountBits}");
        if (h.DataFile != null && (h.IncompatibleFeatures & Qcow2Header.IncompatDataFile) != 0)
        {
            w.WriteLine($"    data file: {h.DataFile}");
            w.WriteLine($"    data file raw: {Bool((h.AutoclearFeatures & Qcow2Header.AutoclearDataFileRaw) != 0)}");
        }
        if (h.CryptMethod == 1)
        {
            w.WriteLine("    encrypt:");
            w.WriteLine("        format: aes");
        }
        if (q.Luks is { } luks)
            WriteLuksHuman(w, luks);
        if (h.Version >= 3)
        {
            w.WriteLine($"    corrupt: {Bool((h.IncompatibleFeatures & Qcow2Header.IncompatCorrupt) != 0)}");
            w.WriteLine($"    extended l2: {Bool((h.IncompatibleFeatures & Qcow2Header.IncompatExtendedL2) != 0)}");
        }
    }

    /// <summary>The LUKS block of qemu-img info, in QEMU's field order.</summary>
    private static void WriteLuksHuman(TextWriter w, LuksHeader luks)
    {
        w.WriteLine("    encrypt:");
        w.WriteLine($"        ivgen alg: {luks.IvGenName}");
        w.WriteLine($"        hash alg: {luks.HashSpec}");
        w.WriteLine($"        cipher alg: {luks.CipherAlg}");
        w.WriteLine($"        uuid: {luks.Uuid}");
        w.WriteLine("        format: luks");
        w.WriteLine($"        cipher mode: {luks.CipherMode}");
        w.WriteLine("        slots:");
        for (int i = 0; i < luks.Slots.Length; i++)
        {
            var s = luks.Slots[i];
            w.WriteLine($"            [{i}]:");
            w.WriteLine($"                active: {Bool(s.Active)}");
            if (s.Active)
                w.WriteLine($"                iters: {s.Iterations}");
            w.WriteLine($"                key offset: {s.KeyOffset}");
            if (s.Active)
                w.WriteLine($"                stripes: {s.Stripes}");
        }
        w.WriteLine($"        payload offset: {luks.PayloadOffset}");
        w.WriteLine($"        master key iters: {luks.MasterKeyIterations}");
    }

    private static void WriteLuksJson(Utf8JsonWriter w, LuksHeader luks)
    {
        w.WriteStartObject("encrypt");
        w.WriteString("ivgen-alg", luks.IvGenName);
        w.WriteString("hash-alg", luks.HashSpec);
        w.WriteString("cipher-alg", luks.CipherAlg);
        w.WriteString("uuid", luks.Uuid);
        w.WriteString("format", "luks");
        w.WriteString("cipher-mode", luks.CipherMode);
        w.WriteStartArray("slots");
        foreach (var s in luks.Slots)
        {
            w.WriteStartObject();
            w.WriteBoolean("active", s.Active);
            if (s.Active)
                w.WriteNumber("iters", s.Iterations);
            w.WriteNumber("key-offset", s.KeyOffset);
            if (s.Active)
                w.WriteNumber("stripes", s.Stripes);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("payload-offset", luks.PayloadOffset);
        w.WriteNumber("master-key-iters", luks.MasterKeyIterations);
        w.WriteEndObject();
    }

    private static string Bool(bool b) => b ? "true" : "false";

    /// <summary>The flags qemu-img lists for a bitmap, in its order.</summary>
    private static List<string> BitmapFlags(Qcow2Bitmap b)
    {
        var flags = new List<string>();
        if (b.InUse)
            flags.Add("in-use");
        if (b.Enabled)
            flags.Add("auto");
        return flags;
    }

    internal static void WriteSnapshotTable(TextWriter w, IReadOnlyList<Qcow2Snapshot> snapshots) => SnapshotTable.Write(w, snapshots);

    private static void WriteInfoJson(Utf8JsonWriter w, BlockDriver d, string name)
    {
        var q = d as Qcow2Driver;
        w.WriteStartObject();
        if (q?.Header.BackingFormat != null)
            w.WriteString("backing-filename-format", q.Header.BackingFormat);
        if (q != null && q.Snapshots.Count > 0)
        {
            w.WriteStartArray("snapshots");
            foreach (var s in q.Snapshots)
            {
                w.WriteStartObject();
                if (s.Icount != -1)
                    w.WriteNumber("icount", s.Icount);
                w.WriteNumber("vm-clock-nsec", s.VmClockNs % 1_000_000_000);
                w.WriteString("name", s.Name);
                w.WriteNumber("date-sec", s.DateSeconds);
                w.WriteNumber("date-nsec", s.DateNanoseconds);
                w.WriteNumber("vm-clock-sec", s.VmClockNs / 1_000_000_000);
                w.WriteString("id", s.Id);
                w.WriteNumber("vm-state-size", s.VmStateSize);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteNumber("virtual-size", d.Size);
        w.WriteString("filename", name);
        if (q != null)
            w.WriteNumber("cluster-size", q.ClusterSize);
        w.WriteString("format", d.Format);
        w.WriteNumber("actual-size", d.AllocatedFileBytes);
        if (q != null)
        {
            var h = q.Header;
            w.WriteStartObject("format-specific");
            w.WriteString("type", "qcow2");
            w.WriteStartObject("data");
            w.WriteString("compat", h.Version >= 3 ? "1.1" : "0.10");
            w.WriteString("compression-type", h.CompressionType == 0 ? "zlib" : "zstd");
            if (h.Version >= 3)
                w.WriteBoolean("lazy-refcounts", (h.CompatibleFeatures & Qcow2Header.CompatLazyRefcounts) != 0);
            if (q.Bitmaps.Count > 0)
            {
                w.WriteStartArray("bitmaps");
                foreach (var b in q.Bitmaps)
                {
                    w.WriteStartObject();
                    w.WriteStartArray("flags");
                    foreach (var f in BitmapFlags(b))
                        w.WriteStringValue(f);
                    w.WriteEndArray();
                    w.WriteString("name", b.Name);
                    w.WriteNumber("granularity", b.Granularity);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteNumber("refcount-bits", h.RefcountBits);
            if (h.DataFile != null && (h.IncompatibleFeatures & Qcow2Header.IncompatDataFile) != 0)
            {
                w.WriteString("data-file", h.DataFile);
                w.WriteBoolean("data-file-raw", (h.AutoclearFeatures & Qcow2Header.AutoclearDataFileRaw) != 0);
            }
            if (h.CryptMethod == 1)
            {
                w.WriteStartObject("encrypt");
                w.WriteString("format", "aes");
                w.WriteEndObject();
            }
            if (q.Luks is { } luks)
                WriteLuksJson(w, luks);
            if (h.Version >= 3)
            {
                w.WriteBoolean("corrupt", (h.IncompatibleFeatures & Qcow2Header.IncompatCorrupt) != 0);
                w.WriteBoolean("extended-l2", (h.IncompatibleFeatures & Qcow2Header.IncompatExtendedL2) != 0);
            }
            w.WriteEndObject();
            w.WriteEndObject();
            if (h.CryptMethod != 0)
                w.WriteBoolean("encrypted", true);
            if (h.BackingFile != null)
            {
                w.WriteString("full-backing-filename", FullBackingName(name, h.BackingFile));
                w.WriteString("backing-filename", h.BackingFile);
            }
            w.WriteBoolean("dirty-flag", (h.IncompatibleFeatures & Qcow2Header.IncompatDirty) != 0);
        }
        else
        {
            w.WriteBoolean("dirty-flag", false);
        }
        w.WriteEndObject();
    }
}
