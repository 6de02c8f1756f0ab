namespace Decentralized.Kernels;

/// <summary>Position of a run of values in the stochastic-rounding stream: the uniform variate for
/// value <c>i</c> of the run is <c>hash(Key, CounterBase + i)</c>, so results depend only on the seed,
/// the tensor and the element's position, never on chunking, vector width or thread.</summary>
/// <param name="Key">Per-tensor key from the seed and the tensor name (<see cref="StochasticRounding.KeyFor"/>).</param>
/// <param name="CounterBase">Counter of the run's first value (its element index in the tensor).</param>
public readonly record struct RoundingContext(uint Key, uint CounterBase);
