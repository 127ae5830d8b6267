using Emu.Block;
using Emu.Hardware.Ide;

namespace Emu.Machine;

/// <summary>Connects an emulated IDE drive to a block device: requests run on I/O threads, completions on the machine loop.</summary>
internal sealed class DiskBackend(BlockDevice device) : IDiskBackend
{
    public long Size => device.Size;

    public void Read(long offset, Memory<byte> buffer, Action<int> completion) =>
        device.Submit(BlockRequest.Read(offset, buffer), (_, status) => completion(status));

    public void Write(long offset, ReadOnlyMemory<byte> data, Action<int> completion) =>
        device.Submit(BlockRequest.Write(offset, System.Runtime.InteropServices.MemoryMarshal.AsMemory(data)), (_, status) => completion(status));

    public void ReadScattered(long offset, IReadOnlyList<Memory<byte>> segments, Action<int> completion) =>
        device.Submit(BlockRequest.ReadV(offset, segments), (_, status) => completion(status));

    public void WriteGathered(long offset, IReadOnlyList<Memory<byte>> segments, Action<int> completion) =>
        device.Submit(BlockRequest.WriteV(offset, segments), (_, status) => completion(status));

    public void Flush(Action<int> completion) =>
        device.Submit(BlockRequest.FlushAll(), (_, status) => completion(status));

    public void Discard(long offset, long length, Action<int> completion) =>
        device.Submit(BlockRequest.Discard(offset, length), (_, status) => completion(status));
}

/// <summary>Posts block completions onto the machine bus's event loop and wakes the run loop, so a guest
/// polling for the completion sees it after the current instruction rather than after a whole CPU slice.</summary>
internal sealed class BusEventLoop(Emu.Hardware.Bus bus, Action wake) : IEventLoop
{
    public void Post(Action action)
    {
        bus.Post(action);
        wake();
    }
}
