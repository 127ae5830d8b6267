namespace Emu.Cli;

/// <summary>getopt-style parsing as QEMU's tools do it: short options (some taking an argument), long options, operands.</summary>
public sealed class GetOpt
{
    private readonly List<(string Name, string? Value)> _options = [];

    public List<string> Operands { get; } = [];

    /// <param name="args">The arguments after the subcommand.</param>
    /// <param name="shortWithArg">Short option letters that take an argument, e.g. "fFboO".</param>
    /// <param name="shortFlags">Short option letters without an argument.</param>
    /// <param name="longWithArg">Long options taking an argument (without the dashes).</param>
    /// <param name="longFlags">Long options without an argument.</param>
    public GetOpt(IReadOnlyList<string> args, string shortWithArg, string shortFlags, string[]? longWithArg = null, string[]? longFlags = null)
    {
        longWithArg ??= [];
        longFlags ??= [];
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                Operands.AddRange(args.Skip(i + 1));
                break;
            }
            if (a.StartsWith("--"))
            {
                string name = a[2..];
                string? value = null;
                int eq = name.IndexOf('=');
                if (eq >= 0)
                {
                    value = name[(eq + 1)..];
                    name = name[..eq];
                }
                if (longWithArg.Contains(name))
                {
                    if (value == null)
                    {
                        if (++i >= args.Count)
                            throw new UsageException($"option '--{name}' requires an argument") { ImgMessage = $"missing argument for option '--{name}'" };
                        value = args[i];
                    }
                    _options.Add((name, value));
                }
                else if (longFlags.Contains(name) && value == null)
                {
                    _options.Add((name, null));
                }
                else
                {
                    throw new UsageException($"unrecognized option '{a}'") { ImgMessage = $"unrecognized option '{a}'" };
                }
                continue;
            }
            if (a.Length > 1 && a[0] == '-')
            {
                for (int j = 1; j < a.Length; j++)
                {
                    char c = a[j];
                    if (shortWithArg.Contains(c))
                    {
                        string value;
                        if (j + 1 < a.Length)
                            value = a[(j + 1)..];
                        else if (++i < args.Count)
                            value = args[i];
                        else
                            throw new UsageException($"option requires an argument -- '{c}'") { ImgMessage = $"missing argument for option '-{c}'" };
                        _options.Add((c.ToString(), value));
                        break;
                    }
                    if (!shortFlags.Contains(c))
                        throw new UsageException($"invalid option -- '{c}'") { ImgMessage = $"unrecognized option '-{c}'" };
                    _options.Add((c.ToString(), null));
                }
                continue;
            }
            Operands.Add(a);
        }
    }

    /// <summary>Every option given, in command-line order.</summary>
    public IReadOnlyList<(string Name, string? Value)> All => _options;

    public bool Has(string name) => _options.Exists(o => o.Name == name);

    /// <summary>The last value given for an option (later options override earlier ones), or null.</summary>
    public string? Get(string name) => _options.FindLast(o => o.Name == name).Value;

    public IEnumerable<string> GetAll(string name) => _options.Where(o => o.Name == name).Select(o => o.Value ?? "");
}
