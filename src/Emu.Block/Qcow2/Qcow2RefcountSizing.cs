namespace Emu.Block.Qcow2;

/// <summary>How many refcount blocks and refcount-table clusters it takes to count a number of clusters plus
/// themselves (the refcount structures must cover their own clusters too).</summary>
public static class Qcow2RefcountSizing
{
    /// <summary>The smallest self-covering refcount area for <paramref name="clusters"/> other clusters, with
    /// <paramref name="entriesPerBlock"/> refcounts a block and <paramref name="entriesPerTableCluster"/> block
    /// offsets a table cluster.</summary>
    public static (long Blocks, long TableClusters) Cover(long clusters, long entriesPerBlock, long entriesPerTableCluster)
    {
        long blocks = 0, table = 0, total = 0, last;
        do
        {
            last = total;
            blocks = (clusters + blocks + table + entriesPerBlock - 1) / entriesPerBlock;
            table = (blocks + entriesPerTableCluster - 1) / entriesPerTableCluster;
            total = clusters + blocks + table;
        } while (total != last);
        return (blocks, table);
    }
}
