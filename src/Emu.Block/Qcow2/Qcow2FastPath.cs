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

    /// <summary>Reads with the data transfer outside the metadata lock where the range is plainly allocated.</summary>
    private void ReadParallel(long offset, Span<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            long host;
            int run;
            lock (_lock)
            {
                CheckOpen();
                if (!TryMapRun(offset, buffer.Length, false, out host, out run))
                {
                    int n = (int)Math.Min(buffer.Length, ClusterSize - (offset & ClusterMask));
                    ReadInternal(offset, buffer[..n]);
                    buffer = buffer[n..];
                    offset += n;
                    continue;
                }
                _dataLock.EnterReadLock();
            }
            try
            {
                _data.Read(host, buffer[..run]);
            }
            finally
            {
                _dataLock.ExitReadLock();
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
            long host;
            int run;
            lock (_lock)
            {
                CheckWritable();
                MarkDirtyIfLazy();
                if (!TryMapRun(offset, data.Length, true, out host, out run))
                {
                    // The allocating path under the lock, for the whole rest: new clusters come out contiguous.
                    WriteInternal(offset, data);
                    return;
                }
                _dataLock.EnterReadLock();
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

    /// <summary>Waits until no unlocked data transfer is in flight (called with the metadata lock held, before a cluster becomes free).</summary>
    private void DrainDataIo()
    {
        if (_dataLock.CurrentReadCount == 0 && !_dataLock.IsReadLockHeld)
            return;
        _dataLock.EnterWriteLock();
        _dataLock.ExitWriteLock();
    }
}
