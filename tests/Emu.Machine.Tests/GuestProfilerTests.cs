using System.Globalization;
using System.Text.RegularExpressions;
using Emu.Cli;
using Emu.Cli.Run;

namespace Emu.Machine.Tests;

/// <summary><c>emu run --profile</c>: a real boot (SeaBIOS, then a boot sector that spins in one loop) is charged to
/// where the guest ran, by symbol when a System.map-style file names the addresses.</summary>
public class GuestProfilerTests
{
    static readonly Regex Row = new(@"^\s*(\d+\.\d\d)% +(\d+\.\d{3}) +(\d+)  (.+)$", RegexOptions.Multiline);

    static (string Report, int Status) Profile(string dir, params string[] extra)
    {
        string disk = TestGuests.BootDisk(dir, "spin.asm");
        string report = Path.Combine(dir, "profile.txt");
        int status = RunCommand.Run(
            ["--disk", disk, "--serial", "none", "--debugcon", "none", "--monitor", "none", "--timeout", "3", "--profile", report, .. extra],
            new StringWriter());
        return (File.ReadAllText(report), status);
    }

    static List<(double Share, long Samples, string Name)> Rows(string section) =>
        Row.Matches(section).Select(m => (double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
            long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture), m.Groups[4].Value.TrimEnd('\r'))).ToList();

    [Fact]
    public void TheSpinLoopHoldsTheHottestAddressesAndItsPage()
    {
        TestGuests.InTempDir("emu-profile-", dir =>
        {
            var (report, status) = Profile(dir);
            Assert.Equal(124, status);
            var header = Regex.Match(report, @"^# emu guest profile: (\d+) samples over (\d+\.\d\d) s of host time");
            Assert.True(header.Success, report);
            Assert.True(long.Parse(header.Groups[1].Value, CultureInfo.InvariantCulture) > 100, report);
            string[] sections = report.Split("# the 50 hottest addresses");
            Assert.Equal(2, sections.Length);
            var pages = Rows(sections[0]);
            Assert.Equal(100, pages.Sum(r => r.Share), 0.5);
            // The boot sector's page outweighs SeaBIOS's: the guest spins there from well before the timeout.
            Assert.Equal("0x00007000-0x00007fff", pages[0].Name);
            Assert.True(pages[0].Share > 30, report);
            var hottest = Rows(sections[1]);
            Assert.Contains(hottest[0].Name, new[] { "0x00007c40", "0x00007c41", "0x00007c42" });
        });
    }

    [Fact]
    public void SymbolsNameTheLoopAndLeaveOtherCodeByPage()
    {
        TestGuests.InTempDir("emu-profile-", dir =>
        {
            string map = Path.Combine(dir, "System.map");
            File.WriteAllLines(map, ["00007c00 T boot_entry", "00007c40 t spin_loop", "00007c48 D spin_data", "ffffffff81000000 T too_wide"]);
            var (report, _) = Profile(dir, "--profile-symbols", map);
            var rows = Rows(report.Split("# the 50 hottest addresses")[0]);
            Assert.Equal("spin_loop", rows[0].Name);
            Assert.DoesNotContain(rows, r => r.Name is "spin_data" or "too_wide");
            // SeaBIOS is more than 64 KiB above the last symbol: its time shows by page.
            Assert.Contains(rows, r => r.Name.StartsWith("0x000f", StringComparison.Ordinal));
            Assert.Matches(@"\n\s*\d+\.\d\d% +\d+\.\d{3} +\d+  0x00007c4[0-2] spin_loop", report);
        });
    }

    [Fact]
    public void TimeWhileStoppedIsNotCharged()
    {
        TestGuests.InTempDir("emu-profile-", dir =>
        {
            string disk = TestGuests.BootDisk(dir, "spin.asm");
            var profiler = new GuestProfiler();
            using var pc = new Pc(new MachineConfig { Disks = [new DiskConfig { Path = disk }], Serial = "none", Debugcon = "none", Timeout = 5 })
            {
                Profiler = profiler,
            };
            var run = Task.Run(pc.Run);
            Thread.Sleep(1000);
            pc.Paused = true;
            Thread.Sleep(3000);
            pc.Paused = false;
            Assert.Equal(124, run.GetAwaiter().GetResult());
            // Five seconds of run, three of them stopped: about two are profiled.
            Assert.InRange(profiler.Seconds, 0.5, 3.5);
        });
    }

    [Fact]
    public void BadProfileOptionsAreRefusedBeforeTheRun()
    {
        TestGuests.InTempDir("emu-profile-", dir =>
        {
            string disk = TestGuests.BootDisk(dir, "spin.asm");
            string empty = Path.Combine(dir, "empty.map");
            File.WriteAllText(empty, "00001000 D data_only\nnot a symbol line\n");
            string[] run = ["--disk", disk, "--serial", "none", "--monitor", "none", "--timeout", "1"];
            var e = Assert.Throws<UsageException>(() => RunCommand.Run([.. run, "--profile-symbols", empty], new StringWriter()));
            Assert.Equal("--profile-symbols needs --profile FILE", e.Message);
            e = Assert.Throws<UsageException>(() => RunCommand.Run(
                [.. run, "--profile", Path.Combine(dir, "p.txt"), "--profile-symbols", empty], new StringWriter()));
            Assert.Contains("lists no code symbols", e.Message);
            e = Assert.Throws<UsageException>(() => RunCommand.Run(
                [.. run, "--profile", Path.Combine(dir, "p.txt"), "--profile-symbols", Path.Combine(dir, "missing.map")], new StringWriter()));
            Assert.StartsWith("--profile-symbols: cannot read", e.Message);
            e = Assert.Throws<UsageException>(() => RunCommand.Run([.. run, "--profile", Path.Combine(dir, "no", "such", "dir", "p.txt")], new StringWriter()));
            Assert.StartsWith("--profile: cannot write", e.Message);
        });
    }

    [Fact]
    public void SymbolLookupUsesTheNearestSymbolBelowWithinReach()
    {
        TestGuests.InTempDir("emu-symbols-", dir =>
        {
            string map = Path.Combine(dir, "kallsyms");
            File.WriteAllLines(map, ["c1000000 T startup_32", "c1000100 t helper", "f8001000 t ata_piix_init_one [ata_piix]", "c1000080 r rodata_thing"]);
            var symbols = SymbolMap.Load(map);
            Assert.Equal(3, symbols.Count);
            Assert.Null(symbols.Lookup(0xc0ffffff));
            Assert.Equal("startup_32", symbols.Lookup(0xc1000000));
            Assert.Equal("startup_32", symbols.Lookup(0xc10000ff));
            Assert.Equal("helper", symbols.Lookup(0xc1000100));
            Assert.Equal("helper", symbols.Lookup(0xc10100ff));
            Assert.Null(symbols.Lookup(0xc1010100));
            Assert.Equal("ata_piix_init_one [ata_piix]", symbols.Lookup(0xf8001234));
        });
    }
}
