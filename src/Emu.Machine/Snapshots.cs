using Emu.Block;
using Emu.Block.Qcow2;
using Emu.X86;

namespace Emu.Machine;

/// <summary>savevm / loadvm / delvm: whole-machine snapshots stored in the boot disk's qcow2 vm-state area.</summary>
public sealed class Snapshots(Pc pc)
{
    private const int ChunkBytes = 1 << 20;

    private IEnumerable<Qcow2Driver> Qcow2Disks()
    {
        foreach (var d in pc.Disks)
        {
            if (d.Driver is Qcow2Driver q)
                yield return q;
            else if (!d.Driver.ReadOnly)
                throw new MachineException($"Device '{d.Driver.FileName}' is writable but does not support snapshots");
        }
    }

    private Qcow2Driver StateDisk => Qcow2Disks().FirstOrDefault()
        ?? throw new MachineException("No block device supports snapshots");

    /// <summary>Saves the machine (paused meanwhile) under name, replacing a snapshot of that name; returns the state size.</summary>
    public long Save(string name) => pc.WhilePaused(() => SavePaused(name));

    private long SavePaused(string name)
    {
        var disks = Qcow2Disks().ToList();
        var stateDisk = StateDisk;
        pc.DrainDisks();
        byte[] state = VmStateFormat.Write(Capture());
        foreach (var d in disks)
            if (d.FindSnapshot(name) is { } old && old.Name == name)
                d.DeleteSnapshot(old.Id);
        // The state is written and flushed first; the snapshot that makes it visible comes last.
        for (int pos = 0; pos < state.Length; pos += ChunkBytes)
            stateDisk.WriteVmState(pos, state.AsSpan(pos, Math.Min(ChunkBytes, state.Length - pos)));
        stateDisk.Flush();
        ulong clock = (ulong)pc.Bus.Clock.Now;
        foreach (var d in disks)
            d.CreateSnapshot(name, d == stateDisk ? state.Length : 0, clock);
        return state.Length;
    }

    private List<VmSection> Capture()
    {
        var machine = new MemoryStream();
        using (var w = new BinaryWriter(machine))
        {
            w.Write((long)pc.Bus.Memory.Ram.Length);
            w.Write(pc.Bus.Devices.Count);
            foreach (var d in pc.Bus.Devices)
                w.Write(d.Name);
        }
        var cpu = new MemoryStream();
        using (var w = new BinaryWriter(cpu))
            pc.Cpu.SaveState().Write(w);
        var devices = new MemoryStream();
        using (var w = new BinaryWriter(devices))
            pc.Bus.SaveState(w);
        return
        [
            new VmSection("machine", 1, machine.ToArray()),
            new VmSection("cpu", 1, cpu.ToArray()),
            new VmSection("devices", 1, devices.ToArray()),
            new VmSection("ram", 1, VmStateFormat.PackRam(pc.Bus.Memory.Ram)),
        ];
    }

    /// <summary>Checks the whole saved state, then reverts every disk to the snapshot and restores the machine.</summary>
    public void Load(string name) => pc.WhilePaused(() => LoadPaused(name));

    private void LoadPaused(string name)
    {
        var disks = Qcow2Disks().ToList();
        var stateDisk = StateDisk;
        var snap = stateDisk.FindSnapshot(name) ?? throw new MachineException($"Snapshot '{name}' does not exist");
        foreach (var d in disks)
            if (d.FindSnapshot(name) == null)
                throw new MachineException($"Snapshot '{name}' does not exist on '{d.FileName}'");
        if (snap.VmStateSize <= 0)
            throw new MachineException($"Snapshot '{name}' has no machine state (a disk-only snapshot)");
        if (snap.VmStateSize > 4L << 30)
            throw new MachineException($"Snapshot '{name}' claims {snap.VmStateSize} bytes of machine state, more than any Emu machine saves");
        var state = new byte[snap.VmStateSize];
        for (long pos = 0; pos < state.Length; pos += ChunkBytes)
            stateDisk.ReadSnapshotVmState(name, pos, state.AsSpan((int)pos, (int)Math.Min(ChunkBytes, state.Length - pos)));

        // Verify everything before touching the machine or the disks.
        var sections = VmStateFormat.Read(state).ToDictionary(s => s.Name);
        foreach (var needed in new[] { "machine", "cpu", "devices", "ram" })
            if (!sections.TryGetValue(needed, out var s) || s.Version != 1)
                throw new MachineException($"The saved machine state lacks a usable '{needed}' section");
        CheckMachine(sections["machine"].Data);
        var cpuState = CpuState.Read(new BinaryReader(new MemoryStream(sections["cpu"].Data)));
        var ram = new byte[pc.Bus.Memory.Ram.Length];
        VmStateFormat.UnpackRam(sections["ram"].Data, ram);

        pc.DrainDisks();
        foreach (var d in disks)
            d.ApplySnapshot(name);
        pc.Bus.LoadState(new BinaryReader(new MemoryStream(sections["devices"].Data)));
        ram.CopyTo(pc.Bus.Memory.Ram, 0);
        pc.Cpu.LoadState(cpuState);
        pc.AfterStateLoad();
    }

    private void CheckMachine(byte[] data)
    {
        var r = new BinaryReader(new MemoryStream(data));
        long ram = r.ReadInt64();
        if (ram != pc.Bus.Memory.Ram.Length)
            throw new MachineException($"The snapshot was taken with {ram >> 20} MiB of RAM; this machine has {pc.Bus.Memory.Ram.Length >> 20} MiB");
        int count = r.ReadInt32();
        var names = new List<string>();
        for (int i = 0; i < count; i++)
            names.Add(r.ReadString());
        var ours = pc.Bus.Devices.Select(d => d.Name).ToList();
        if (!names.SequenceEqual(ours))
            throw new MachineException($"The snapshot's devices ({string.Join(", ", names)}) differ from this machine's ({string.Join(", ", ours)})");
    }

    public void Delete(string name)
    {
        bool found = false;
        foreach (var d in Qcow2Disks())
        {
            if (d.FindSnapshot(name) == null)
                continue;
            d.DeleteSnapshot(name);
            found = true;
        }
        if (!found)
            throw new MachineException($"Snapshot '{name}' not found");
    }

    public void List(TextWriter w)
    {
        var disk = StateDisk;
        if (disk.Snapshots.Count == 0)
        {
            w.WriteLine("There is no snapshot available.");
            return;
        }
        w.WriteLine("List of snapshots present on all disks:");
        SnapshotTable.Write(w, disk.Snapshots.Where(s => s.VmStateSize > 0).ToList(), showIds: false);
    }
}
