using System.Diagnostics;
using Emu.Machine;

namespace Emu.Machine.Tests;

/// <summary>Differential CPU tests: each guest under roms/cpu/ boots on Emu's PC and on
/// qemu-system-i386 (TCG) from the same raw disk, and the two debug-console transcripts must match.</summary>
public class CpuOracleTests
{
    private const int ExitStatus = 33;   // isa-debug-exit value 0x10
    private const int TimeoutSeconds = 60;

    [Theory]
    [InlineData("alu16", 2000)]
    [InlineData("alu32", 2000)]
    [InlineData("strings", 700)]
    [InlineData("x87", 6000)]
    [InlineData("pmode", 50)]
    [InlineData("invalid", 110)]
    [InlineData("paging", 50)]
    public async Task TranscriptMatchesQemu(string guest, int minLines)
    {
        string dir = Directory.CreateTempSubdirectory("emu-cpu-").FullName;
        try
        {
            string disk = Path.Combine(dir, guest + ".img");
            BuildDisk(guest, disk);
            string qemuLog = Path.Combine(dir, "qemu.txt"), emuLog = Path.Combine(dir, "emu.txt");
            var qemu = Task.Run(() => RunQemu(disk, qemuLog));

            int status;
            var cfg = new MachineConfig
            {
                Disks = [new DiskConfig { Path = disk, Format = "raw", Snapshot = true }],
                Serial = "none",
                Debugcon = "file:" + emuLog,
                Timeout = TimeoutSeconds,
            };
            using (var pc = new Pc(cfg, Stream.Null))
                status = pc.Run();
            int qemuStatus = await qemu;

            var theirs = Results(File.ReadAllText(qemuLog));
            var ours = Results(File.ReadAllText(emuLog));
            Assert.True(qemuStatus == ExitStatus, $"qemu-system-i386 exit status {qemuStatus}\n{string.Join('\n', theirs.TakeLast(20))}");
            Assert.True(theirs.Count >= minLines, $"qemu transcript has only {theirs.Count} result lines");
            Assert.True(status == ExitStatus, $"Emu exit status {status}; first difference:\n{FirstDifference(theirs, ours)}");
            Assert.True(theirs.SequenceEqual(ours), $"transcripts differ:\n{FirstDifference(theirs, ours)}");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>The guest's lines between its @@BEGIN and @@END markers (the firmware logs to the same console).</summary>
    private static List<string> Results(string transcript)
    {
        var lines = transcript.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        int begin = lines.FindIndex(l => l.StartsWith("@@BEGIN "));
        if (begin < 0)
            return [];
        int end = lines.FindIndex(begin, l => l == "@@END");
        return lines.Skip(begin).Take(end < 0 ? lines.Count - begin : end - begin + 1).ToList();
    }

    private static string FirstDifference(List<string> theirs, List<string> ours)
    {
        for (int i = 0; i < Math.Max(theirs.Count, ours.Count); i++)
        {
            string? t = i < theirs.Count ? theirs[i] : null, o = i < ours.Count ? ours[i] : null;
            if (t != o)
                return $"line {i + 1}\n  qemu: {t ?? "<end>"}\n  emu:  {o ?? "<end>"}";
        }
        return "none";
    }

    private static void BuildDisk(string guest, string disk)
    {
        string src = Path.Combine(DemoGuestTests.ProjectRoot(), "roms", "cpu");
        var psi = new ProcessStartInfo("nasm") { RedirectStandardError = true };
        foreach (var a in new[] { "-f", "bin", "-i", src + "/", "-o", disk, Path.Combine(src, guest + ".asm") })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, err);
        using var f = new FileStream(disk, FileMode.Open);
        f.SetLength(1 << 20);
    }

    private static int RunQemu(string disk, string log)
    {
        var psi = new ProcessStartInfo("qemu-system-i386") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[]
        {
            "-accel", "tcg", "-m", "128", "-drive", $"file={disk},format=raw,if=ide,snapshot=on",
            "-display", "none", "-serial", "none", "-monitor", "none", "-no-reboot",
            "-debugcon", "file:" + log, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        _ = p.StandardOutput.ReadToEndAsync();
        _ = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeoutSeconds * 1000))
        {
            p.Kill();
            return 124;
        }
        return p.ExitCode;
    }
}
