using System.Collections.Concurrent;

namespace Emu.Hardware;

/// <summary>Thread-safe queue of work that runs on the machine thread (block-layer completions, host input).</summary>
public sealed class EventLoop
{
    private readonly ConcurrentQueue<Action> queue = new();
    private readonly AutoResetEvent posted = new(false);

    /// <summary>True when posted work is waiting; cheap enough to poll between CPU blocks.</summary>
    public bool HasPending => !queue.IsEmpty;

    /// <summary>Queues work for the machine thread; callable from any thread.</summary>
    public void Post(Action work)
    {
        queue.Enqueue(work);
        posted.Set();
    }

    /// <summary>Runs all queued work on the calling (machine) thread; returns how many items ran.</summary>
    public int RunPending()
    {
        int count = 0;
        while (queue.TryDequeue(out var work))
        {
            work();
            count++;
        }
        return count;
    }

    /// <summary>Blocks until work is posted or the timeout passes (used while the guest is halted).</summary>
    public bool WaitForWork(TimeSpan timeout)
    {
        if (HasPending)
            return true;
        // A signal left over from work already drained only causes an early, harmless wake-up.
        posted.WaitOne(timeout);
        return HasPending;
    }
}
