using System.Text;
using System.Text.Json;

namespace Emu.Cli.Img;

/// <summary>JSON output indented with four spaces, as qemu-img prints it.</summary>
internal static class Json
{
    public static string Write(Action<Utf8JsonWriter> build)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, IndentSize = 4 }))
            build(w);
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
