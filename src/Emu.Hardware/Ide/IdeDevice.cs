using System.Text;

namespace Emu.Hardware.Ide;

/// <summary>What every drive on an IDE channel has: identity strings, a transfer mode, and power-on settings.</summary>
public abstract class IdeDevice
{
    public const int SectorSize = 512;

    protected IdeDevice(string serial, string model)
    {
        Serial = serial;
        Model = model;
    }

    public string Serial { get; }
    public string Model { get; }

    /// <summary>Current transfer mode as set by SET FEATURES 0x03 (0x08|n PIO, 0x20|n MWDMA, 0x40|n UDMA).</summary>
    public byte TransferMode { get; internal set; }

    /// <summary>True for a packet (ATAPI) device.</summary>
    public abstract bool IsAtapi { get; }

    /// <summary>Back to power-on settings (hardware or software reset).</summary>
    public abstract void Reset();

    /// <summary>Fills <paramref name="data"/> (512 bytes) with IDENTIFY (PACKET) DEVICE data.</summary>
    public abstract void Identify(Span<byte> data);

    internal abstract void SaveSettings(BinaryWriter writer);

    internal abstract void LoadSettings(BinaryReader reader);

    /// <summary>Builds IDENTIFY data from words, with ATA strings (space-padded, characters swapped within each word).</summary>
    protected sealed class IdentifyWords
    {
        private readonly ushort[] words = new ushort[SectorSize / 2];

        public void Word(int index, int value) => words[index] = (ushort)value;

        public void Text(int index, int wordCount, string text)
        {
            var padded = Encoding.ASCII.GetBytes(text.PadRight(2 * wordCount)[..(2 * wordCount)]);
            for (int i = 0; i < padded.Length; i += 2)
                words[index + i / 2] = (ushort)(padded[i] << 8 | padded[i + 1]);
        }

        public void CopyTo(Span<byte> data)
        {
            for (int i = 0; i < words.Length; i++)
            {
                data[2 * i] = (byte)words[i];
                data[2 * i + 1] = (byte)(words[i] >> 8);
            }
        }
    }
}
