namespace Decentralized.Simulations.Training;

/// <summary>One validation measurement of a simulated run.</summary>
/// <param name="Step">Inner steps of replica 0.</param>
/// <param name="Tokens">Training tokens consumed by all replicas so far (step × K × tokens per step).</param>
/// <param name="SimSeconds">Virtual time of the measurement.</param>
/// <param name="ValidationLoss">Mean cross-entropy on the fixed validation batches (nats per token).</param>
/// <param name="TrainLoss">Training loss of replica 0's last step.</param>
public sealed record SimLossPoint(long Step, long Tokens, double SimSeconds, double ValidationLoss, double TrainLoss);
