namespace Emu.Hardware;

/// <summary>The text screen as a headless console sees it: the CRTC's geometry over the character and attribute planes.</summary>
public sealed partial class Vga
{
    // Code page 437 as Unicode: what the VGA's ROM font draws for each byte (0 shows as a blank).
    private const string CodePage437 =
        " ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼" +
        " !\"#$%&'()*+,-./0123456789:;<=>?" +
        "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_" +
        "`abcdefghijklmnopqrstuvwxyz{|}~⌂" +
        "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒ" +
        "áíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐" +
        "└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀" +
        "αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00A0";

    /// <summary>Changes whenever what the text screen shows may have changed (character or attribute memory, mode,
    /// geometry, start address); cursor moves alone do not change it. Poll it to print the screen when it changes.</summary>
    public long ScreenVersion { get; private set; }

    /// <summary>True when the adapter shows an alphanumeric (text) mode.</summary>
    public bool IsTextMode => !VbeEnabled && (graphics[6] & 0x01) == 0 && (attribute[0x10] & 0x01) == 0;

    /// <summary>Columns of the current text mode (80 in mode 3), or 0 in a graphics mode or before the CRTC is programmed.</summary>
    public int TextColumns => IsTextMode && crtc[0x01] != 0 ? crtc[0x01] + 1 : 0;

    /// <summary>Rows of the current text mode (25 in mode 3), or 0 in a graphics mode.</summary>
    public int TextRows
    {
        get
        {
            if (TextColumns == 0)
                return 0;
            int lines = crtc[0x12] | (crtc[0x07] & 0x02) << 7 | (crtc[0x07] & 0x40) << 3;
            int charHeight = (crtc[0x09] & 0x1F) + 1;
            return Math.Min((lines + 1) / charHeight, 256);
        }
    }

    /// <summary>The cursor's row and column on the text screen, or null when it is disabled or off screen.</summary>
    public (int Row, int Column)? Cursor
    {
        get
        {
            int columns = TextColumns;
            if (columns == 0 || (crtc[0x0A] & 0x20) != 0)
                return null;
            int cell = (crtc[0x0E] << 8 | crtc[0x0F]) - StartAddress;
            int stride = LineStride(columns);
            if (cell < 0)
                return null;
            int row = cell / stride, column = cell % stride;
            return row < TextRows && column < columns ? (row, column) : null;
        }
    }

    private int StartAddress => crtc[0x0C] << 8 | crtc[0x0D];

    // Cells from one text row to the next: CR13 counts pairs of cells (words) in text modes.
    private int LineStride(int columns) => crtc[0x13] == 0 ? columns : crtc[0x13] * 2;

    /// <summary>The character (code page 437 byte) and attribute at a text cell.</summary>
    public (byte Character, byte Attribute) GetCell(int row, int column)
    {
        int cell = StartAddress + row * LineStride(TextColumns) + column;
        int at = (cell << 2) & VramMask;
        return (vram[at], vram[at + 1]);
    }

    /// <summary>The text screen as one string per row (code page 437 shown as Unicode, trailing blanks trimmed);
    /// empty in a graphics mode.</summary>
    public string[] GetTextLines()
    {
        int columns = TextColumns, rows = TextRows;
        var lines = new string[rows];
        var chars = new char[columns];
        for (int row = 0; row < rows; row++)
        {
            for (int column = 0; column < columns; column++)
                chars[column] = CodePage437[GetCell(row, column).Character];
            lines[row] = new string(chars).TrimEnd(' ', '\u00A0');
        }
        return lines;
    }

    /// <summary>The text screen as one string, rows separated by newlines.</summary>
    public string GetText() => string.Join('\n', GetTextLines());
}
