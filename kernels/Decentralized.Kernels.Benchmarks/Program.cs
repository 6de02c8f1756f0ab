using BenchmarkDotNet.Running;
using Decentralized.Kernels.Benchmarks;

// --quick: the seconds-long table (optionally --sizes 1,16 in Mi-elements, --chains q8,q4, --cpu,
// --input pseudo|gaussian|laplace).
// --sparse [Mi elements]: SparseLoCo's encode and decode beside memcpy (default 16).
// --bdn (or any BenchmarkDotNet arguments such as --filter '*Decode*'): the full suite.
if (args.Contains("--quick"))
{
    return QuickBench.Run(args);
}

if (args.Contains("--sparse"))
{
    int at = Array.IndexOf(args, "--sparse");
    return SparseBench.Run(at + 1 < args.Length && int.TryParse(args[at + 1], out int mi) ? mi << 20 : 1 << 24);
}

if (args.Contains("--pieces"))
{
    int at = Array.IndexOf(args, "--pieces");
    return PiecesBench.Run(at + 1 < args.Length && int.TryParse(args[at + 1], out int mi) ? mi << 20 : 1 << 24);
}

BenchmarkSwitcher.FromAssembly(typeof(CodecBenchmarks).Assembly).Run(args.Where(a => a != "--bdn").ToArray());
return 0;
