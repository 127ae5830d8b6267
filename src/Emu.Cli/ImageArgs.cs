using Emu.Block;

namespace Emu.Cli;

/// <summary>How the tools name images: plain file names with -f, or --image-opts key=value lists, with --object secrets.</summary>
public sealed class ImageArgs
{
    private readonly Dictionary<string, string> _secrets = [];

    /// <summary>Registers --object definitions; only "secret,id=..,data=.." (or file=..) is meaningful here.</summary>
    public void AddObjects(IEnumerable<string> objects)
    {
        foreach (var spec in objects)
        {
            var parts = ParseKeyValues(spec, "qom-type");
            if (parts.GetValueOrDefault("qom-type") != "secret")
                throw new UsageException($"Invalid object type '{parts.GetValueOrDefault("qom-type")}'");
            string id = parts.GetValueOrDefault("id") ?? throw new UsageException("Parameter 'id' is missing");
            if (parts.TryGetValue("data", out var data))
                _secrets[id] = data;
            else if (parts.TryGetValue("file", out var file))
                _secrets[id] = File.ReadAllText(file);
            else
                throw new UsageException("Either 'data' or 'file' must be provided");
        }
    }

    public string Secret(string id) =>
        _secrets.TryGetValue(id, out var s) ? s : throw new UsageException($"No secret with id '{id}'");

    /// <summary>The tools' -U / --force-share.</summary>
    public static bool ForceShare(GetOpt o) => o.Has("U") || o.Has("force-share");

    /// <summary>An on/off option value as QEMU spells it.</summary>
    public static bool OnOff(string key, string value) => value switch
    {
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new UsageException($"Parameter '{key}' expects 'on' or 'off'"),
    };

    /// <summary>Parses "a=1,b=2" (an initial bare word becomes the implied key), with ",," as an escaped comma.</summary>
    public static Dictionary<string, string> ParseKeyValues(string spec, string? impliedKey = null)
    {
        var result = new Dictionary<string, string>();
        var items = new List<string>();
        var cur = new System.Text.StringBuilder();
        for (int i = 0; i < spec.Length; i++)
        {
            if (spec[i] == ',')
            {
                if (i + 1 < spec.Length && spec[i + 1] == ',')
                {
                    cur.Append(',');
                    i++;
                    continue;
                }
                items.Add(cur.ToString());
                cur.Clear();
                continue;
            }
            cur.Append(spec[i]);
        }
        items.Add(cur.ToString());
        for (int i = 0; i < items.Count; i++)
        {
            string item = items[i];
            if (item.Length == 0)
                continue;
            int eq = item.IndexOf('=');
            if (eq < 0)
            {
                if (i == 0 && impliedKey != null)
                {
                    result[impliedKey] = item;
                    continue;
                }
                throw new UsageException($"Invalid parameter '{item}'");
            }
            result[item[..eq]] = item[(eq + 1)..];
        }
        return result;
    }

    /// <summary>Opens an image named by a file name (with optional format) or by --image-opts text.</summary>
    /// <param name="defaults">Open options from the command line (cache mode, -o ...), which --image-opts keys override.</param>
    /// <param name="metadataOnly">Open encrypted images without their key, for metadata (info), as qemu-img does.</param>
    /// <param name="forceShare">Open even while another process writes the image (-U); read-only opens only.</param>
    public BlockDriver Open(string name, string? format, bool imageOpts, bool readOnly, bool noBacking = false, ImageOptions? defaults = null,
        bool metadataOnly = false, bool forceShare = false)
    {
        string path = name;
        var options = (defaults ?? new ImageOptions()) with { ReadOnly = readOnly, NoBacking = noBacking };
        if (forceShare)
            options = options with { ForceShare = true };
        if (imageOpts)
        {
            var kv = ParseKeyValues(name);
            path = kv.GetValueOrDefault("file.filename") ?? kv.GetValueOrDefault("filename")
                ?? throw new UsageException("Parameter 'file.filename' is required");
            format = kv.GetValueOrDefault("driver") ?? format;
            if (kv.TryGetValue("encrypt.key-secret", out var secretId))
                options = options with { EncryptionKey = Secret(secretId) };
            options = ImageOpenOptions.Apply(options, kv);
        }
        return ImageOpener.Open(path, options with { Format = format, MetadataOnly = metadataOnly });
    }
}
