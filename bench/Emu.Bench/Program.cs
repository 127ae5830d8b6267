using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Emu.Bench.Qcow2Benchmarks).Assembly).Run(args);
