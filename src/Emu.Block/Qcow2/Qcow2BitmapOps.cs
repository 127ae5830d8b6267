using System.Text;

namespace Emu.Block.Qcow2;

// Changing persistent bitmaps (qemu-img bitmap): add, remove, clear, enable, disable and merge, with QEMU's rules and
// messages. Each change that touches bitmap data holds the bitmap's in-use flag on disk until the data is flushed.
public sealed partial class Qcow2Driver
{
    /// <summary>QEMU's default bitmap granularity: the cluster size, kept between 4 KiB and 64 KiB.</summary>
    public long DefaultBitmapGranularity => Math.Clamp(ClusterSize, 4096, 65536);

    /// <summary>The bitmap with this name, or null.</summary>
    public Qcow2Bitmap? FindBitmap(string name) => _bitmaps.Find(b => b.Name == name);

    /// <summary>Adds an empty bitmap; enabled bitmaps record every later write.</summary>
    public void AddBitmap(string name, long? granularity, bool enabled)
    {
        lock (_lock)
        {
            CheckWritable();
            long g = granularity ?? DefaultBitmapGranularity;
            if (g < 512 || g > 1L << Qcow2Bitmap.MaxGranularityBits || (g & (g - 1)) != 0)
                throw new BlockException("Granularity must be power of 2 and at least 512");
            if (name.Length == 0)
                throw new BlockException("Bitmap name cannot be empty");
            if (FindBitmap(name) != null)
                throw new BlockException($"Bitmap already exists: {name}");
            string cannot = $"Can't make bitmap '{name}' persistent in '{_file.Path}'";
            if (Header.Version < 3)
                throw new BlockException($"{cannot}: Cannot store dirty bitmaps in qcow2 v2 files");
            if (Encoding.UTF8.GetByteCount(name) > Qcow2Bitmap.MaxNameBytes)
                throw new BlockException($"{cannot}: Name length exceeds maximum ({Qcow2Bitmap.MaxNameBytes} characters)");
            if (_bitmaps.Count >= BitmapsExtension.MaxBitmaps)
                throw new BlockException($"{cannot}: Maximum number of persistent bitmaps is already reached");
            var b = new Qcow2Bitmap
            {
                Name = name,
                GranularityBits = System.Numerics.BitOperations.Log2((ulong)g),
                Flags = enabled ? Qcow2Bitmap.FlagAuto : 0,
            };
            if (_bitmaps.Sum(x => (long)x.EntryBytes) + b.EntryBytes > BitmapsExtension.MaxDirectorySize)
                throw new BlockException($"{cannot}: The bitmap directory would be too large");
            b.TableSize = (int)BitmapClusters(b);
            if (b.TableSize > BitmapTableMaxEntries)
                throw new BlockException($"{cannot}: The bitmap would be too large for the image");
            b.TableOffset = WriteToNewClusters(new byte[b.TableBytes]);
            _bitmaps.Add(b);
            WriteBitmapDirectory();
        }
    }

    /// <summary>Removes a bitmap (an inconsistent one too) and frees its clusters.</summary>
    public void RemoveBitmap(string name)
    {
        lock (_lock)
        {
            CheckWritable();
            var b = Find(name);
            ulong[] table;
            try
            {
                table = ReadBitmapTable(b);
            }
            catch (BlockException)
            {
                // A damaged table is dropped without following it: at worst its data clusters leak.
                table = [];
            }
            _bitmaps.Remove(b);
            lock (_bitmapLock)
                _tracked?.RemoveAll(t => t.Bitmap == b);
            WriteBitmapDirectory();
            FreeClusters(b.TableOffset, (int)((b.TableBytes + ClusterMask) >> ClusterBits));
            foreach (ulong e in table)
                if ((e & OffsetMask) != 0)
                    FreeClusters((long)(e & OffsetMask), 1);
            FlushInternal();
        }
    }

    /// <summary>Clears every bit of a bitmap.</summary>
    public void ClearBitmap(string name)
    {
        lock (_lock)
            ChangeBitmapData(Usable(name), Array.Clear);
    }

    /// <summary>Enables (QEMU's "auto" flag) or disables a bitmap.</summary>
    public void SetBitmapEnabled(string name, bool enabled)
    {
        lock (_lock)
        {
            var b = Usable(name);
            b.Flags = enabled ? b.Flags | Qcow2Bitmap.FlagAuto : b.Flags & ~Qcow2Bitmap.FlagAuto;
            WriteBitmapDirectory();
        }
    }

    /// <summary>Sets in bitmap <paramref name="name"/> every bit that <paramref name="sourceName"/> of
    /// <paramref name="source"/> (this image or another of the same size) has set; the granularities may differ.</summary>
    public void MergeBitmap(string name, Qcow2Driver source, string sourceName)
    {
        lock (_lock)
        {
            var target = Usable(name);
            byte[] from;
            long sourceGranularity;
            lock (source._lock)
            {
                var s = source.Usable(sourceName, needWritable: false);
                if (source.Size != Size)
                    throw new BlockException($"Bitmaps are of different sizes (destination size is {Size}, source size is {source.Size}) and can't be merged");
                from = source.ReadBitmapData(s, source.ReadBitmapTable(s));
                sourceGranularity = s.Granularity;
            }
            ChangeBitmapData(target, data =>
            {
                for (long i = 0; i < from.Length; i++)
                    for (int bit = 0; from[i] != 0 && bit < 8; bit++)
                        if ((from[i] & (1 << bit)) != 0)
                            target.MarkDirty(data, (i * 8 + bit) * sourceGranularity, sourceGranularity, Size);
            });
        }
    }

    private Qcow2Bitmap Find(string name) => FindBitmap(name) ?? throw new BlockException($"Dirty bitmap '{name}' not found");

    /// <summary>A bitmap that may be read or changed: it exists and is not inconsistent.</summary>
    private Qcow2Bitmap Usable(string name, bool needWritable = true)
    {
        if (needWritable)
            CheckWritable();
        var b = Find(name);
        if (b.InUse || !b.Usable)
            throw new BlockException($"Bitmap '{name}' is inconsistent and cannot be used\nTry block-dirty-bitmap-remove to delete this bitmap from disk");
        return b;
    }

    /// <summary>Rewrites a bitmap's data under its in-use flag.</summary>
    private void ChangeBitmapData(Qcow2Bitmap b, Action<byte[]> change)
    {
        b.Flags |= Qcow2Bitmap.FlagInUse;
        WriteBitmapDirectory();
        RewriteBitmapData(b, change);
        FlushInternal();
        b.Flags &= ~Qcow2Bitmap.FlagInUse;
        WriteBitmapDirectory();
    }
}
