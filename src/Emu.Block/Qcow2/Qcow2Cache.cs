namespace Emu.Block.Qcow2;

/// <summary>A write-back cache of cluster-sized metadata tables (L2 tables or refcount blocks), keyed by host offset.</summary>
/// <remarks>Least recently used tables are evicted; a dirty table is written back through the owner's
/// callback so that the owner can order metadata writes (refcounts before the L2 entries that need them).</remarks>
internal sealed class Qcow2Cache
{
    /// <summary>One cached table.</summary>
    internal sealed class Entry(long offset, byte[] data)
    {
        public long Offset = offset;
        public readonly byte[] Data = data;
        public bool Dirty;
        public long LastUse;
    }

    private readonly Dictionary<long, Entry> _entries = [];
    private readonly int _capacity;
    private readonly int _tableSize;
    private readonly Action<Entry> _writeBack;
    private readonly Action<long, byte[]> _load;
    private readonly Stack<byte[]> _spare = new();
    private long _clock;

    public Qcow2Cache(int capacity, int tableSize, Action<long, byte[]> load, Action<Entry> writeBack)
    {
        _load = load;
        _capacity = Math.Max(capacity, 4);
        _tableSize = tableSize;
        _writeBack = writeBack;
    }

    public int Count => _entries.Count;

    /// <summary>Returns the cached table at offset, loading it on a miss.</summary>
    public Entry Get(long offset)
    {
        if (_entries.TryGetValue(offset, out var e))
        {
            e.LastUse = ++_clock;
            return e;
        }
        e = NewEntry(offset);
        _load(offset, e.Data);
        return e;
    }

    /// <summary>Returns a zero-filled table for a newly allocated cluster at offset, marked dirty.</summary>
    public Entry Create(long offset)
    {
        if (_entries.TryGetValue(offset, out var e))
            Array.Clear(e.Data);
        else
            e = NewEntry(offset);
        e.Dirty = true;
        e.LastUse = ++_clock;
        return e;
    }

    private Entry NewEntry(long offset)
    {
        if (_entries.Count >= _capacity)
            EvictOne();
        var data = _spare.Count > 0 ? _spare.Pop() : new byte[_tableSize];
        Array.Clear(data);
        var e = new Entry(offset, data) { LastUse = ++_clock };
        _entries[offset] = e;
        return e;
    }

    private void EvictOne()
    {
        Entry? victim = null;
        foreach (var e in _entries.Values)
            if (victim == null || e.LastUse < victim.LastUse)
                victim = e;
        if (victim == null)
            return;
        if (victim.Dirty)
        {
            _writeBack(victim);
            victim.Dirty = false;
        }
        _entries.Remove(victim.Offset);
        _spare.Push(victim.Data);
    }

    public bool TryGet(long offset, out Entry entry) => _entries.TryGetValue(offset, out entry!);

    /// <summary>Dirty tables in offset order.</summary>
    public List<Entry> DirtyEntries()
    {
        var list = new List<Entry>();
        foreach (var e in _entries.Values)
            if (e.Dirty)
                list.Add(e);
        list.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        return list;
    }

    public bool AnyDirty
    {
        get
        {
            foreach (var e in _entries.Values)
                if (e.Dirty)
                    return true;
            return false;
        }
    }

    /// <summary>Current value of the use clock (a mark for <see cref="DropIdle"/>).</summary>
    public long Clock => _clock;

    /// <summary>Drops clean tables not used since the clock read mark (QEMU's cache-clean-interval).</summary>
    public void DropIdle(long mark)
    {
        List<long>? idle = null;
        foreach (var e in _entries.Values)
            if (!e.Dirty && e.LastUse <= mark)
                (idle ??= []).Add(e.Offset);
        if (idle != null)
            foreach (long offset in idle)
                Discard(offset);
    }

    /// <summary>Drops the table at offset (its cluster was freed) without writing it.</summary>
    public void Discard(long offset)
    {
        if (_entries.Remove(offset, out var e))
            _spare.Push(e.Data);
    }

    /// <summary>Drops everything without writing (used after a failed operation or a reload).</summary>
    public void Clear()
    {
        _entries.Clear();
    }
}
