using System.Globalization;

namespace Emu.Block.Qcow2;

/// <summary>The snapshot list as qemu-img and QEMU's monitor print it.</summary>
public static class SnapshotTable
{
    public static void Write(TextWriter w, IEnumerable<Qcow2Snapshot> snapshots, bool showIds = true)
    {
        w.WriteLine($"{"ID",-9} {"TAG",-17} {"VM SIZE",7}{"DATE",20}{"VM CLOCK",13}{"ICOUNT",11}");
        foreach (var s in snapshots)
        {
            string date = s.Date.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            ulong ms = s.VmClockNs / 1_000_000;
            string clock = $"{ms / 3_600_000:D2}:{ms / 60_000 % 60:D2}:{ms / 1000 % 60:D2}.{ms % 1000:D3}";
            string icount = s.Icount == -1 ? "" : s.Icount.ToString(CultureInfo.InvariantCulture);
            string id = showIds ? s.Id : "--";
            w.WriteLine($"{id,-9} {s.Name,-17} {SizeFormat.ToHuman(s.VmStateSize),7} {date,19}{" " + clock,13}{icount,11}");
        }
    }
}
