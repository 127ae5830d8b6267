using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Emu.X86;

/// <summary>Compiles hot code pages to host code on a background thread shared by every CPU, so compiling (about a
/// millisecond a page, mostly the runtime's JIT) never stalls the guest.</summary>
public static class CompilerThread
{
    /// <summary>Pages waiting for the compiler; beyond this many, new requests wait for a later turn.</summary>
    const int MaxQueued = 1024;

    static readonly BlockingCollection<Action> Queue = new(MaxQueued);
    static readonly Lazy<Thread> Worker = new(StartWorker);

    /// <summary>True where the runtime can generate code (not in a native ahead-of-time build).</summary>
    public static bool Available => RuntimeFeature.IsDynamicCodeSupported;

    /// <summary>Queues a compile job; false when the queue is full.</summary>
    internal static bool Request(Action job)
    {
        _ = Worker.Value;
        return Queue.TryAdd(job);
    }

    static Thread StartWorker()
    {
        var t = new Thread(Work) { IsBackground = true, Name = "Emu page compiler", Priority = ThreadPriority.BelowNormal };
        t.Start();
        return t;
    }

    static void Work()
    {
        foreach (Action job in Queue.GetConsumingEnumerable())
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                job();
            }
            catch (Exception e)
            {
                // A page the compiler cannot translate stays interpreted; tests check that none failed.
                LastError ??= e;
            }
            Interlocked.Add(ref _busyTicks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
        }
    }

    static long _busyTicks;

    /// <summary>Host time the compiler thread has spent compiling, for every CPU of the process.</summary>
    public static TimeSpan BusyTime => System.Diagnostics.Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _busyTicks));

    /// <summary>The first compile failure on the worker thread, if any.</summary>
    internal static Exception? LastError { get; private set; }
}
