using BenchmarkDotNet.Attributes;

namespace Decentralized.Kernels.Benchmarks;

/// <summary>BenchmarkDotNet suite: per chain and size, memcpy of the same bytes (baseline), the
/// value kernel alone, and the whole blob encode / decode. The GB/s and ratio columns come from
/// <see cref="ThroughputColumn"/> and <see cref="CompressionRatioColumn"/>.</summary>
[MemoryDiagnoser]
[Config(typeof(CodecBenchmarkConfig))]
public class CodecBenchmarks
{
    private float[] _input = [];
    private float[] _copy = [];
    private float[] _output = [];
    private byte[] _packed = [];
    private IValueKernel _kernel = null!;
    private PseudoGradientEncoder _encoder = null!;
    private TensorView[] _tensors = [];
    private TensorTarget[] _targets = [];
    private MemoryStream _blob = new();
    private ErrorFeedbackState _feedback = new();

    /// <summary>Elements per tensor.</summary>
    [ParamsSource(nameof(SizeValues))]
    public int N { get; set; }

    /// <summary>Codec chain.</summary>
    [ParamsSource(nameof(ChainValues))]
    public string Chain { get; set; } = "q8";

    public static IEnumerable<int> SizeValues => BenchInputs.Sizes;

    public static IEnumerable<string> ChainValues => BenchInputs.Chains;

    [GlobalSetup]
    public void Setup()
    {
        CodecChain chain = CodecChain.Parse(Chain);
        _input = BenchInputs.Make(N);
        _copy = new float[N];
        _output = new float[N];
        _kernel = ValueKernels.Create(chain.Value);
        _packed = new byte[_kernel.EncodedLength(N)];
        _encoder = new PseudoGradientEncoder(chain);
        _tensors = [new TensorView("w", [N], _input)];
        _targets = [new TensorTarget("w", [N], _output)];
        _feedback = new ErrorFeedbackState();
        _blob = new MemoryStream();
        long bytes = _encoder.Encode(_tensors, _blob, _feedback);
        CompressionRatioColumn.Record(Chain, N, 4.0 * N / bytes);
        _kernel.Encode(_input, _packed, default);
    }

    [Benchmark(Baseline = true)]
    public void Memcpy() => _input.AsSpan().CopyTo(_copy);

    [Benchmark]
    public void EncodeKernel() => _kernel.Encode(_input, _packed, default);

    [Benchmark]
    public void DecodeKernel() => _kernel.Decode(_packed, _output);

    [Benchmark]
    public long EncodeBlob()
    {
        _blob.SetLength(0);
        return _encoder.Encode(_tensors, _blob, _feedback);
    }

    [Benchmark]
    public void DecodeBlob()
    {
        _blob.Position = 0;
        PseudoGradientDecoder.DecodeInto(_blob, _targets, DecoderLimits.Default);
    }
}
