using System.Diagnostics;
using Emu.Block;
using Emu.Block.Qcow2;

namespace Emu.Machine;

/// <summary>Builds the project's demo guest: roms/demo/demo.asm assembled by nasm onto a fresh qcow2 disk.</summary>
public static class DemoGuest
{
    public const long DiskSize = 64L << 20;

    /// <summary>Creates the demo disk at path if it is missing or older than its source.</summary>
    public static void EnsureDisk(string path, string projectRoot)
    {
        string source = Path.Combine(projectRoot, "roms", "demo", "demo.asm");
        if (!File.Exists(source))
            throw new MachineException($"{source} not found: the demo guest cannot be built");
        if (File.Exists(path) && File.GetLastWriteTimeUtc(path) >= File.GetLastWriteTimeUtc(source))
            return;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        byte[] program = Assemble(source);
        string tmp = path + ".tmp";
        Qcow2Creator.Create(tmp, new Qcow2CreateOptions { Size = DiskSize });
        using (var d = ImageOpener.Open(tmp, new ImageOptions { Format = "qcow2" }))
        {
            d.Write(0, program);
            d.Flush();
        }
        File.Move(tmp, path, true);
    }

    private static byte[] Assemble(string source)
    {
        string output = Path.Combine(Path.GetTempPath(), $"emu-demo-{Environment.ProcessId}.bin");
        var psi = new ProcessStartInfo("nasm") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-f", "bin", "-o", output, source })
            psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new MachineException($"nasm failed on {source}: {err}");
            return File.ReadAllBytes(output);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new MachineException("nasm is needed to build the demo guest: apt-get install nasm");
        }
        finally
        {
            File.Delete(output);
        }
    }
}
