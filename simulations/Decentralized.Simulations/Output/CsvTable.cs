using System.Globalization;
using System.Text;

namespace Decentralized.Simulations.Output;

/// <summary>
/// A CSV file built in memory and written once, in the invariant culture, with '\n' line ends, so that the same
/// values give the same bytes on every machine. Text cells are quoted when they contain a comma, quote or newline.
/// </summary>
public sealed class CsvTable
{
    private readonly StringBuilder _text = new();
    private readonly int _columns;

    /// <summary>Starts a table with the given column names.</summary>
    public CsvTable(params string[] columns)
    {
        if (columns.Length == 0) throw new ArgumentException("a table needs at least one column");
        _columns = columns.Length;
        AppendRow(columns);
    }

    /// <summary>Rows written so far (without the header).</summary>
    public int RowCount { get; private set; }

    /// <summary>Adds a row; numbers are formatted invariantly (doubles to 9 significant digits).</summary>
    public CsvTable Add(params object?[] cells)
    {
        if (cells.Length != _columns) throw new ArgumentException($"row has {cells.Length} cells, the table has {_columns} columns");
        AppendRow(cells.Select(Format));
        RowCount++;
        return this;
    }

    /// <summary>The table as text.</summary>
    public override string ToString() => _text.ToString();

    /// <summary>Writes the table to <paramref name="path"/> (UTF-8, no BOM).</summary>
    public void Save(string path) => File.WriteAllText(path, _text.ToString(), new UTF8Encoding(false));

    /// <summary>Invariant text of one value, as it appears in CSV and reports.</summary>
    public static string Format(object? value) => value switch
    {
        null => "",
        double d when double.IsNaN(d) => "nan",
        double d => d.ToString("G9", CultureInfo.InvariantCulture),
        float f => f.ToString("G7", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private void AppendRow(IEnumerable<string> cells)
    {
        _text.AppendJoin(',', cells.Select(Quote)).Append('\n');
    }

    private static string Quote(string cell) =>
        cell.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + cell.Replace("\"", "\"\"") + "\"" : cell;
}
