namespace Emu.Bench;

/// <summary>The byte-oriented LZ format the Mixed benchmark's guest decompresses, and a greedy host compressor for it.</summary>
/// <remarks>Token byte t: t &lt; 0x80 copies t+1 literal bytes that follow; t &gt;= 0x80 copies (t &amp; 0x7F)+3 bytes
/// from a 16-bit little-endian distance back in the output (overlapping copies allowed).</remarks>
public static class GuestLz
{
    const int MinMatch = 3, MaxMatch = 0x7F + MinMatch, MaxLiterals = 0x80, MaxDistance = 0xFFFF;

    /// <summary>Compresses <paramref name="data"/>.</summary>
    public static byte[] Compress(ReadOnlySpan<byte> data)
    {
        var output = new List<byte>(data.Length);
        var lastAt = new int[1 << 16];
        Array.Fill(lastAt, -1);
        int literalStart = 0, i = 0;
        while (i < data.Length)
        {
            int length = 0, distance = 0;
            if (i + MinMatch <= data.Length)
            {
                int h = Hash(data, i);
                int candidate = lastAt[h];
                lastAt[h] = i;
                if (candidate >= 0 && i - candidate <= MaxDistance)
                {
                    while (length < MaxMatch && i + length < data.Length && data[candidate + length] == data[i + length]) length++;
                    distance = i - candidate;
                }
            }
            if (length < MinMatch) { i++; continue; }
            FlushLiterals(output, data[literalStart..i]);
            output.Add((byte)(0x80 | (length - MinMatch)));
            output.Add((byte)distance);
            output.Add((byte)(distance >> 8));
            i += length;
            literalStart = i;
        }
        FlushLiterals(output, data[literalStart..]);
        return [.. output];
    }

    static int Hash(ReadOnlySpan<byte> d, int i) => (int)(((uint)(d[i] << 16 | d[i + 1] << 8 | d[i + 2]) * 0x9E3779B1u) >> 16);

    static void FlushLiterals(List<byte> output, ReadOnlySpan<byte> literals)
    {
        for (int at = 0; at < literals.Length; at += MaxLiterals)
        {
            int n = Math.Min(MaxLiterals, literals.Length - at);
            output.Add((byte)(n - 1));
            foreach (byte b in literals.Slice(at, n)) output.Add(b);
        }
    }
}
