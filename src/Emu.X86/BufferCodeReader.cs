using Iced.Intel;

namespace Emu.X86;

/// <summary>Feeds the Iced decoder from a reusable byte buffer window.</summary>
sealed class BufferCodeReader : CodeReader
{
    public readonly byte[] Buffer;
    public int Position, End;

    public BufferCodeReader(int size) => Buffer = new byte[size];

    public override int ReadByte() => Position < End ? Buffer[Position++] : -1;
}
