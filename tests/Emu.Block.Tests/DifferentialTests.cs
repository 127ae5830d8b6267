namespace Emu.Block.Tests;

/// <summary>The same seeded random workload through emu and through QEMU's tools must give identical images.</summary>
public class DifferentialTests
{
    [Theory]
    [InlineData(1, 512)]
    [InlineData(2, 4096)]
    [InlineData(3, 65536)]
    [InlineData(4, 2 << 20)]
    [InlineData(5, 65536)]
    [InlineData(6, 4096)]
    [InlineData(7, 1024)]
    [InlineData(8, 2048)]
    [InlineData(9, 8192)]
    [InlineData(10, 16384)]
    [InlineData(11, 32768)]
    [InlineData(12, 131072)]
    [InlineData(13, 262144)]
    [InlineData(14, 524288)]
    [InlineData(15, 1 << 20)]
    [InlineData(16, 65536, "compression_type=zstd")]
    [InlineData(17, 4096, "compression_type=zstd")]
    [InlineData(18, 65536, "preallocation=metadata")]
    [InlineData(19, 4096, "preallocation=falloc")]
    [InlineData(20, 16384, "extended_l2=on")]
    [InlineData(21, 65536, "extended_l2=on")]
    [InlineData(22, 32768, "extended_l2=on")]
    [InlineData(23, 2 << 20, "extended_l2=on")]
    [InlineData(24, 131072, "extended_l2=on")]
    public void RandomWorkloadMatchesQemu(int seed, int clusterSize, string options = "")
    {
        using var dir = new TempDir();
        string ours = dir.File("ours.qcow2"), twin = dir.File("twin.qcow2");
        long size = (24L << 20) + 8192;
        string[] create = ["create", "-q", "-f", "qcow2", "-o", $"cluster_size={clusterSize}{(options == "" ? "" : "," + options)}"];
        Assert.Equal(0, Tools.Img([.. create, ours, size.ToString()]).ExitCode);
        Assert.Equal(0, Tools.QemuImg([.. create, twin, size.ToString()]).ExitCode);
        var rnd = new Random(seed);
        var snapshots = new List<string>();
        var log = new List<string>();
        for (int step = 0; step < 25; step++)
        {
            int kind = rnd.Next(100);
            long len = rnd.NextInt64(1, 3L * clusterSize);
            long off = rnd.NextInt64(0, size - len);
            string[]? io = null;
            string[]? img = null;
            if (kind < 40)
                io = ["-c", $"write -P {rnd.Next(1, 256)} {off} {len}"];
            else if (kind < 52)
                io = ["-c", $"write -z {(rnd.Next(2) == 0 ? "-u " : "")}{off} {len}"];
            else if (kind < 64)
            {
                long c = off / clusterSize * clusterSize;
                int n = Math.Max(1, (int)Math.Min(3, (size - c) / clusterSize));
                long l = (long)n * clusterSize;
                io = ["-c", $"discard {c} {l}", "-c", $"write -c -P {rnd.Next(1, 256)} {c} {l}"];
            }
            else if (kind < 74)
                io = ["-c", $"discard {off} {len}"];
            else if (kind < 84)
            {
                string name = $"s{step}";
                snapshots.Add(name);
                img = ["snapshot", "-c", name];
            }
            else if (kind < 92 && snapshots.Count > 0)
                img = ["snapshot", "-a", snapshots[rnd.Next(snapshots.Count)]];
            else if (snapshots.Count > 0)
            {
                string name = snapshots[rnd.Next(snapshots.Count)];
                snapshots.Remove(name);
                img = ["snapshot", "-d", name];
            }
            else
                io = ["-c", $"write -P 7 {off} {len}"];

            if (io != null)
            {
                log.Add(string.Join(' ', io));
                var a = Tools.Io([.. io, ours]);
                var b = Tools.QemuIo([.. io, twin]);
                Assert.True(a.ExitCode == b.ExitCode, $"step {step} {string.Join(' ', io)}: emu {a.ExitCode} {a.Err} / qemu {b.ExitCode} {b.Err}");
            }
            else
            {
                log.Add(string.Join(' ', img!));
                var a = Tools.Img([.. img!, ours]);
                var b = Tools.QemuImg([.. img!, twin]);
                Assert.True(a.ExitCode == b.ExitCode, $"step {step} {string.Join(' ', img!)}: emu {a.ExitCode} {a.Err} / qemu {b.ExitCode} {b.Err}");
            }
            var cmp = Tools.QemuImg("compare", ours, twin);
            Assert.True(cmp.ExitCode == 0, $"after step {step}: {cmp.Out}{cmp.Err}\n{string.Join('\n', log)}");
            var check = Tools.QemuImg("check", ours);
            Assert.True(check.ExitCode == 0, $"after step {step}: {check.Out}{check.Err}\n{string.Join('\n', log)}");
        }
        Assert.Equal(Tools.QemuImg("snapshot", "-l", twin).Out.Split('\n').Length, Tools.QemuImg("snapshot", "-l", ours).Out.Split('\n').Length);
    }
}
