namespace Decentralized.Tests.Fuzzing;

/// <summary>
/// One decoder under fuzz: valid seeds from our own encoders, the decode step, and the typed exceptions that mean
/// "refused". Every input must end in success or one of <see cref="Refusals"/>, within <see cref="TimeBound"/> and,
/// where the decode runs on the calling thread, without allocating more than <see cref="AllocationBound"/>.
/// </summary>
public sealed record FuzzTarget(string Name, IReadOnlyList<byte[]> Seeds, Action<byte[]> Decode, params Type[] Refusals)
{
    /// <summary>Bytes one input may allocate on the fuzzing thread; null where the decode's work runs on other threads.</summary>
    public long? AllocationBound { get; init; } = 4 << 20;

    /// <summary>Longer than this for one input counts as a hang (generous: the machine running the tests may be loaded).</summary>
    public TimeSpan TimeBound { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Structure-aware inputs (valid framing and checksums around garbage), used for a third of the inputs.</summary>
    public Func<Random, byte[]>? Forge { get; init; }

    /// <summary>Recomputes the checksums of a mutated input, so most mutations reach the checks behind them.</summary>
    public Func<byte[], byte[]>? Reseal { get; init; }

    /// <summary>False where a valid seed cannot pass (the gate's proof covers a nonce drawn afresh on every run).</summary>
    public bool SeedsAccepted { get; init; } = true;

    /// <summary>Inputs in the default suite where fewer than <see cref="Fuzzer.ShortInputs"/> keep it quick (several X25519 operations per input).</summary>
    public int? ShortInputs { get; init; }

    /// <summary>How a refusal is counted (default: the exception's type name).</summary>
    public Func<Exception, string>? Label { get; init; }
}
