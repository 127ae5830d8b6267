using System.Diagnostics;
using Emu.Block;

namespace Emu.Block.Tests;

/// <summary>A temporary folder removed after the test.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("emu-test-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Runs the real QEMU tools and emu's CLI in-process, capturing output.</summary>
public static class Tools
{
    public sealed record Result(int ExitCode, string Out, string Err);

    public static Result Qemu(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {tool}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(true);
            throw new TimeoutException($"{tool} timed out");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static Result QemuImg(params string[] args) => Qemu("qemu-img", args);
    public static Result QemuIo(params string[] args) => Qemu("qemu-io", args);

    public static Result Img(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = Emu.Cli.Img.ImgCommand.Run(args, o, e);
        return new Result(rc, o.ToString(), e.ToString());
    }

    public static Result Io(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = Emu.Cli.Io.IoCommand.Run(args, o, e);
        return new Result(rc, o.ToString(), e.ToString());
    }

    /// <summary>Asserts qemu-img check finds the image clean (exit 0).</summary>
    public static void AssertQemuCheckClean(string path, params string[] extra)
    {
        var r = QemuImg(["check", .. extra, path]);
        Assert.True(r.ExitCode == 0, $"qemu-img check failed ({r.ExitCode}):\n{r.Out}\n{r.Err}");
    }

    /// <summary>Output lines without qemu-io's timing lines.</summary>
    public static string[] WithoutTiming(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.Contains(" ops; ")).ToArray();
}

/// <summary>Helpers to make data patterns and open images.</summary>
public static class Data
{
    public static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static BlockDriver Open(string path, bool readOnly = false) =>
        ImageOpener.Open(path, new ImageOptions { ReadOnly = readOnly });
}
