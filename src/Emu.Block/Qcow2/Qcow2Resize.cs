namespace Emu.Block.Qcow2;

// Changing the virtual size and the backing file name.
public sealed partial class Qcow2Driver
{
    /// <summary>Changes the virtual disk size; shrinking first drops every cluster past the new end.</summary>
    public override void Resize(long newSize)
    {
        if (newSize < 0)
            throw new BlockException("Image size must be a non-negative number");
        lock (_lock)
        {
            CheckWritable();
            if (newSize < Header.Size && _snapshots.Count > 0)
                throw new BlockException("Can't shrink an image which has snapshots");
            var bitmaps = newSize != Header.Size ? PrepareBitmapsForResize(newSize) : [];
            if (newSize < Header.Size)
            {
                FlushInternal();
                long start = (newSize + ClusterMask) & ~ClusterMask;
                for (long pos = start; pos < Header.Size; pos += ClusterSize)
                {
                    if (L1EntryEmpty(pos))
                    {
                        pos |= (1L << (ClusterBits + L2Bits)) - 1;
                        pos -= ClusterSize - 1;
                        continue;
                    }
                    var l2 = GetL2TableForWrite(pos);
                    int index = L2Index(pos);
                    ulong old = ReadL2(l2, index);
                    if (old == 0 && ReadL2Bitmap(l2, index) == 0)
                        continue;
                    WriteL2(l2, index, 0);
                    WriteL2Bitmap(l2, index, 0);
                    ReleaseOldEntry(old);
                }
                FlushInternal();
                // The data file follows the image down once nothing maps the tail any more (as qemu-img does).
                ResizeDataFile(newSize);
            }
            else if (newSize > Header.Size)
                ResizeDataFile(newSize);
            long oldSize = Header.Size;
            long needL1 = Qcow2Header.SizeToL1(newSize, ClusterBits, ExtendedL2);
            if (needL1 > _l1.Length)
            {
                if (needL1 * 8 > Qcow2Header.MaxL1Bytes)
                    throw new BlockException("Image size is too big for the cluster size (the L1 table would exceed 32 MiB)");
                GrowL1((int)needL1);
            }
            Header.Size = newSize;
            if (DataFileRaw && newSize > oldSize)
                MapDataFileRange((oldSize + ClusterMask) & ~ClusterMask, newSize);
            WriteHeader();
            _file.Flush();
            FinishBitmapsResize(bitmaps, newSize);
        }
    }

    /// <summary>Points the image at another backing file (or none) without touching data (rebase -u).</summary>
    public void SetBacking(string? name, string? format)
    {
        lock (_lock)
        {
            CheckWritable();
            FlushInternal();
            Header.BackingFile = name;
            Header.BackingFormat = name == null ? null : format;
            if (name == null)
            {
                Header.BackingFileOffset = 0;
                Header.BackingFileSize = 0;
            }
            WriteHeader();
            _file.Flush();
        }
    }
}
