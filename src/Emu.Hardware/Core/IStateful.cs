namespace Emu.Hardware;

/// <summary>Captures and restores an object's complete state, so savevm needs no knowledge of its internals.</summary>
public interface IStateful
{
    /// <summary>Writes the complete state.</summary>
    void Save(BinaryWriter writer);

    /// <summary>Restores state written by <see cref="Save"/>.</summary>
    void Load(BinaryReader reader);
}

/// <summary>A machine device: a stable name for its saved state, plus power-on reset.</summary>
public interface IDevice : IStateful
{
    /// <summary>Identifies the device's state blob in a saved machine.</summary>
    string Name { get; }

    /// <summary>Returns the device to its power-on state (system_reset).</summary>
    void Reset();
}
