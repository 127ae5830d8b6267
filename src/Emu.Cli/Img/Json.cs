using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Emu.Cli.Img;

/// <summary>JSON output indented with four spaces, as qemu-img prints it.</summary>
internal static partial class Json
{
    public static string Write(Action<Utf8JsonWriter> build)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, IndentSize = 4 }))
            build(w);
        // qemu-img opens and closes an empty array on two lines.
        return EmptyArray().Replace(Encoding.UTF8.GetString(ms.ToArray()), "$1$2[\n$1]$3");
    }

    [GeneratedRegex(@"^( *)(.*)\[\](,?)$", RegexOptions.Multiline)]
    private static partial Regex EmptyArray();
}
