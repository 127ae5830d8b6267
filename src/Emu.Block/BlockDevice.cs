using Emu.Block.Qcow2;

namespace Emu.Block;

/// <summary>A block device over an image driver: awaitable I/O for tools and callback submission for devices.</summary>
/// <remarks>Awaitable requests run on the thread pool, many at once; the driver serialises what must be.
/// Submitted device requests run in order on the device's own I/O thread.
/// Device completions are posted to the owner's event loop, never run on a worker thread.
/// Status codes follow errno conventions: 0 success, negative errno on failure (-5 EIO).</remarks>
public sealed class BlockDevice : IDisposable
{
    public const int StatusOk = 0;
    public const int StatusIoError = -5;
    public const int StatusInvalid = -22;
    public const int StatusCancelled = -125;

    private readonly BlockDriver _driver;
    private readonly IEventLoop? _loop;
    private BlockWorker? _worker;
    private int _inFlight;
    private Exception? _lastError;

    public BlockDevice(BlockDriver driver, IEventLoop? loop = null)
    {
        _driver = driver;
        _loop = loop;
    }

    public BlockDriver Driver => _driver;
    public long Size => _driver.Size;
    public bool ReadOnly => _driver.ReadOnly;

    /// <summary>Requests submitted whose completion has not yet been delivered.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The last error a request failed with (for logs and monitor output).</summary>
    public Exception? LastError => _lastError;

    public ValueTask ReadAsync(long offset, Memory<byte> buffer) => Run(() => _driver.Read(offset, buffer.Span));
    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data) => Run(() => _driver.Write(offset, data.Span));
    public ValueTask FlushAsync() => Run(_driver.Flush);
    public ValueTask DiscardAsync(long offset, long length) => Run(() => _driver.Discard(offset, length));
    public ValueTask WriteZeroesAsync(long offset, long length) => Run(() => _driver.WriteZeroes(offset, length));
    public BlockStatus GetStatus(long offset, long length) => _driver.GetStatus(offset, length);

    public ValueTask WriteVmStateAsync(long position, ReadOnlyMemory<byte> data) => Run(() => Qcow2.WriteVmState(position, data.Span));
    public ValueTask ReadVmStateAsync(long position, Memory<byte> buffer) => Run(() => Qcow2.ReadVmState(position, buffer.Span));

    private Qcow2Driver Qcow2 => _driver as Qcow2Driver
        ?? throw new BlockException($"Device '{_driver.FileName}' does not support snapshots (format {_driver.Format})");

    public Qcow2Snapshot CreateSnapshot(string name, long vmStateSize = 0, ulong vmClockNs = 0) => Qcow2.CreateSnapshot(name, vmStateSize, vmClockNs);
    public void ApplySnapshot(string idOrName) => Qcow2.ApplySnapshot(idOrName);
    public void DeleteSnapshot(string idOrName) => Qcow2.DeleteSnapshot(idOrName);
    public IReadOnlyList<Qcow2Snapshot> ListSnapshots() => _driver is Qcow2Driver q ? q.Snapshots : [];

    private static ValueTask Run(Action work) => new(Task.Run(work));

    /// <summary>Submits a device request; the completion runs on the event loop with a status code.</summary>
    public BlockRequestHandle Submit(BlockRequest request, Action<BlockRequest, int> completion)
    {
        var loop = _loop ?? throw new InvalidOperationException("This block device has no event loop for completions");
        var handle = new BlockRequestHandle();
        Interlocked.Increment(ref _inFlight);
        _worker ??= new BlockWorker("block " + Path.GetFileName(_driver.FileName));
        _worker.Post(() =>
        {
            int status = Execute(request);
            loop.Post(() =>
            {
                Interlocked.Decrement(ref _inFlight);
                if (handle.TryComplete())
                    completion(request, status);
            });
        });
        return handle;
    }

    private int Execute(BlockRequest r)
    {
        try
        {
            switch (r.Op)
            {
                case BlockOp.Read when r.Segments != null:
                    _driver.ReadVectored(r.Offset, r.Segments);
                    break;
                case BlockOp.Write when r.Segments != null:
                    _driver.WriteVectored(r.Offset, r.Segments);
                    break;
                case BlockOp.Read:
                    _driver.Read(r.Offset, r.Buffer.Span[..(int)r.Length]);
                    break;
                case BlockOp.Write:
                    _driver.Write(r.Offset, r.Buffer.Span[..(int)r.Length]);
                    break;
                case BlockOp.Flush:
                    _driver.Flush();
                    break;
                case BlockOp.Discard:
                    _driver.Discard(r.Offset, r.Length);
                    break;
                case BlockOp.WriteZeroes:
                    _driver.WriteZeroes(r.Offset, r.Length);
                    break;
            }
            return StatusOk;
        }
        catch (Exception e) when (e is BlockException or IOException or ArgumentException)
        {
            _lastError = e;
            return e is ArgumentException ? StatusInvalid : StatusIoError;
        }
    }

    /// <summary>Waits until every submitted request has delivered its completion (the caller must be pumping the loop, or have none).</summary>
    public bool Drain(QueueEventLoop loop, TimeSpan timeout) => loop.RunUntil(() => InFlight == 0, timeout);

    public void Dispose()
    {
        _worker?.Dispose();
        _driver.Dispose();
    }
}
