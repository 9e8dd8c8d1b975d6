using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Hybrid.IO;

/// <summary>
/// What a checkpoint must match to be resumed: what is trained (<paramref name="Kind"/>, e.g. "realnvp"), the model's
/// definition and the target, each as a JSON object, and the floating-point type of the parameters.
/// </summary>
/// <param name="Kind">The kind of model or run, e.g. "realnvp", "cnf".</param>
/// <param name="Model">The model definition as JSON (its architecture, not its weights).</param>
/// <param name="Target">The target as JSON, e.g. <see cref="Hybrid.Sampling.IAction.Describe"/>.</param>
/// <param name="DType">Floating-point type of the parameters, e.g. "Float32".</param>
public sealed record CheckpointHeader(string Kind, string Model, string Target, string DType);

/// <summary>
/// The checkpoint file of every training run: a magic string with the format's version, the
/// <see cref="CheckpointHeader"/> as JSON, a body the trainer writes (model, optimiser, generator and the state of its
/// hooks), and a SHA-256 of all that, so that a truncated or damaged file is recognised before any work. Written
/// atomically (<see cref="AtomicFile"/>): an interrupted write leaves the previous checkpoint in place.
/// </summary>
public static class Checkpoint
{
    /// <summary>The format this version writes and reads. 4: the header became generic (kind, model, target, dtype).</summary>
    public const string Format = "hybrid-checkpoint/4";
    private const string OldFlowFormats = "hybrid-flow-checkpoint/";
    private const int ChecksumLength = 32;

    /// <summary>Writes <paramref name="header"/> and the body that <paramref name="writeBody"/> writes, atomically.</summary>
    public static void Write(string path, CheckpointHeader header, Action<BinaryWriter> writeBody)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(writeBody);
        using var content = new MemoryStream();
        using (var writer = new BinaryWriter(content, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Format);
            writer.Write(JsonSerializer.Serialize(header));
            writeBody(writer);
        }
        var body = content.ToArray();
        var checksum = SHA256.HashData(body);
        AtomicFile.Write(path, stream =>
        {
            stream.Write(body);
            stream.Write(checksum);
        });
    }

    /// <summary>Reads the header of a checkpoint file, after checking that the file is whole.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a Hybrid checkpoint, an older format, or a truncated or damaged file.</exception>
    public static CheckpointHeader ReadHeader(string path)
    {
        using var reader = Open(path, out var header);
        return header;
    }

    /// <summary>
    /// Checks that the checkpoint at <paramref name="path"/> fits a run described by <paramref name="expected"/>, before
    /// any work is done. Model and target are compared field by field, so the message names each differing parameter.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a checkpoint, or one that does not fit; the message names every difference.</exception>
    public static void CheckCompatible(string path, CheckpointHeader expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var differences = Differences(ReadHeader(path), expected);
        if (differences.Count > 0)
            throw new InvalidDataException($"checkpoint '{path}' does not fit this run: {string.Join("; ", differences)}");
    }

    /// <summary>Every way in which <paramref name="found"/> differs from <paramref name="expected"/>, for users.</summary>
    public static IReadOnlyList<string> Differences(CheckpointHeader found, CheckpointHeader expected)
    {
        var differences = new List<string>();
        if (found.Kind != expected.Kind) differences.Add($"kind: checkpoint has {found.Kind}, this run has {expected.Kind}");
        CompareJson("model", found.Model, expected.Model, differences);
        CompareJson("target", found.Target, expected.Target, differences);
        if (found.DType != expected.DType) differences.Add($"dtype: checkpoint has {found.DType}, this run has {expected.DType}");
        return differences;
    }

    /// <summary>Compares two JSON texts; objects field by field (one line per field), anything else as a whole.</summary>
    private static void CompareJson(string what, string found, string expected, List<string> differences)
    {
        if (found == expected) return;
        try
        {
            using var f = JsonDocument.Parse(found);
            using var e = JsonDocument.Parse(expected);
            if (f.RootElement.ValueKind == JsonValueKind.Object && e.RootElement.ValueKind == JsonValueKind.Object)
            {
                var have = f.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText());
                var want = e.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText());
                foreach (var name in want.Keys.Union(have.Keys))
                {
                    var h = have.GetValueOrDefault(name, "(absent)");
                    var w = want.GetValueOrDefault(name, "(absent)");
                    if (h != w) differences.Add($"{what} {name}: checkpoint has {h}, this run has {w}");
                }
                return;
            }
        }
        catch (JsonException) { }
        differences.Add($"{what}: checkpoint has {found}, this run has {expected}");
    }

    /// <summary>
    /// Opens a whole checkpoint (checksum verified) and reads its header; the reader stands at the start of the body.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a Hybrid checkpoint, an older format, or a truncated or damaged file.</exception>
    public static BinaryReader Open(string path, out CheckpointHeader header)
    {
        if (Directory.Exists(path)) throw new InvalidDataException($"checkpoint '{path}' is a directory, not a checkpoint file");
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint '{path}' does not exist", path);
        var all = File.ReadAllBytes(path);
        string magic;
        using (var probe = new BinaryReader(new MemoryStream(all)))
        {
            try { magic = probe.ReadString(); }
            catch (Exception e) when (e is EndOfStreamException or IOException) { magic = ""; }
        }
        if (magic.StartsWith(OldFlowFormats, StringComparison.Ordinal) || (magic.StartsWith("hybrid-checkpoint/", StringComparison.Ordinal) && magic != Format))
            throw new InvalidDataException($"checkpoint '{path}' was written by an earlier version of Hybrid ({magic}, this one reads {Format}); train anew");
        if (magic != Format) throw new InvalidDataException($"'{path}' is not a Hybrid checkpoint");
        if (all.Length < ChecksumLength || !SHA256.HashData(all.AsSpan(0, all.Length - ChecksumLength)).AsSpan().SequenceEqual(all.AsSpan(all.Length - ChecksumLength)))
            throw new InvalidDataException($"checkpoint '{path}' is truncated or damaged (its SHA-256 does not match its content); it cannot be resumed");
        var reader = new BinaryReader(new MemoryStream(all, 0, all.Length - ChecksumLength, writable: false), Encoding.UTF8);
        reader.ReadString();
        header = JsonSerializer.Deserialize<CheckpointHeader>(reader.ReadString())
            ?? throw new InvalidDataException($"'{path}' has an empty checkpoint header");
        return reader;
    }
}
