using System.Security.Cryptography;
using Decentralized.Node.Checkpoints;
using Decentralized.Node.Export;
using Decentralized.Node.Model;
using Decentralized.Node.Pipeline;
using Decentralized.Node.Rounds;
using Decentralized.Node.Swarm;
using Decentralized.Node.Tests.Rounds;
using Decentralized.Node.Training;
using Decentralized.Protocol;
using Decentralized.Protocol.Identity;
using Decentralized.Tests.Fuzzing;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Decentralized.Node.Tests.Fuzz;

/// <summary>
/// Fuzzing of the node's own decoders through the shared <see cref="Fuzzer"/>: the swarm's control messages (gate,
/// heartbeats, state sync, update headers), update blobs as the round engine receives them, pipeline messages and
/// payloads, train checkpoints and safetensors files. Seeds come from our own encoders. The status server's HTTP
/// parser is left out: it is being replaced by Kestrel.
/// </summary>
public sealed class NodeFuzzTests(ITestOutputHelper output)
{
    private const int ControlMax = 64 * 1024;
    private static readonly Type[] Swarm = [typeof(SwarmProtocolException)];
    private static readonly Type[] Pipe = [typeof(PipelineProtocolException)];
    private static readonly PeerId Local = PrivateKey.FromSeed(Enumerable.Repeat((byte)7, 32).ToArray()).PeerId;
    private static readonly PeerId Remote = PrivateKey.FromSeed(Enumerable.Repeat((byte)8, 32).ToArray()).PeerId;

    public static TheoryData<string> Names => new(Targets.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void Decoder(string name) => Fuzzer.CheckShort(Targets[name](), output);

    [Theory]
    [MemberData(nameof(Names))]
    [Trait("Category", "Slow")]
    public void DecoderAtScale(string name) => Fuzzer.CheckAtScale(Targets[name](), output);

    /// <summary>
    /// Found by the residuals target: a checksum-valid checkpoint whose residual name has a 7-bit length prefix too
    /// long for an int. BinaryReader threw FormatException, which the daemon's load (it falls back to an older
    /// checkpoint on <see cref="CheckpointException"/> only) did not expect: the node failed to start.
    /// </summary>
    [Fact]
    public void AResidualNameWithAnOverlongLengthPrefixIsACorruptCheckpoint()
    {
        var input = Convert.FromHexString(
            "4443434B010000005800000000000000020000000564656C74610100000006776569676874030000000000003F000080BE0000003E04736C6F7701000000AAA6B4B2" +
            "92F33D83835A0C6482B7DE2C8F250462696140010000000000803F333CD2EFAC1E7EE7445D18F0A406AD2E553F146027CF7951D643BF6FA496C1C1858694B3BCC87B942F08DE");
        var target = DaemonResiduals();
        try
        {
            var error = Assert.Throws<CheckpointException>(() => target.Decode(input));
            Assert.Contains("malformed", error.Message);
        }
        finally { File.Delete(Fuzzer.ScratchFile("residuals.ckpt")); }
    }

    private static readonly Dictionary<string, Func<FuzzTarget>> Targets = new()
    {
        ["gate"] = Gate,
        ["heartbeat"] = () => new("heartbeat", [Framed(new HeartbeatMessage(3, 40, [
                new PeerRecord(Remote.ToByteArray(), [Protocol.Addressing.Multiaddr.Parse("/ip4/10.0.0.2/tcp/4001").ToBytes()]),
                new PeerRecord(Local.ToByteArray(), [])]))],
            input =>
            {
                // What membership takes from a heartbeat: the progress and each record's peer id and addresses. It skips
                // a record that does not parse, null ones included, under a catch-all; the parsers themselves must refuse typed.
                var message = Read<HeartbeatMessage>(input);
                foreach (var record in message.Peers ?? [])
                {
                    if (record?.PeerId is null) continue;
                    PeerId.FromMultihash(record.PeerId);
                    foreach (var address in (record.Addresses ?? []).OfType<byte[]>()) Protocol.Addressing.Multiaddr.FromBytes(address);
                }
            }, [typeof(SwarmProtocolException), typeof(ProtocolException)]),
        ["state request"] = () => new("state request", [Framed(new StateRequest(0, -1)), Framed(new StateRequest(12, 3))], input => Read<StateRequest>(input), Swarm),
        ["state manifest"] = () => new("state manifest",
            [Framed(new StateManifest(5, "cfg", 4096, 8192, [new byte[32], SHA256.HashData([1])], null)), Framed(new StateManifest(5, "cfg", 0, 0, [], "busy"))],
            input => Read<StateManifest>(input), Swarm),
        ["state chunk header"] = () => new("state chunk header", [Framed(new StateChunkHeader(5, 1, 8192, null)), Framed(new StateChunkHeader(5, 1, 0, "gone"))],
            input => Read<StateChunkHeader>(input), Swarm),
        ["update header"] = () => new("update header", [Framed(new UpdateHeader(5, Payload.DeltaAndSlow, 1234))], input => Read<UpdateHeader>(input), Swarm),
        ["update blob (DiLoCo)"] = () => UpdateBlob("update blob (DiLoCo)", EngineHarness.DiLoCo(), null),
        ["update blob (NoLoCo delta+slow)"] = () => UpdateBlob("update blob (NoLoCo delta+slow)", EngineHarness.NoLoCo(), Payload.DeltaAndSlow),
        ["update blob (anchored)"] = () => UpdateBlob("update blob (anchored)", EngineHarness.NoLoCo(), Payload.AnchoredFast),
        ["pipeline hello"] = () => new("pipeline hello", [Framed(new PipelineHello("cfg", 1, 100, 2, 0.5, [new PipelinePeerRecord(Remote.ToByteArray(), [])]))],
            input => PipelineRead<PipelineHello>(input), Pipe),
        ["pipeline hop request"] = () => new("pipeline hop request", [Framed(new HopRequest(7, false, 1, 2, 8, ActivationCodecKind.Bf16, [1, 2, 3]))],
            input => PipelineRead<HopRequest>(input), Pipe),
        ["pipeline hop response"] = () => new("pipeline hop response", [Framed(new HopResponse(true, null, 2.5, ActivationCodecKind.Int8)), Framed(new HopResponse(false, "busy", 0, ActivationCodecKind.Fp32))],
            input => PipelineRead<HopResponse>(input), Pipe),
        ["pipeline weights request"] = () => new("pipeline weights request", [Framed(new WeightsRequest(1, default))], input => PipelineRead<WeightsRequest>(input), Pipe),
        ["pipeline weights response"] = () => new("pipeline weights response", [Framed(new WeightsResponse(true, null, 1000, 0.5, 3))], input => PipelineRead<WeightsResponse>(input), Pipe),
        ["pipeline outer"] = () => new("pipeline outer", [Framed(new OuterMessage(1, 3, Payload.FastWeights, 1000)), Framed(new OuterMessage(0, 9, Payload.AnchoredFast, 52_000))], input => PipelineRead<OuterMessage>(input), Pipe),
        ["pipeline activations"] = Activations,
        ["pipeline weights payload"] = () => new("pipeline weights payload", [PipelineWire.FloatBytes([1f, -2f, 3.5f, 0f])], input => PipelineWire.Floats(input), Pipe),
        ["train checkpoint"] = TrainCheckpoint,
        ["daemon checkpoint residuals"] = DaemonResiduals,
        ["safetensors"] = Safetensors,
    };

    private static byte[] Framed<T>(T message)
    {
        using var stream = new MemoryStream();
        MessageIo.WriteAsync(stream, message, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        return stream.ToArray();
    }

    private static T Read<T>(byte[] input) where T : class =>
        MessageIo.ReadAsync<T>(new MemoryStream(input), ControlMax, CancellationToken.None).AsTask().GetAwaiter().GetResult();

    private static T PipelineRead<T>(byte[] input) where T : class =>
        PipelineWire.ReadAsync<T>(new MemoryStream(input), ControlMax, CancellationToken.None).AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// The whole gate as the answering side runs it, the input standing for what the dialler sends (hello, proof,
    /// verdict). The proof covers a nonce the gate draws afresh, so even the seeds end refused, after every parse.
    /// </summary>
    private static FuzzTarget Gate()
    {
        var identity = new SwarmIdentity("1.0.0", "default", "cfg") { Settings = new Dictionary<string, string> { ["compress"] = "fp32" } };
        var seed = Framed(new HelloMessage("1.0.0", identity.ProtocolVersion, "default", "cfg", new byte[32], new() { ["compress"] = "fp32" }))
            .Concat(Framed(new ProofMessage(new byte[32]))).Concat(Framed(new VerdictMessage(null))).ToArray();
        var gate = new ConnectionHandshake(identity, [1, 2, 3], Local, ControlMax, NullLogger.Instance);
        return new("gate", [seed], input => gate.RunAsync(Remote, new FuzzTransport(input), isInitiator: false, CancellationToken.None).GetAwaiter().GetResult(),
            [typeof(SwarmProtocolException), typeof(ProtocolException)]) { SeedsAccepted = false };
    }

    /// <summary>Thrown by the blob target when the engine answers Refused: OnUpdate reports refusals as verdicts, not exceptions.</summary>
    private sealed class UpdateRefused(string reason) : Exception(reason);

    private static FuzzTarget UpdateBlob(string name, Func<Tensor, IOuterMethod> method, Payload? payload)
    {
        var harness = new EngineHarness();
        var options = new RoundOptions { RoundTimeout = TimeSpan.FromSeconds(10), Payload = payload };
        var sender = harness.Add("a", [1f, 2f, 3f], method, options);
        var receiver = harness.Add("b", [1f, 2f, 3f], method, options);
        var outgoing = sender.Begin(tensor(new[] { 0.5f, 2.5f, -3f }), harness.LiveFor("a"));
        Assert.Contains("b", outgoing.Targets);
        return new(name, [outgoing.Blob], input =>
        {
            var answer = receiver.OnUpdate("a", outgoing.Round, outgoing.Payload, input);
            if (answer.Verdict != UpdateVerdict.Accepted) throw new UpdateRefused(answer.Reason);
        }, typeof(UpdateRefused)) { Label = _ => "Refused" };
    }

    /// <summary>A hop payload as the stage reads it: the codec byte of the validated header, then the length-prefixed payload of 192 values.</summary>
    private static FuzzTarget Activations()
    {
        const int values = 192;
        var activations = Enumerable.Range(0, values).Select(i => MathF.Sin(i) * 3).ToArray();
        byte[] Seed(ActivationCodecKind kind)
        {
            using var stream = new MemoryStream();
            stream.WriteByte((byte)kind);
            Protocol.StreamExtensions.WriteLengthPrefixedAsync(stream, ActivationCodec.Encode(kind, activations), CancellationToken.None).AsTask().GetAwaiter().GetResult();
            return stream.ToArray();
        }
        return new("pipeline activations", [Seed(ActivationCodecKind.Fp32), Seed(ActivationCodecKind.Bf16), Seed(ActivationCodecKind.Int8)], input =>
        {
            if (input.Length == 0) throw new PipelineProtocolException(PipelineErrorCode.Malformed, "empty");
            var kind = (ActivationCodecKind)input[0];
            var stream = new MemoryStream(input, 1, input.Length - 1);
            var payload = PipelineWire.ReadPayloadAsync(stream, ActivationCodec.EncodedBytes(kind, values), CancellationToken.None).AsTask().GetAwaiter().GetResult();
            ActivationCodec.Decode(kind, payload, values);
        }, Pipe);
    }

    /// <summary>A <c>train</c> checkpoint of a very small model, read as export and generate read it; resealed so mutations reach the payload.</summary>
    private static FuzzTarget TrainCheckpoint()
    {
        var options = TestCorpus.Options(Algorithm.DiLoCo, replicas: 2, steps: 4, h: 2) with
        {
            Model = new ModelConfig(VocabSize: 256, Dim: 8, Layers: 1, Heads: 1, ContextLength: 8),
            Inner = new InnerOptions(LearningRate: 3e-3, WarmupSteps: 1, TotalSteps: 4, MicroBatchSize: 2, SequenceLength: 8),
        };
        var path = Fuzzer.ScratchFile("train.ckpt");
        long valuesMax;
        using (var run = TestCorpus.Run(options))
        {
            run.Run(stopAfter: 2);
            ComparisonCheckpoint.Save(path, run, options, "fp32");
            valuesMax = run.Replicas[0].Trainer.Flat.Count;
        }
        var seed = File.ReadAllBytes(path);
        return new("train checkpoint", [seed], input =>
        {
            File.WriteAllBytes(path, input);
            ComparisonCheckpoint.ReadReplicaWeights(path, 1, valuesMax);
        }, typeof(CheckpointException)) { Reseal = ResealCheckpoint, ShortInputs = 1000 };
    }

    /// <summary>
    /// The error-feedback residuals a daemon checkpoint ends with, framed and read as the daemon's load reads them
    /// (<see cref="CheckpointFile.Read"/> around <see cref="FeedbackIo.ReadInto"/>); small, so a million inputs are quick.
    /// </summary>
    private static FuzzTarget DaemonResiduals()
    {
        var path = Fuzzer.ScratchFile("residuals.ckpt");
        var delta = new Kernels.ErrorFeedbackState();
        delta.Restore("weight", [0.5f, -0.25f, 0.125f]);
        var slow = new Kernels.ErrorFeedbackState();
        slow.Restore("bias", [1f]);
        CheckpointFile.Write(path, w => FeedbackIo.Write(w, [("delta", delta), ("slow", slow)]));
        var seed = File.ReadAllBytes(path);
        return new("daemon checkpoint residuals", [seed], input =>
        {
            File.WriteAllBytes(path, input);
            CheckpointFile.Read(path, r =>
            {
                FeedbackIo.ReadInto(r, _ => new Kernels.ErrorFeedbackState(), 16, 2, 3, path);
                return true;
            });
        }, typeof(CheckpointException)) { Reseal = ResealCheckpoint };
    }

    /// <summary>Makes the header's payload length and the SHA-256 trailer agree with the bytes, as a careful forger would.</summary>
    private static byte[] ResealCheckpoint(byte[] input)
    {
        if (input.Length < 16 + 32) return input;
        var output = (byte[])input.Clone();
        BitConverter.TryWriteBytes(output.AsSpan(8, 8), (long)(output.Length - 48));
        SHA256.HashData(output.AsSpan(0, output.Length - 32), output.AsSpan(output.Length - 32));
        return output;
    }

    private static FuzzTarget Safetensors()
    {
        var path = Fuzzer.ScratchFile("model.safetensors");
        SafetensorsWriter.Write(path,
        [
            new("model.embed_tokens.weight", [4, 3], Enumerable.Range(0, 12).Select(i => i * 0.25f).ToArray()),
            new("model.norm.weight", [3], [1f, 1f, 1f]),
        ], new Dictionary<string, string> { ["format"] = "pt" });
        var seed = File.ReadAllBytes(path);
        return new("safetensors", [seed], input =>
        {
            File.WriteAllBytes(path, input);
            using var reader = SafetensorsReader.Open(path);
            foreach (var tensor in reader.Tensors) reader.ReadFloats(tensor.Name);
        }, typeof(SafetensorsException));
    }
}
