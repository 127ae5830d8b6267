using Iced.Intel;

namespace Emu.X86;

// Hot blocks of 32-bit code are handed to the block compiler; the run loop switches to their host code once it is
// ready.
public sealed partial class Cpu
{
    /// <summary>Block entries before a block is compiled, unless EMU_COMPILE_THRESHOLD says otherwise (0: never).</summary>
    const int DefaultCompileThreshold = 10000;

    int _compileThreshold = DefaultThreshold();

    static int DefaultThreshold()
    {
        if (!CompilerThread.Available) return 0;
        string? env = Environment.GetEnvironmentVariable("EMU_COMPILE_THRESHOLD");
        return int.TryParse(env, out int t) && t >= 0 ? Math.Min(t, ushort.MaxValue) : DefaultCompileThreshold;
    }

    /// <summary>How many times a block is entered before it is compiled to host code; 0 interprets everything.</summary>
    public int CompileThreshold
    {
        get => _compileThreshold;
        set => _compileThreshold = CompilerThread.Available ? Math.Clamp(value, 0, ushort.MaxValue) : 0;
    }

    /// <summary>Compile on the CPU's own thread, so a page runs as host code from its next entry (tests).</summary>
    internal bool CompileSynchronously { get; set; }

    /// <summary>Compiles of one page; a page whose hot blocks keep changing stays interpreted after this many.</summary>
    const int MaxPageCompiles = 4;

    /// <summary>Times the run loop has entered compiled code (tests check that it did).</summary>
    internal long CompiledRuns { get; private set; }

    /// <summary>Blocks this CPU has had compiled to host code (or queued for it).</summary>
    public long BlocksCompiled { get; private set; }

    /// <summary>Entry <paramref name="idx"/> of <paramref name="page"/> became hot: compile the page's hot blocks.</summary>
    void RequestCompile(CodePage page, int idx)
    {
        if (page.CompilePending)
        {
            page.Hits[idx]--;   // ask again at the next entry, once the compile in progress is done
            return;
        }
        // 16-bit code wraps EIP at 64 KiB; it stays interpreted.
        if (!_code32 || page.Compiles >= MaxPageCompiles) return;
        // The entry that became hot, then the page's others by heat, as long as the method stays small enough for the
        // runtime to optimize it (it gives up on very large methods).
        int hot = Math.Max(1, _compileThreshold / 4);
        var candidates = new List<int>();
        for (int j = 0; j < page.Count; j++)
            if (page.Hits[j] >= hot && j != idx) candidates.Add(j);
        candidates.Sort((a, b) => page.Hits[b].CompareTo(page.Hits[a]));
        candidates.Insert(0, idx);
        var entries = new List<int>();
        int size = 0;
        foreach (int j in candidates)
        {
            int n = PageCompiler.BlockLength(page.Forms, j);
            if (size + n > PageCompiler.MaxInstructions && entries.Count > 0) continue;
            entries.Add(j);
            size += n;
        }
        OpForm[] forms = page.Forms;
        Instruction[] code = page.Code;
        page.Compiles++;
        BlocksCompiled += entries.Count;
        if (CompileSynchronously)
        {
            page.Compiled = PageCompiler.Compile(forms, code, entries);
            return;
        }
        page.CompilePending = true;
        bool queued = CompilerThread.Request(() =>
        {
            try
            {
                page.Compiled = PageCompiler.Compile(forms, code, entries);
            }
            finally
            {
                page.CompilePending = false;
            }
        });
        if (!queued)
        {
            page.CompilePending = false;
            page.Compiles--;
            BlocksCompiled -= entries.Count;
            page.Hits[idx]--;
        }
    }
}
