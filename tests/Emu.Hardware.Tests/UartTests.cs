using Emu.Hardware;

namespace Emu.Hardware.Tests;

public class UartTests
{
    private const ushort Com1 = 0x3F8;
    private readonly Bus bus = new(1 << 20);
    private readonly Pic8259 pic;
    private readonly Uart16550 uart;
    private readonly List<byte> sent = new();

    public UartTests()
    {
        pic = new Pic8259(bus);
        PicTests.Init(bus);
        uart = new Uart16550(bus, sent.Add);
    }

    private byte In(int register) => bus.Io.In8((ushort)(Com1 + register));
    private void Out(int register, byte value) => bus.Io.Out8((ushort)(Com1 + register), value);

    [Fact]
    public void TransmitGoesToSinkAndDivisorLatchWorks()
    {
        Out(3, 0x80);
        Out(0, 0x01);
        Out(1, 0x00);
        Assert.Equal(0x01, In(0));
        Assert.Equal(115200, uart.BaudRate);
        Out(3, 0x03);
        Out(0, (byte)'A');
        Assert.Equal([(byte)'A'], sent);
        Assert.Equal(0x60, In(5) & 0x60);
    }

    [Fact]
    public void LoopbackEchoesAndMapsModemLines()
    {
        Out(4, 0x10 | 0x01 | 0x02); // loop, DTR, RTS
        Out(0, 0x5A);
        Assert.Empty(sent);
        Assert.Equal(1, In(5) & 1);
        Assert.Equal(0x5A, In(0));
        Assert.Equal(0x30, In(6) & 0xF0); // CTS from RTS, DSR from DTR
        Out(4, 0x10 | 0x04 | 0x08);       // OUT1 -> RI, OUT2 -> DCD
        Assert.Equal(0xC0, In(6) & 0xF0);
    }

    [Fact]
    public void IirPrioritiesAndThreAcknowledge()
    {
        Assert.Equal(0x01, In(2));
        Out(1, 0x02); // THRE interrupt fires at once: THR is empty
        Assert.True(bus.IrqLevel(4));
        Assert.Equal(0x02, In(2));
        Assert.Equal(0x01, In(2)); // reading IIR cleared it
        Assert.False(bus.IrqLevel(4));

        Out(1, 0x07);
        Out(0, 0x41); // THRE again
        uart.Receive("x"u8);
        Assert.Equal(0x04, In(2)); // received data outranks THRE
        uart.ReceiveBreak();
        Assert.Equal(0x06, In(2)); // line status outranks both
        Assert.Equal(0x10, In(5) & 0x10);
        Assert.Equal(0x04, In(2));
        In(0);
        Assert.Equal(0x02, In(2));
    }

    [Fact]
    public void FifoTriggerLevelAndTimeout()
    {
        Out(2, 0x87); // FIFO on, clear both, trigger 8
        Out(1, 0x01);
        uart.Receive("abc"u8);
        Assert.Equal(0xC1, In(2)); // below trigger: nothing yet
        bus.Clock.Advance(10_000_000); // well past four character times at 9600 baud
        Assert.Equal(0xCC, In(2));
        Assert.True(pic.HasInterrupt);
        Assert.Equal(0x0C, pic.Acknowledge());
        uart.Receive("defghijk"u8);
        Assert.Equal(0xC4, In(2));
        var received = new List<byte>();
        while ((In(5) & 1) != 0)
            received.Add(In(0));
        Assert.Equal("abcdefghijk"u8.ToArray(), received.ToArray());
        Assert.Equal(0xC1, In(2));
    }

    [Fact]
    public void HostInputBeyondFifoWaitsInsteadOfOverrunning()
    {
        Out(2, 0x01);
        var text = new byte[40];
        Array.Fill(text, (byte)'z');
        uart.Receive(text);
        int count = 0;
        while ((In(5) & 1) != 0)
        {
            In(0);
            count++;
        }
        Assert.Equal(40, count);
        Assert.Equal(0, In(5) & 0x02);
    }

    [Fact]
    public void LoopbackOverrunWithoutFifo()
    {
        Out(4, 0x10);
        Out(0, 1);
        Out(0, 2);
        Assert.Equal(0x02, In(5) & 0x02);
        Assert.Equal(0, In(5) & 0x02); // cleared by the read
        Assert.Equal(1, In(0));
    }

    [Fact]
    public void ModemStatusDeltasClearOnRead()
    {
        Out(4, 0x10);
        Assert.Equal(0x0B, In(6)); // entering loopback dropped CTS, DSR and DCD
        Out(1, 0x08);
        Assert.Equal(0x01, In(2));
        Out(4, 0x12); // RTS -> CTS changes
        Assert.Equal(0x00, In(2)); // modem status interrupt
        Assert.Equal(0x11, In(6));
        Assert.Equal(0x01, In(2));
    }

    [Fact]
    public void ScratchRegister()
    {
        Out(7, 0xA5);
        Assert.Equal(0xA5, In(7));
    }
}
