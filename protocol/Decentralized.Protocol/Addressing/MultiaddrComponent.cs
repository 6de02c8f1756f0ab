namespace Decentralized.Protocol.Addressing;

/// <summary>One <c>/protocol/value</c> pair of a multiaddr, holding the value in its binary form.</summary>
public readonly record struct MultiaddrComponent(MultiaddrProtocol Protocol, ReadOnlyMemory<byte> Value)
{
    /// <summary>The value in text form (empty for value-less protocols).</summary>
    public string ValueText => MultiaddrValueCodec.ToText(Protocol, Value.Span);

    /// <inheritdoc />
    public override string ToString() => Protocol.Size == 0 ? "/" + Protocol.Name : $"/{Protocol.Name}/{ValueText}";
}
