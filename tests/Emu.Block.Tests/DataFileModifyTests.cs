using System.Security.Cryptography;

namespace Emu.Block.Tests;

/// <summary>resize, commit and amend on images with an external data file: each scenario runs once with qemu-img
/// 7.2 and once with emu img on identical inputs, and the resulting files must agree.</summary>
public class DataFileModifyTests
{
    private delegate Tools.Result ImgTool(params string[] args);

    private static readonly ImgTool Qemu = Tools.QemuImg;
    private static readonly ImgTool Emu = Tools.Img;

    // What the two tools' results are compared by: exit code, message without the program name, and for each image
    // its map, check summary and guest content, and each data file's length and bytes. Paths become "DIR".
    private static List<string> Outcome(string dir, Tools.Result r, params string[] images)
    {
        var facts = new List<string> { $"exit {r.ExitCode}", Strip(r.Err, dir) };
        foreach (var image in images)
        {
            string path = Path.Combine(dir, image);
            facts.Add(image + " map " + Tools.QemuImg("map", "--output=json", path).Out);
            var check = Tools.QemuImg("check", path);
            facts.Add($"{image} check {check.ExitCode} " + Strip(check.Out, dir).Split('\n').FirstOrDefault());
            var info = Tools.QemuImg("info", path).Out.Split('\n').Where(l => l.Contains("data file") || l.Contains("virtual size"));
            facts.Add(image + " " + Strip(string.Join("|", info), dir));
            string flat = Path.Combine(dir, image + ".flat");
            Assert.Equal(0, Tools.QemuImg("convert", "-O", "raw", path, flat).ExitCode);
            facts.Add(image + " content " + Hash(flat));
            File.Delete(flat);
        }
        foreach (var data in Directory.GetFiles(dir, "*.raw").Order())
            facts.Add($"{Path.GetFileName(data)} {new FileInfo(data).Length} {Hash(data)}");
        return facts;
    }

    private static string Strip(string text, string dir) =>
        text.Replace(dir, "DIR").Replace("qemu-img: ", "").Replace("emu img: ", "").Trim();

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    // Runs setup then the step with each tool in its own folder and asserts both folders end up alike.
    private static void SameAsQemu(Action<string> setup, Func<ImgTool, string, Tools.Result> step, params string[] images)
    {
        using var qemuDir = new TempDir();
        using var emuDir = new TempDir();
        setup(qemuDir.Path);
        setup(emuDir.Path);
        var expected = Outcome(qemuDir.Path, step(Qemu, qemuDir.Path), images);
        var actual = Outcome(emuDir.Path, step(Emu, emuDir.Path), images);
        Assert.Equal(expected, actual);
    }

    private static void Create(string dir, string image, string size, string options) =>
        Assert.Equal(0, Tools.QemuImg("create", "-q", "-f", "qcow2", "-o", options.Replace("DIR", dir), Path.Combine(dir, image), size).ExitCode);

    private static void Io(string dir, string image, params string[] commands)
    {
        var args = commands.SelectMany(c => new[] { "-c", c }).Append(Path.Combine(dir, image)).ToArray();
        var r = Tools.QemuIo(args);
        Assert.True(r.ExitCode == 0 && !r.Out.Contains("failed"), r.Out + r.Err);
    }

    [Theory]
    [InlineData("on", "3M")]
    [InlineData("off", "3M")]
    [InlineData("on", "+1000k")]
    [InlineData("off", "+1000k")]
    public void ResizeGrowsTheDataFileLikeQemuImg(string raw, string size) =>
        SameAsQemu(dir =>
        {
            Create(dir, "a.qcow2", "1M", $"data_file=DIR/a.raw,data_file_raw={raw}");
            Io(dir, "a.qcow2", "write -P 1 0 1M");
        }, (tool, dir) => tool("resize", Path.Combine(dir, "a.qcow2"), size), "a.qcow2");

    [Theory]
    [InlineData("on")]
    [InlineData("off")]
    public void ResizeShrinksTheDataFileLikeQemuImg(string raw) =>
        SameAsQemu(dir =>
        {
            Create(dir, "a.qcow2", "2M", $"data_file=DIR/a.raw,data_file_raw={raw}");
            Io(dir, "a.qcow2", "write -P 1 0 2M");
        }, (tool, dir) =>
        {
            string img = Path.Combine(dir, "a.qcow2");
            var refused = tool("resize", img, "1M");
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("Use the --shrink option", refused.Err);
            var shrunk = tool("resize", "--shrink", img, "300K");
            Assert.Equal(0, shrunk.ExitCode);
            // Growing again must show zeroes where the cut-off data was.
            return tool("resize", img, "1M");
        }, "a.qcow2");

    [Fact]
    public void AmendSizeResizesTheDataFileLikeQemuImg() =>
        SameAsQemu(dir =>
        {
            Create(dir, "a.qcow2", "1M", "data_file=DIR/a.raw,data_file_raw=on");
            Io(dir, "a.qcow2", "write -P 7 0 1M");
        }, (tool, dir) =>
        {
            string img = Path.Combine(dir, "a.qcow2");
            Assert.Equal(0, tool("amend", "-o", "size=3M", img).ExitCode);
            return tool("amend", "-o", "size=512K", img);
        }, "a.qcow2");

    [Theory]
    [InlineData("data_file=DIR/o.raw", "")]                       // overlay with a data file onto a plain base
    [InlineData("", "data_file=DIR/b.raw")]                       // plain overlay onto a base with a data file
    [InlineData("", "data_file=DIR/b.raw,data_file_raw=on")]      // ... a raw one
    [InlineData("data_file=DIR/o.raw", "data_file=DIR/b.raw")]    // both
    public void CommitWithDataFilesLikeQemuImg(string overlayOptions, string baseOptions) =>
        SameAsQemu(dir =>
        {
            Create(dir, "base.qcow2", "2M", baseOptions == "" ? "compat=1.1" : baseOptions);
            Io(dir, "base.qcow2", "write -P 1 0 2M");
            string backing = $"backing_file={Path.Combine(dir, "base.qcow2")},backing_fmt=qcow2";
            Create(dir, "ov.qcow2", "2M", overlayOptions == "" ? backing : $"{overlayOptions},{backing}");
            Io(dir, "ov.qcow2", "write -P 2 64k 128k", "write -z 512k 64k", "discard 1M 64k", "write -P 3 1900k 10k");
        }, (tool, dir) => tool("commit", Path.Combine(dir, "ov.qcow2")), "base.qcow2", "ov.qcow2");

    [Theory]
    [InlineData("data_file=DIR/a.raw", "data_file=DIR/e.raw")]
    [InlineData("data_file=DIR/a.raw", "data_file=")]
    [InlineData("data_file=DIR/a.raw", "data_file_raw=on")]
    [InlineData("data_file=DIR/a.raw", "data_file_raw=off")]
    [InlineData("data_file=DIR/a.raw", "data_file=DIR/e.raw,data_file_raw=on")]
    [InlineData("data_file=DIR/a.raw,data_file_raw=on", "data_file_raw=on")]
    [InlineData("data_file=DIR/a.raw,data_file_raw=on", "data_file_raw=off")]
    [InlineData("data_file=DIR/a.raw,data_file_raw=on", "data_file=DIR/e.raw")]
    [InlineData("data_file=DIR/a.raw", "compat=0.10")]
    [InlineData("compat=1.1", "data_file=DIR/e.raw")]
    [InlineData("compat=1.1", "data_file_raw=on")]
    [InlineData("compat=1.1", "data_file_raw=off")]
    [InlineData("data_file=DIR/a.raw", "size=2M,data_file_raw=on")]   // refused before anything changes
    [InlineData("compat=1.1", "size=2M,data_file=DIR/e.raw")]
    public void AmendDataFileOptionsLikeQemuImg(string createOptions, string amendOptions)
    {
        var results = new List<string>();
        foreach (var tool in new[] { Qemu, Emu })
        {
            using var dir = new TempDir();
            Create(dir.Path, "a.qcow2", "1M", createOptions);
            string img = Path.Combine(dir.Path, "a.qcow2");
            var r = tool("amend", "-o", amendOptions.Replace("DIR", dir.Path), img);
            // Header fields read back through qemu-img info (a dropped name leaves an image no tool can open).
            var info = Tools.QemuImg("info", "--output=json", img);
            results.Add($"{r.ExitCode} {Strip(r.Err, dir.Path)} {info.ExitCode} {Strip(info.Out + info.Err, dir.Path)}");
        }
        Assert.Equal(results[0], results[1]);
    }

    [Fact]
    public void AmendRefusesADataFileNameThatDoesNotFitAndLeavesTheImageAlone()
    {
        using var dir = new TempDir();
        Create(dir.Path, "a.qcow2", "1M", "data_file=DIR/a.raw,cluster_size=512");
        string img = dir.File("a.qcow2");
        foreach (int length in new[] { 400, 5000 })
        {
            var q = Tools.QemuImg("amend", "-o", "data_file=" + new string('x', length), img);
            var e = Tools.Img("amend", "-o", "data_file=" + new string('x', length), img);
            Assert.Equal(q.ExitCode, e.ExitCode);
            Assert.Equal(1, e.ExitCode);
            Assert.Equal(Strip(q.Err, dir.Path), Strip(e.Err, dir.Path));
        }
        Assert.Contains($"data file: {dir.File("a.raw")}", Tools.QemuImg("info", img).Out);
        Tools.AssertQemuCheckClean(img);
    }
}
