using System.Collections.Concurrent;

namespace Emu.Block;

/// <summary>Where block completions run: the owner's thread (the machine loop, or a test loop).</summary>
public interface IEventLoop
{
    /// <summary>Queues work to run on the loop's thread; safe to call from any thread.</summary>
    void Post(Action action);
}

/// <summary>A simple event loop: posted actions run when the owner calls <see cref="RunPending"/> or <see cref="RunUntil"/>.</summary>
public sealed class QueueEventLoop : IEventLoop
{
    private readonly BlockingCollection<Action> _queue = new(new ConcurrentQueue<Action>());

    public void Post(Action action) => _queue.Add(action);

    /// <summary>Runs everything queued now; returns how many actions ran.</summary>
    public int RunPending()
    {
        int n = 0;
        while (_queue.TryTake(out var a))
        {
            a();
            n++;
        }
        return n;
    }

    /// <summary>Runs posted actions until the condition holds or the timeout passes; false on timeout.</summary>
    public bool RunUntil(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                return false;
            if (_queue.TryTake(out var a, left))
                a();
        }
        return true;
    }
}
