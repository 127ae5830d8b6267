using System.Diagnostics;

namespace Emu.Block;

/// <summary>One device's I/O thread: runs submitted requests in order and, after the last one, keeps polling
/// briefly for the next before it sleeps.</summary>
/// <remarks>A guest submits its next request tens of microseconds after a completion for small transfers, and
/// about a millisecond after it for 512 KiB DMA transfers (the guest kernel's work per request). Waking a sleeping
/// thread costs ~100 µs or more on a virtual host (the thread pool's pickup measured ~220 µs), so polling across
/// that gap is what keeps back-to-back requests fast; the poll ends after 2.5 ms. When the guest's last gap was
/// longer than that (a request now and then, e.g. one per process it starts), the poll lasts 0.1 ms, so sparse I/O
/// does not keep a host core spinning.</remarks>
sealed class BlockWorker : IDisposable
{
    static readonly long LongPollTicks = Stopwatch.Frequency * 5 / 2000;   // 2.5 ms
    static readonly long ShortPollTicks = Stopwatch.Frequency / 10_000;    // 0.1 ms

    readonly Queue<Action> _queue = new();
    readonly SemaphoreSlim _wake = new(0);
    readonly Thread _thread;
    volatile int _pending;
    bool _sleeping, _disposed;

    public BlockWorker(string name)
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public void Post(Action work)
    {
        bool wake;
        lock (_queue)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _queue.Enqueue(work);
            _pending = _queue.Count;
            wake = _sleeping;
            _sleeping = false;
        }
        if (wake) _wake.Release();
    }

    void Loop()
    {
        long lastDone = 0, poll = LongPollTicks;
        while (true)
        {
            Action? work;
            lock (_queue)
            {
                if (!_queue.TryDequeue(out work))
                {
                    if (_disposed) return;
                    _sleeping = true;
                }
                _pending = _queue.Count;
            }
            if (work != null)
            {
                long start = Stopwatch.GetTimestamp();
                poll = start - lastDone <= LongPollTicks ? LongPollTicks : ShortPollTicks;
                work();
                lastDone = Stopwatch.GetTimestamp();
                continue;
            }
            // Work posted while polling has released the semaphore already: the wait then returns at once.
            PollForWork(poll);
            _wake.Wait();
        }
    }

    /// <summary>Spins until work arrives or the poll time is over.</summary>
    void PollForWork(long ticks)
    {
        long end = Stopwatch.GetTimestamp() + ticks;
        var spin = new SpinWait();
        while (_pending == 0 && Stopwatch.GetTimestamp() < end)
            spin.SpinOnce(-1);
    }

    public void Dispose()
    {
        bool wake;
        lock (_queue)
        {
            if (_disposed) return;
            _disposed = true;
            wake = _sleeping;
            _sleeping = false;
        }
        if (wake) _wake.Release();
        _thread.Join();
        _wake.Dispose();
    }
}
