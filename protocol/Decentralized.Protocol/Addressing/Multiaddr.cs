using System.Diagnostics.CodeAnalysis;
using System.Text;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Addressing;

/// <summary>
/// A self-describing network address.
/// <code>
///   text:    /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…
///   binary:  ( uvarint(code) ‖ value )+
///            value = fixed bytes (ip4: 4, ip6: 16, tcp/udp: 2 big-endian)
///                  | uvarint(length) ‖ bytes   (dns*, p2p)
///                  | nothing                   (p2p-circuit, ws, tls, noise, quic-v1)
///   04 7f000001 06 0fa1 a503 26 &lt;38-byte peer multihash&gt;
/// </code>
/// Immutable; equality is by binary form.
/// </summary>
public sealed class Multiaddr : IEquatable<Multiaddr>
{
    /// <summary>Largest binary multiaddr accepted from the network.</summary>
    public const int MaxBinaryBytes = 1024;

    /// <summary>Most components accepted in one address.</summary>
    public const int MaxComponents = 32;

    private readonly MultiaddrComponent[] _components;
    private readonly byte[] _bytes;
    private string? _text;

    private Multiaddr(MultiaddrComponent[] components)
    {
        _components = components;
        _bytes = Encode(components);
    }

    /// <summary>The components in order.</summary>
    public IReadOnlyList<MultiaddrComponent> Components => _components;

    /// <summary>Parses the text form (<c>/ipfs/</c> accepted as an alias of <c>/p2p/</c>).</summary>
    public static Multiaddr Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0 || text[0] != '/' || text.Length > MaxBinaryBytes * 4)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr, $"'{Truncate(text)}' does not start with '/'");
        }
        var parts = text.TrimEnd('/').Split('/');
        var components = new List<MultiaddrComponent>();
        for (var i = 1; i < parts.Length; i++)
        {
            if (!MultiaddrProtocol.TryGetByName(parts[i], out var protocol))
            {
                throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr, $"unknown protocol '{Truncate(parts[i])}'");
            }
            byte[] value = [];
            if (protocol.Size != 0)
            {
                if (++i >= parts.Length)
                {
                    throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr, $"protocol {protocol.Name} needs a value");
                }
                value = MultiaddrValueCodec.FromText(protocol, parts[i]);
            }
            components.Add(new MultiaddrComponent(protocol, value));
        }
        return FromComponents(components);
    }

    /// <summary>Like <see cref="Parse"/> but returns false instead of throwing.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out Multiaddr? address)
    {
        address = null;
        try
        {
            address = text is null ? null : Parse(text);
        }
        catch (ProtocolException)
        {
        }
        return address is not null;
    }

    /// <summary>Parses the binary form; every length is checked before use.</summary>
    public static Multiaddr FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length is 0 or > MaxBinaryBytes)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr, $"binary multiaddr of {bytes.Length} bytes");
        }
        var components = new List<MultiaddrComponent>();
        try
        {
            var position = 0;
            while (position < bytes.Length)
            {
                var code = Varint.Read(bytes[position..], out var codeBytes);
                position += codeBytes;
                if (code > int.MaxValue || !MultiaddrProtocol.TryGetByCode((int)code, out var protocol))
                {
                    throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr, $"unknown protocol code 0x{code:x}");
                }
                var size = protocol.Size;
                if (size == MultiaddrProtocol.VariableSize)
                {
                    var length = Varint.Read(bytes[position..], out var lengthBytes);
                    position += lengthBytes;
                    size = length <= (ulong)(bytes.Length - position) ? (int)length
                        : throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr, $"{protocol.Name} value length {length} overruns the address");
                }
                if (size > bytes.Length - position)
                {
                    throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr, $"{protocol.Name} value is truncated");
                }
                var value = bytes.Slice(position, size);
                MultiaddrValueCodec.ValidateBinary(protocol, value);
                components.Add(new MultiaddrComponent(protocol, value.ToArray()));
                position += size;
            }
        }
        catch (ProtocolException e) when (e.Code == ProtocolErrorCode.InvalidVarint)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr, "malformed varint in multiaddr", e);
        }
        return FromComponents(components);
    }

    /// <summary>Builds an address from components.</summary>
    public static Multiaddr FromComponents(IEnumerable<MultiaddrComponent> components)
    {
        var array = components.ToArray();
        if (array.Length is 0 or > MaxComponents)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr, $"a multiaddr needs 1-{MaxComponents} components, got {array.Length}");
        }
        return new Multiaddr(array);
    }

    /// <summary>The binary form (a copy).</summary>
    public byte[] ToBytes() => (byte[])_bytes.Clone();

    /// <summary>The peer ID of the last <c>/p2p/</c> component, or null.</summary>
    public PeerId? GetPeerId()
    {
        for (var i = _components.Length - 1; i >= 0; i--)
        {
            if (_components[i].Protocol == MultiaddrProtocol.P2p)
            {
                return PeerId.FromMultihash(_components[i].Value.Span);
            }
        }
        return null;
    }

    /// <summary>This address with a trailing <c>/p2p/</c> component removed (itself if there is none).</summary>
    public Multiaddr WithoutPeerId()
    {
        if (_components[^1].Protocol != MultiaddrProtocol.P2p || _components.Length == 1)
        {
            return this;
        }
        return new Multiaddr(_components[..^1]);
    }

    /// <summary>This address ending in <c>/p2p/&lt;peer&gt;</c> (replacing any trailing peer component).</summary>
    public Multiaddr WithPeerId(PeerId peer)
    {
        var baseComponents = _components[^1].Protocol == MultiaddrProtocol.P2p ? _components[..^1] : _components;
        return FromComponents(baseComponents.Append(new MultiaddrComponent(MultiaddrProtocol.P2p, peer.ToByteArray())));
    }

    /// <summary>Appends the components of <paramref name="other"/>.</summary>
    public Multiaddr Encapsulate(Multiaddr other) => FromComponents(_components.Concat(other._components));

    /// <summary>True if any component is of <paramref name="protocol"/>.</summary>
    public bool Has(MultiaddrProtocol protocol) => _components.Any(c => c.Protocol == protocol);

    /// <inheritdoc />
    public override string ToString()
    {
        if (_text is null)
        {
            var sb = new StringBuilder();
            foreach (var component in _components)
            {
                sb.Append(component.ToString());
            }
            _text = sb.ToString();
        }
        return _text;
    }

    /// <inheritdoc />
    public bool Equals(Multiaddr? other) => other is not null && other._bytes.AsSpan().SequenceEqual(_bytes);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Multiaddr);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(_bytes);
        return hash.ToHashCode();
    }

    private static byte[] Encode(MultiaddrComponent[] components)
    {
        var writer = new System.Buffers.ArrayBufferWriter<byte>(64);
        foreach (var component in components)
        {
            var span = writer.GetSpan(2 * Varint.MaxMultiformatsBytes + component.Value.Length);
            var written = Varint.Write(span, (ulong)component.Protocol.Code);
            if (component.Protocol.Size == MultiaddrProtocol.VariableSize)
            {
                written += Varint.Write(span[written..], (ulong)component.Value.Length);
            }
            else if (component.Protocol.Size != component.Value.Length)
            {
                throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr,
                    $"{component.Protocol.Name} value must be {component.Protocol.Size} bytes");
            }
            component.Value.Span.CopyTo(span[written..]);
            writer.Advance(written + component.Value.Length);
        }
        return writer.WrittenSpan.ToArray();
    }

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
