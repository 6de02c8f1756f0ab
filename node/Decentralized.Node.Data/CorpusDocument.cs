namespace Decentralized.Node.Data;

/// <summary>
/// One document of a corpus and the unit it is held out with: the held-out split keeps or holds out whole units, so
/// no validation text comes from a document that also trains. A unit is a whole file of a folder (or an assembly's
/// XML documentation in the embedded corpus), a record of a .jsonl file, or a piece of a lone text file.
/// </summary>
/// <param name="Unit">Stable name of the unit, the same on every machine (relative path, "#line" or "#piece").</param>
/// <param name="Text">The document's text.</param>
public readonly record struct CorpusDocument(string Unit, string Text);
