using System.Diagnostics;
using Emu.Block;
using Emu.Block.Qcow2;

namespace Emu.Machine.Tests;

/// <summary>What the machine tests share: temporary folders and disks holding the project's boot-sector test guests.</summary>
public static class TestGuests
{
    /// <summary>Runs <paramref name="test"/> with a fresh temporary folder that is deleted afterwards.</summary>
    public static void InTempDir(string prefix, Action<string> test)
    {
        string dir = Directory.CreateTempSubdirectory(prefix).FullName;
        try
        {
            test(dir);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>Assembles <c>roms/tests/<paramref name="source"/></c> with nasm (with <paramref name="defines"/> as -D
    /// options) and writes it at sector 0 of a new <paramref name="format"/> image of <paramref name="size"/> bytes in
    /// <paramref name="dir"/>; returns the image's path.</summary>
    public static string BootDisk(string dir, string source, string format = "qcow2", long size = 4 << 20, params string[] defines)
    {
        string disk = Path.Combine(dir, Path.ChangeExtension(source, format));
        string bin = disk + ".bin";
        string options = string.Concat(defines.Select(d => $"-D{d} "));
        var nasm = Process.Start(new ProcessStartInfo("nasm", $"{options}-f bin -o {bin} {Path.Combine(DemoGuestTests.ProjectRoot(), "roms", "tests", source)}")
        {
            RedirectStandardError = true,
        })!;
        string errors = nasm.StandardError.ReadToEnd();
        nasm.WaitForExit();
        Assert.True(nasm.ExitCode == 0, errors);
        if (format == "raw")
            Emu.Block.Raw.RawDriver.Create(disk, size);
        else
            Qcow2Creator.Create(disk, new Qcow2CreateOptions { Size = size });
        using (var d = ImageOpener.Open(disk, new ImageOptions { Format = format }))
            d.Write(0, File.ReadAllBytes(bin));
        return disk;
    }

    /// <summary>Boots <paramref name="disk"/> with COM1 on a buffer (and <paramref name="input"/>, if any, as what the
    /// host types) until the guest ends the run; returns the exit status and everything the guest wrote to COM1.</summary>
    public static (int Status, string Serial) RunWithSerial(string disk, Stream? input = null)
    {
        var serial = new MemoryStream();
        int status;
        using (var pc = new Pc(new MachineConfig { Disks = [new DiskConfig { Path = disk }], Serial = "stdio", Timeout = 60 }, serial))
        {
            if (input != null)
                pc.AttachSerialInput(input);
            status = pc.Run();
        }
        return (status, System.Text.Encoding.ASCII.GetString(serial.ToArray()));
    }
}
