using Decentralized.Node.Benchmarks;
using Decentralized.Node.Model;

// dotnet run -c Release --project node/Decentralized.Node.Benchmarks [-- --quick]
bool quick = args.Contains("--quick");
TrainerOverheadBenchmark.Run(ModelConfig.Small, batch: 16, seqLen: 128, blocks: quick ? 4 : 10, stepsPerBlock: quick ? 5 : 10, Console.WriteLine);
