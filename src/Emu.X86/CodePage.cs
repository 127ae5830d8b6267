using Iced.Intel;

namespace Emu.X86;

/// <summary>Decoded instructions of one 4 KiB physical page for one code size, grouped in straight-line blocks.</summary>
sealed class CodePage
{
    /// <summary>Marks an offset whose instruction crosses into the next page: always decoded afresh.</summary>
    public const ushort Crossing = ushort.MaxValue;

    /// <summary>Per page offset: 1 + index into <see cref="Code"/>, 0 when not decoded, or <see cref="Crossing"/>.</summary>
    public readonly ushort[] Start = new ushort[4096];
    public Instruction[] Code = new Instruction[32];
    /// <summary>How the dispatcher runs each instruction.</summary>
    public OpForm[] Forms = new OpForm[32];
    /// <summary>Per instruction: how often the run loop entered a block there.</summary>
    public ushort[] Hits = new ushort[32];
    /// <summary>The page's compiled hot blocks, once the compiler has built them.</summary>
    public PageCode? Compiled;
    /// <summary>A compile of this page is queued or running.</summary>
    public volatile bool CompilePending;
    /// <summary>Compiles requested so far (a page whose hot blocks keep changing stops being recompiled).</summary>
    public int Compiles;
    public int Count;
    /// <summary>One bit per page byte that belongs to a decoded instruction; writes elsewhere keep the page.</summary>
    readonly ulong[] _covered = new ulong[64];

    public void Cover(int offset, int length)
    {
        for (int b = offset; b < offset + length && b < 4096; b++) _covered[b >> 6] |= 1UL << (b & 63);
    }

    public bool Covers(int offset, int length)
    {
        for (int b = offset; b < offset + length && b < 4096; b++)
            if ((_covered[b >> 6] & (1UL << (b & 63))) != 0) return true;
        return false;
    }

    public void Append(in Instruction instruction, OpForm form)
    {
        if (Count == Code.Length)
        {
            Array.Resize(ref Code, Count * 2);
            Array.Resize(ref Forms, Count * 2);
            Array.Resize(ref Hits, Count * 2);
        }
        Code[Count] = instruction;
        Forms[Count] = form;
        Count++;
    }
}
