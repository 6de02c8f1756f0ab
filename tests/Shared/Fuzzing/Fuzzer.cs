using System.Diagnostics;
using System.Text;

namespace Decentralized.Tests.Fuzzing;

/// <summary>
/// The one fuzz harness of the test projects (linked into each). Seeded and mutation-based: bit flips, byte
/// inserts and deletes, truncation, length-field tweaks, duplicated ranges and splices of valid seeds, plus random
/// bytes and the target's forgeries. A failure names the target, seed, input index and input in hex, so it can
/// become a regression test.
/// </summary>
public static class Fuzzer
{
    /// <summary>Inputs per decoder in the <c>Slow</c> category (default one million).</summary>
    public const string InputsVariable = "FUZZ_INPUTS";

    /// <summary>Shifts every target's seed (default: each target's seed follows from its name alone), for a fresh run at scale.</summary>
    public const string SeedVariable = "FUZZ_SEED";

    /// <summary>Inputs per decoder in the default suite.</summary>
    public const int ShortInputs = 3000;

    public static int SlowInputs =>
        int.TryParse(Environment.GetEnvironmentVariable(InputsVariable), out int n) && n > 0 ? n : 1_000_000;

    private static readonly byte[] Interesting = [0, 1, 0x7F, 0x80, 0xFF, 0xFE, 0x40, 0x20];
    private static readonly ulong[] InterestingFields = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1UL << 22, ulong.MaxValue, long.MaxValue];

    /// <summary>Runs <paramref name="inputs"/> inputs (after checking every seed decodes) and returns what happened.</summary>
    public static FuzzReport Run(FuzzTarget target, int inputs, int? seed = null)
    {
        int s = seed ?? StableSeed(target.Name);
        var report = new FuzzReport(target.Name);
        foreach (var valid in target.Seeds.Where(_ => target.SeedsAccepted))
        {
            try { target.Decode(valid); }
            catch (Exception e) { throw new Xunit.Sdk.XunitException($"{target.Name}: a valid seed was refused ({e.GetType().Name}: {e.Message}): {Hex(valid)}"); }
        }
        var clock = Stopwatch.StartNew();
        var random = new Random(s);
        var worker = new Worker(target, report, random, inputs, s);
        var thread = new Thread(worker.Loop) { IsBackground = true, Name = $"fuzz {target.Name}" };
        thread.Start();
        while (!thread.Join(100))
        {
            // A hung decode never returns to its own time check: the watchdog reports it with the input (the worker,
            // a background thread, is left to the end of the test process).
            long started = Volatile.Read(ref worker.StartedAt);
            if (started != 0 && Stopwatch.GetElapsedTime(started) > 5 * target.TimeBound)
                throw Failure(target, s, Volatile.Read(ref worker.Index), worker.Current, $"no answer after {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s (hang)");
        }
        if (worker.Error is { } error) throw error;
        report.Inputs = inputs;
        report.Elapsed = clock.Elapsed;
        return report;
    }

    /// <summary>Runs the inputs on its own thread, so that a hung decode leaves the watchdog free to report it.</summary>
    private sealed class Worker(FuzzTarget target, FuzzReport report, Random random, int inputs, int seed)
    {
        public long StartedAt;
        public int Index;
        public byte[] Current = [];
        public Exception? Error;

        public void Loop()
        {
            try
            {
                for (int i = 0; i < inputs; i++)
                {
                    Current = Next(target, random, i);
                    Volatile.Write(ref Index, i);
                    string outcome = Attempt(Current, i);
                    if (outcome == "ok") report.Accepted++;
                    else report.Refused[outcome] = report.Refused.GetValueOrDefault(outcome) + 1;
                }
            }
            catch (Exception e) { Error = e; }
            finally { Volatile.Write(ref StartedAt, 0); }
        }

        /// <summary>One decode: "ok", the refusal's label, or a failure naming the input.</summary>
        private string Attempt(byte[] input, int index)
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            long started = Stopwatch.GetTimestamp();
            Volatile.Write(ref StartedAt, started);
            string outcome;
            try
            {
                target.Decode(input);
                outcome = "ok";
            }
            catch (Exception e) when (target.Refusals.Any(t => t.IsInstanceOfType(e)))
            {
                outcome = target.Label?.Invoke(e) ?? e.GetType().Name;
            }
            catch (Exception e)
            {
                throw Failure(target, seed, index, input, $"{e.GetType().Name}: {e.Message}\n{e}");
            }
            var time = Stopwatch.GetElapsedTime(started);
            long bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
            // A slow decode repeats; a stall of a loaded machine does not: only an input slow twice in a row fails.
            if (time > target.TimeBound && Timed(target, input) is var again && again > target.TimeBound)
                throw Failure(target, seed, index, input, $"took {time.TotalMilliseconds:F0} ms, then {again.TotalMilliseconds:F0} ms (bound {target.TimeBound.TotalMilliseconds:F0} ms)");
            if (target.AllocationBound is { } bound && bytes > bound) throw Failure(target, seed, index, input, $"allocated {bytes} bytes (bound {bound})");
            if (time > report.MaxTime) report.MaxTime = time;
            if (bytes > report.MaxAllocated) report.MaxAllocated = bytes;
            return outcome;
        }
    }

    private static TimeSpan Timed(FuzzTarget target, byte[] input)
    {
        long started = Stopwatch.GetTimestamp();
        try { target.Decode(input); }
        catch (Exception e) when (target.Refusals.Any(t => t.IsInstanceOfType(e))) { }
        return Stopwatch.GetElapsedTime(started);
    }

    /// <summary>The next input: random bytes, a (possibly mutated) forgery, or a mutated seed; resealed when the target can.</summary>
    private static byte[] Next(FuzzTarget target, Random random, int index)
    {
        byte[] input;
        if (index % 16 == 15) input = RandomBytes(random, random.Next(0, 257));
        else if (target.Forge is { } forge && index % 3 == 1) input = random.Next(2) == 0 ? forge(random) : Mutate(random, [forge(random)]);
        else input = Mutate(random, target.Seeds);
        return target.Reseal is { } reseal && random.Next(4) != 0 ? reseal(input) : input;
    }

    /// <summary>One to four mutations of a random seed.</summary>
    public static byte[] Mutate(Random random, IReadOnlyList<byte[]> seeds)
    {
        var data = new List<byte>(seeds[random.Next(seeds.Count)]);
        for (int m = random.Next(1, 5); m > 0; m--)
        {
            int at = random.Next(data.Count + 1);
            switch (random.Next(9))
            {
                case 0 when data.Count > 0: data[at % data.Count] ^= (byte)(1 << random.Next(8)); break;
                case 1 when data.Count > 0: data[at % data.Count] = Interesting[random.Next(Interesting.Length)]; break;
                case 2: data.InsertRange(at, RandomBytes(random, random.Next(1, 17))); break;
                case 3 when data.Count > 0: data.RemoveRange(at % data.Count, Math.Min(random.Next(1, 17), data.Count - at % data.Count)); break;
                case 4: data.RemoveRange(at, data.Count - at); break;
                case 5: TweakField(random, data, at); break;
                case 6:
                    var other = seeds[random.Next(seeds.Count)];
                    int from = random.Next(other.Length + 1);
                    data.RemoveRange(at, data.Count - at);
                    data.AddRange(other.AsSpan(from).ToArray());
                    break;
                case 7 when data.Count > 0:
                    int start = at % data.Count;
                    data.InsertRange(random.Next(data.Count + 1), data.GetRange(start, Math.Min(random.Next(1, 65), data.Count - start)));
                    break;
                default: data.Add((byte)random.Next(256)); break;
            }
        }
        return [.. data];
    }

    /// <summary>Overwrites a length-like field: 1, 2, 4 or 8 bytes of an extreme value, either byte order, or a long varint.</summary>
    private static void TweakField(Random random, List<byte> data, int at)
    {
        // An extreme value or one off it either way (unsigned wrap-around makes -1 work): off-by-one lengths.
        ulong value = InterestingFields[random.Next(InterestingFields.Length)] + (ulong)random.Next(-1, 2);
        byte[] field;
        int width = 1 << random.Next(4);
        if (random.Next(5) == 0)
        {
            var varint = new List<byte>();
            for (ulong v = value; ; v >>= 7) { if (v < 0x80) { varint.Add((byte)v); break; } varint.Add((byte)(v | 0x80)); }
            field = [.. varint];
        }
        else
        {
            field = BitConverter.GetBytes(value)[..width];
            if (random.Next(2) == 0) Array.Reverse(field);
        }
        for (int i = 0; i < field.Length; i++)
        {
            if (at + i < data.Count) data[at + i] = field[i];
            else data.Add(field[i]);
        }
    }

    /// <summary>
    /// A scratch file for decoders that read a path (checkpoints, token files, safetensors): in memory where the
    /// machine has /dev/shm, so a million inputs do not wear a disk.
    /// </summary>
    public static string ScratchFile(string name)
    {
        var path = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), $"fuzz-{Environment.ProcessId}-{name}");
        lock (Scratch) Scratch.Add(path);
        return path;
    }

    private static readonly List<string> Scratch = [];

    public static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static int StableSeed(string name)
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), out int s) ? s : 17;
        foreach (byte b in Encoding.UTF8.GetBytes(name)) seed = unchecked(seed * 31 + b);
        return seed;
    }

    private static Xunit.Sdk.XunitException Failure(FuzzTarget target, int seed, int index, byte[] input, string what) =>
        new($"{target.Name}, seed {seed}, input {index}: {what}\ninput ({input.Length} bytes): {Hex(input)}");

    private static string Hex(byte[] input) => Convert.ToHexString(input.AsSpan(0, Math.Min(input.Length, 4096)));

    /// <summary>The default suite's run of one target.</summary>
    public static FuzzReport CheckShort(FuzzTarget target, Xunit.Abstractions.ITestOutputHelper output) =>
        Check(target, target.ShortInputs ?? ShortInputs, output);

    /// <summary>The <c>Slow</c> category's run of one target: <see cref="SlowInputs"/> inputs.</summary>
    public static FuzzReport CheckAtScale(FuzzTarget target, Xunit.Abstractions.ITestOutputHelper output) => Check(target, SlowInputs, output);

    /// <summary>Runs one target, and writes its report to the test output.</summary>
    private static FuzzReport Check(FuzzTarget target, int inputs, Xunit.Abstractions.ITestOutputHelper output)
    {
        FuzzReport report;
        try { report = Run(target, inputs); }
        finally
        {
            lock (Scratch) { Scratch.ForEach(File.Delete); Scratch.Clear(); }
        }
        output.WriteLine(report.ToString());
        // Refusing everything would mean the mutations never get past the first check; every target must see both
        // (short of one whose seeds cannot pass either).
        Assert.True(report.Accepted > 0 || inputs < 1000 || !target.SeedsAccepted, $"{target.Name} accepted no input: {report}");
        Assert.True(report.Refused.Count > 0, $"{target.Name} refused no input: {report}");
        return report;
    }
}
