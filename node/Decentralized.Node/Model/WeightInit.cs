using System.Globalization;

namespace Decentralized.Node.Model;

/// <summary>
/// How a fresh model's weights are drawn (<c>--init</c>). Every member of a swarm must use the same, as they derive their
/// starting weights from the seed; the gate compares it by name. RMSNorm gains start at one under every choice.
/// <list type="bullet">
/// <item><c>gpt2</c> (default): every matrix N(0, 0.02), the residual projections (attention wo, MLP w2) N(0, 0.02/√(2L)).</item>
/// <item><c>scale=X</c>: the same shape with X in place of 0.02 (<c>scale=0.02</c> is <c>gpt2</c>), to sweep the scale.</item>
/// <item><c>torch</c>: torch.nn's defaults: a Linear weight U(±1/√fan_in) (kaiming_uniform_ with a = √5), the
/// embedding N(0, 1). Its updates move the weights a smaller share of their norm than gpt2's, which issue 25 measured
/// to matter for averaging replicas.</item>
/// </list>
/// </summary>
/// <param name="TorchDefaults">True for torch.nn's defaults; false for the GPT-2 shape with <paramref name="Std"/>.</param>
/// <param name="Std">Standard deviation of the GPT-2 shape (ignored by torch).</param>
public sealed record WeightInit(bool TorchDefaults, double Std)
{
    /// <summary>The GPT-2 initialisation the project has always used.</summary>
    public static WeightInit Gpt2 { get; } = new(false, 0.02);

    /// <summary>torch.nn's default initialisation.</summary>
    public static WeightInit Torch { get; } = new(true, 0.02);

    /// <summary>Reads gpt2 | torch | scale=X (X in (0, 10]).</summary>
    /// <exception cref="ArgumentException">Anything else, with the forms it accepts.</exception>
    public static WeightInit Parse(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t == "gpt2") return Gpt2;
        if (t == "torch") return Torch;
        if (t.StartsWith("scale=", StringComparison.Ordinal)
            && double.TryParse(t["scale=".Length..], NumberStyles.Float, CultureInfo.InvariantCulture, out var std)
            && std is > 0 and <= 10)
        {
            return std == Gpt2.Std ? Gpt2 : new WeightInit(false, std);
        }

        throw new ArgumentException($"--init '{text}': use gpt2, torch or scale=X with X in (0, 10] (gpt2 is scale=0.02)");
    }

    /// <summary>The name <see cref="Parse"/> reads back: gpt2, torch or scale=X.</summary>
    public override string ToString() =>
        TorchDefaults ? "torch" : Std == Gpt2.Std ? "gpt2" : "scale=" + Std.ToString("R", CultureInfo.InvariantCulture);
}
