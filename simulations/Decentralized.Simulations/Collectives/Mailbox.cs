using Decentralized.Simulations.Network;

namespace Decentralized.Simulations.Collectives;

/// <summary>
/// Sized messages between flow-model nodes, matched by (receiver, tag): the transport of the collective algorithms
/// the sync-scaling scenario times. A receive waits for the delivery (whichever comes first creates the slot).
/// </summary>
internal sealed class Mailbox(FlowNetwork network)
{
    private readonly Dictionary<(int Node, long Tag), TaskCompletionSource> _slots = new();

    public FlowNetwork Network { get; } = network;

    /// <summary>Sends <paramref name="bytes"/> from <paramref name="from"/> to <paramref name="to"/> tagged <paramref name="tag"/>.</summary>
    public void Send(int from, int to, long bytes, long tag)
    {
        Network.Send(new NetworkMessage(from, to, bytes, () => Slot(to, tag).TrySetResult())
        {
            OnDropped = () => Slot(to, tag).TrySetException(new IOException($"message {tag} from node {from} to {to} was lost")),
        });
    }

    /// <summary>Completes when the message tagged <paramref name="tag"/> has arrived at <paramref name="node"/>.</summary>
    public Task ReceiveAsync(int node, long tag) => Slot(node, tag).Task;

    private TaskCompletionSource Slot(int node, long tag)
    {
        if (!_slots.TryGetValue((node, tag), out var slot)) _slots[(node, tag)] = slot = new TaskCompletionSource();
        return slot;
    }
}
