using Decentralized.Cli;

return CliApp.Run(args);
