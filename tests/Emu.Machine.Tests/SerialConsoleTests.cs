using System.Text;
using Emu.Block.Qcow2;

namespace Emu.Machine.Tests;

/// <summary>The serial console takes keyboard input: what the host sends reaches the guest's COM1 receiver.</summary>
public class SerialConsoleTests
{
    [Fact]
    public void GuestEchoesWhatTheHostTypes() => TestGuests.InTempDir("emu-serial-", dir =>
    {
        string disk = TestGuests.BootDisk(dir, "serial-echo.asm");
        var (status, output) = TestGuests.RunWithSerial(disk, new MemoryStream(Encoding.ASCII.GetBytes("hello, serial 42\n")));
        Assert.Equal(33, status);
        Assert.EndsWith("HELLO, SERIAL 42\n", output);
    });

    [Fact]
    public void EndlessInputTheGuestNeverReadsStaysBounded() => TestGuests.InTempDir("emu-serial-", dir =>
    {
        // No bootable disk: SeaBIOS ends up waiting, and nothing reads COM1 for the whole run.
        string disk = Path.Combine(dir, "empty.qcow2");
        Qcow2Creator.Create(disk, new Qcow2CreateOptions { Size = 1 << 20 });
        var input = new EndlessStream();
        int status;
        using (var pc = new Pc(new MachineConfig { Disks = [new DiskConfig { Path = disk }], Serial = "stdio", Timeout = 2 }, Stream.Null))
        {
            pc.AttachSerialInput(input);
            status = pc.Run();
        }
        Assert.Equal(Pc.ExitTimeout, status);
        Assert.InRange(input.BytesRead, Pc.SerialInputBacklog, 2L * Pc.SerialInputBacklog);
    });

    /// <summary>An input without end, like <c>&lt; /dev/zero</c>, that counts what was taken from it.</summary>
    private sealed class EndlessStream : Stream
    {
        private long _read;

        public long BytesRead => Interlocked.Read(ref _read);

        public override int Read(byte[] buffer, int offset, int count)
        {
            Array.Fill(buffer, (byte)'y', offset, count);
            Interlocked.Add(ref _read, count);
            return count;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
