namespace Emu.Machine.Tests;

/// <summary>Machine descriptions: the JSON the config files use (comments, trailing commas, camelCase), paths and errors.</summary>
public class MachineConfigTests
{
    [Fact]
    public void ReadsCommentsTrailingCommasAndResolvesPathsAgainstTheProjectRoot()
    {
        string root = Directory.CreateTempSubdirectory("emu-config-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "config"));
            string path = Path.Combine(root, "config", "m.json");
            File.WriteAllText(path, """
                {
                  // a comment
                  "memory": 64,
                  "disks": [ { "path": "disks/a.qcow2", "format": "qcow2", "snapshot": true,
                               "options": { "cache": "none" }, "channel": 1, "position": 0 }, ],
                  "cdrom": "/abs/cd.iso",
                  "boot": "d",
                  "timeout": 2.5,
                }
                """);
            var cfg = MachineConfig.Load(path);
            Assert.Equal(64, cfg.Memory);
            Assert.Equal("d", cfg.Boot);
            Assert.Equal(2.5, cfg.Timeout);
            Assert.Equal("/abs/cd.iso", cfg.Cdrom);
            var disk = Assert.Single(cfg.Disks);
            Assert.Equal(Path.Combine(root, "disks", "a.qcow2"), disk.Path);
            Assert.True(disk.Snapshot);
            Assert.Equal("none", disk.Options!["cache"]);
            Assert.Equal(1, disk.Channel);
            Assert.Equal("stdio", cfg.Serial);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void InvalidJsonIsAClearError()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "{ \"memory\": \"lots\" }");
            var e = Assert.Throws<MachineException>(() => MachineConfig.Load(path));
            Assert.Contains("invalid machine description", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
