using System.Globalization;

namespace Emu.Machine;

/// <summary>QEMU-style human monitor: reads commands on a background thread, runs them on the machine thread.</summary>
public sealed class Monitor
{
    private readonly Pc _pc;
    private readonly TextReader _input;
    private readonly TextWriter _output;
    private readonly Snapshots _snapshots;

    public Monitor(Pc pc, TextReader input, TextWriter output)
    {
        _pc = pc;
        _input = input;
        _output = output;
        _snapshots = new Snapshots(pc);
    }

    /// <summary>Starts reading commands; each runs between CPU slices, and the next is read once it finished.</summary>
    public void Start()
    {
        var thread = new Thread(ReadLoop) { IsBackground = true, Name = "monitor" };
        thread.Start();
    }

    private void ReadLoop()
    {
        _output.WriteLine("Emu monitor - type 'help' for more information");
        while (true)
        {
            _output.Write("(emu) ");
            _output.Flush();
            string? line = _input.ReadLine();
            if (line == null)
                return;
            using var done = new ManualResetEventSlim();
            _pc.Post(() =>
            {
                try
                {
                    Execute(line);
                }
                finally
                {
                    done.Set();
                }
            });
            done.Wait();
        }
    }

    /// <summary>Runs one command on the machine thread and prints its output.</summary>
    public void Execute(string line)
    {
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (words.Length == 0)
            return;
        try
        {
            switch (words[0])
            {
                case "savevm":
                    string name = words.Length > 1 ? words[1] : DateTime.Now.ToString("'vm-'yyyyMMddHHmmss", CultureInfo.InvariantCulture);
                    _snapshots.Save(name);
                    break;
                case "loadvm":
                    _snapshots.Load(Arg(words, "loadvm"));
                    break;
                case "delvm":
                    _snapshots.Delete(Arg(words, "delvm"));
                    break;
                case "info":
                    Info(words.Length > 1 ? words[1] : "");
                    break;
                case "stop":
                    _pc.Paused = true;
                    break;
                case "cont" or "c":
                    _pc.Paused = false;
                    break;
                case "system_reset":
                    _pc.Bus.Request(Emu.Hardware.MachineRequest.Reset);
                    break;
                case "quit" or "q":
                    _pc.RequestQuit();
                    break;
                case "help" or "?":
                    _output.WriteLine("savevm [name] | loadvm name | delvm name | info snapshots|registers|block|status|screen|cpustats | stop | cont | system_reset | quit");
                    break;
                default:
                    _output.WriteLine($"unknown command: '{words[0]}'");
                    break;
            }
        }
        catch (Exception e) when (e is MachineException or Emu.Block.BlockException or IOException)
        {
            _output.WriteLine($"Error: {e.Message}");
        }
        _output.Flush();
    }

    private static string Arg(string[] words, string command) =>
        words.Length > 1 ? words[1] : throw new MachineException($"{command}: a snapshot name is required");

    private void Info(string what)
    {
        switch (what)
        {
            case "snapshots":
                _snapshots.List(_output);
                break;
            case "status":
                _output.WriteLine($"VM status: {(_pc.Paused ? "paused" : "running")}");
                break;
            case "block":
                foreach (var d in _pc.Disks)
                    _output.WriteLine($"{Path.GetFileName(d.Driver.FileName)}: {d.Driver.FileName} ({d.Driver.Format}{(d.ReadOnly ? ", read-only" : "")})");
                break;
            case "registers":
                var c = _pc.Cpu;
                _output.WriteLine($"EAX={c.Eax:x8} EBX={c.Ebx:x8} ECX={c.Ecx:x8} EDX={c.Edx:x8}");
                _output.WriteLine($"ESI={c.Esi:x8} EDI={c.Edi:x8} EBP={c.Ebp:x8} ESP={c.Esp:x8}");
                _output.WriteLine($"EIP={c.Eip:x8} EFL={c.Eflags:x8} CPL={c.Cpl} {(c.ProtectedMode ? "protected" : "real")} mode HLT={(c.Halted ? 1 : 0)}");
                _output.WriteLine($"CR0={c.Cr0:x8} CR2={c.Cr2:x8} CR3={c.Cr3:x8} CR4={c.Cr4:x8}");
                break;
            case "screen":
                foreach (var l in _pc.Vga.GetTextLines())
                    _output.WriteLine(l);
                break;
            case "cpustats":
                _output.WriteLine(_pc.CpuStats());
                break;
            default:
                _output.WriteLine("info snapshots|registers|block|status|screen|cpustats");
                break;
        }
    }
}
