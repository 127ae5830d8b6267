using System.Diagnostics;
using System.Text;
using Emu.Block;
using Emu.Block.Qcow2;

namespace Emu.Machine.Tests;

/// <summary>The serial console takes keyboard input: what the host sends reaches the guest's COM1 receiver.</summary>
public class SerialConsoleTests
{
    [Fact]
    public void GuestEchoesWhatTheHostTypes()
    {
        string dir = Directory.CreateTempSubdirectory("emu-serial-").FullName;
        try
        {
            string disk = Path.Combine(dir, "echo.qcow2");
            string source = Path.Combine(DemoGuestTests.ProjectRoot(), "roms", "tests", "serial-echo.asm");
            var nasm = Process.Start(new ProcessStartInfo("nasm", $"-f bin -o {disk}.bin {source}"))!;
            nasm.WaitForExit();
            Assert.Equal(0, nasm.ExitCode);
            Qcow2Creator.Create(disk, new Qcow2CreateOptions { Size = 4 << 20 });
            using (var d = ImageOpener.Open(disk))
                d.Write(0, File.ReadAllBytes(disk + ".bin"));
            var screen = new MemoryStream();
            int status;
            using (var pc = new Pc(new MachineConfig { Disks = [new DiskConfig { Path = disk }], Serial = "stdio", Timeout = 60 }, screen))
            {
                pc.AttachSerialInput(new MemoryStream(Encoding.ASCII.GetBytes("hello, serial 42\n")));
                status = pc.Run();
            }
            string output = Encoding.ASCII.GetString(screen.ToArray());
            Assert.Equal(33, status);
            Assert.EndsWith("HELLO, SERIAL 42\n", output);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
