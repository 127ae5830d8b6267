namespace Emu.Block;

/// <summary>An error from the block layer with a message fit to show a user as is.</summary>
public class BlockException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A metadata inconsistency found in an image: the driver marks the image corrupt.</summary>
public sealed class CorruptImageException(string message) : BlockException(message);
