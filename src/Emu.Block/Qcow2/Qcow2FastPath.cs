namespace Emu.Block.Qcow2;

// Parallel data I/O: the mapping is looked up under the metadata lock, then the data moves with the
// lock released, so requests to allocated clusters overlap. A cluster is only ever freed (and so
// reusable) after the data I/O in flight has drained: frees take the data lock exclusively.
public sealed partial class Qcow2Driver
{
    private readonly ReaderWriterLockSlim _dataLock = new(LockRecursionPolicy.SupportsRecursion);

    /// <summary>Maps the longest run from offset that is one plain host extent; false when the slow path must handle it.</summary>
    private bool TryMapRun(long offset, int length, bool write, out long host, out int run)
    {
        host = 0;
        run = 0;
        if (_crypto != null)
            return false;
        ulong entry = GetL2Entry(offset);
        if (Classify(entry) != ClusterKind.Normal || (write && (entry & Copied) == 0))
            return false;
        long inCluster = offset & ClusterMask;
        host = (long)(entry & OffsetMask);
        if (write)
            CheckDataClusterForWrite(host);
        else
            CheckDataCluster(host);
        run = ContiguousRun(offset, entry, length, requireCopied: write);
        if (run == 0)
            return false;
        if (write)
            for (long c = host + ClusterSize; c < host + inCluster + run; c += ClusterSize)
                CheckDataClusterForWrite(c);
        host += inCluster;
        return true;
    }

    /// <summary>Under the metadata lock, maps the run at <paramref name="offset"/> for a read: true when it is one plain
    /// host extent (the data lock is then held for reading until the caller's transfer ends), false when
    /// <paramref name="run"/> bytes must go through the full path.</summary>
    private bool TryBeginDirectRead(long offset, int length, out long host, out int run)
    {
        lock (_lock)
        {
            CheckOpen();
            if (TryMapRun(offset, length, false, out host, out run))
            {
                _dataLock.EnterReadLock();
                return true;
            }
        }
        run = (int)Math.Min(length, ClusterSize - (offset & ClusterMask));
        return false;
    }

    /// <summary>Like <see cref="TryBeginDirectRead"/> for a write to clusters that are allocated and private; false
    /// when the write needs the allocating path.</summary>
    private bool TryBeginDirectWrite(long offset, int length, out long host, out int run)
    {
        lock (_lock)
        {
            CheckWritable();
            MarkDirtyIfLazy();
            if (!TryMapRun(offset, length, true, out host, out run))
                return false;
            _dataLock.EnterReadLock();
            return true;
        }
    }

    /// <summary>Reads with the data transfer outside the metadata lock where the range is plainly allocated.</summary>
    private void ReadParallel(long offset, Span<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            if (TryBeginDirectRead(offset, buffer.Length, out long host, out int run))
            {
                try
                {
                    _data.Read(host, buffer[..run]);
                }
                finally
                {
                    _dataLock.ExitReadLock();
                }
            }
            else
            {
                lock (_lock)
                    ReadInternal(offset, buffer[..run]);
            }
            buffer = buffer[run..];
            offset += run;
        }
    }

    /// <summary>Writes with the data transfer outside the metadata lock where clusters are allocated and private.</summary>
    private void WriteParallel(long offset, ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            if (!TryBeginDirectWrite(offset, data.Length, out long host, out int run))
            {
                // The allocating path for the whole rest: new clusters come out contiguous.
                lock (_lock)
                    WriteInternal(offset, data);
                return;
            }
            try
            {
                _data.Write(host, data[..run]);
            }
            finally
            {
                _dataLock.ExitReadLock();
            }
            data = data[run..];
            offset += run;
        }
    }

    /// <summary>Reads a scatter list: each plainly allocated run goes from the host file straight into the buffers.</summary>
    public override void ReadVectored(long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        long total = ScatterList.Length(buffers);
        CheckRange(offset, total);
        if (_crypto != null)
        {
            base.ReadVectored(offset, buffers);
            return;
        }
        for (long done = 0; done < total;)
        {
            int want = (int)Math.Min(total - done, int.MaxValue);
            if (TryBeginDirectRead(offset + done, want, out long host, out int run))
            {
                try
                {
                    _data.ReadVectored(host, ScatterList.Slice(buffers, done, run));
                }
                finally
                {
                    _dataLock.ExitReadLock();
                }
            }
            else
            {
                long at = offset + done;
                foreach (var piece in ScatterList.Slice(buffers, done, run))
                {
                    lock (_lock)
                        ReadInternal(at, piece.Span);
                    at += piece.Length;
                }
            }
            done += run;
        }
    }

    /// <summary>Writes a gather list: runs of allocated private clusters go from the buffers straight to the host
    /// file; the rest is gathered once for the allocating path.</summary>
    public override void WriteVectored(long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        long total = ScatterList.Length(buffers);
        CheckRange(offset, total);
        MarkBitmapsDirty(offset, total);
        if (_crypto != null)
        {
            base.WriteVectored(offset, buffers);
            return;
        }
        for (long done = 0; done < total;)
        {
            int want = (int)Math.Min(total - done, int.MaxValue);
            if (!TryBeginDirectWrite(offset + done, want, out long host, out int run))
            {
                // The base gathers the rest once and writes it through the allocating path.
                base.WriteVectored(offset + done, ScatterList.Slice(buffers, done, want));
                return;
            }
            try
            {
                _data.WriteVectored(host, ScatterList.Slice(buffers, done, run));
            }
            finally
            {
                _dataLock.ExitReadLock();
            }
            done += run;
        }
    }

    /// <summary>Waits until no unlocked data transfer is in flight (called with the metadata lock held, before a cluster becomes free).</summary>
    private void DrainDataIo()
    {
        if (_dataLock.CurrentReadCount == 0 && !_dataLock.IsReadLockHeld)
            return;
        _dataLock.EnterWriteLock();
        _dataLock.ExitWriteLock();
    }
}
