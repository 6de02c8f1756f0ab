using Decentralized.Cli;
using Decentralized.Node.Runtime;

// Before any thread allocates: one malloc arena per four cores (at least two) keeps a long-running daemon's resident
// memory flat (see NativeHeap).
NativeHeap.LimitArenas(Math.Max(2, Environment.ProcessorCount / 4));
return CliApp.Run(args);
