namespace Emu.Hardware;

/// <summary>Guest time in nanoseconds plus the scheduler of timed device events.</summary>
/// <remarks>Time only moves when the machine loop calls <see cref="AdvanceTo"/>; device callbacks run with
/// <see cref="Now"/> equal to their deadline so periodic devices never drift.</remarks>
public sealed class VirtualClock : IStateful
{
    // Kept sorted by deadline; a machine has a handful of timers, so a list beats a heap here.
    private readonly List<TimerEvent> armed = new();

    /// <summary>Current guest time in nanoseconds.</summary>
    public long Now { get; private set; }

    /// <summary>Deadline of the earliest armed timer, or <see cref="long.MaxValue"/> when none.</summary>
    public long NextDeadline => armed.Count > 0 ? armed[0].Deadline : long.MaxValue;

    /// <summary>Creates a reusable timer (not armed) that calls <paramref name="callback"/> when it fires.</summary>
    public TimerEvent CreateTimer(Action callback) => new(this, callback);

    /// <summary>Creates and arms a one-shot timer at absolute time <paramref name="timeNs"/>; cancel it through the result.</summary>
    public TimerEvent Schedule(long timeNs, Action callback)
    {
        var timer = new TimerEvent(this, callback);
        timer.Arm(timeNs);
        return timer;
    }

    /// <summary>Moves time forward to <paramref name="timeNs"/>, firing every timer due on the way in deadline order.</summary>
    public void AdvanceTo(long timeNs)
    {
        while (armed.Count > 0 && armed[0].Deadline <= timeNs)
        {
            var timer = armed[0];
            armed.RemoveAt(0);
            timer.IsArmed = false;
            if (timer.Deadline > Now)
                Now = timer.Deadline;
            timer.Callback();
        }
        if (timeNs > Now)
            Now = timeNs;
    }

    /// <summary>Moves time forward by <paramref name="ns"/> nanoseconds.</summary>
    public void Advance(long ns) => AdvanceTo(Now + ns);

    internal void Insert(TimerEvent timer)
    {
        int i = armed.Count;
        while (i > 0 && armed[i - 1].Deadline > timer.Deadline)
            i--;
        armed.Insert(i, timer);
    }

    internal void Remove(TimerEvent timer) => armed.Remove(timer);

    /// <summary>Saves the current time; devices save and re-arm their own timers.</summary>
    public void Save(BinaryWriter writer) => writer.Write(Now);

    /// <summary>Restores the current time; timers armed before loading are kept.</summary>
    public void Load(BinaryReader reader) => Now = reader.ReadInt64();
}

/// <summary>A reusable timed callback owned by one device.</summary>
public sealed class TimerEvent
{
    private readonly VirtualClock clock;

    internal TimerEvent(VirtualClock clock, Action callback)
    {
        this.clock = clock;
        Callback = callback;
    }

    internal Action Callback { get; }

    /// <summary>Absolute guest time (ns) of the next firing; meaningful while <see cref="IsArmed"/>.</summary>
    public long Deadline { get; private set; }

    /// <summary>True while the timer waits to fire.</summary>
    public bool IsArmed { get; internal set; }

    /// <summary>Arms (or re-arms) the timer at absolute guest time <paramref name="timeNs"/>.</summary>
    public void Arm(long timeNs)
    {
        if (IsArmed)
            clock.Remove(this);
        Deadline = timeNs;
        IsArmed = true;
        clock.Insert(this);
    }

    /// <summary>Disarms the timer; harmless when not armed.</summary>
    public void Cancel()
    {
        if (!IsArmed)
            return;
        clock.Remove(this);
        IsArmed = false;
    }

    /// <summary>Writes whether the timer is armed and its deadline, for the owning device's state.</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(IsArmed);
        writer.Write(Deadline);
    }

    /// <summary>Restores a timer saved with <see cref="Save"/>.</summary>
    public void Load(BinaryReader reader)
    {
        bool isArmed = reader.ReadBoolean();
        long deadline = reader.ReadInt64();
        Cancel();
        if (isArmed)
            Arm(deadline);
        else
            Deadline = deadline;
    }
}
