using System.Text;

namespace Decentralized.Node.Data;

/// <summary>
/// Reads lines like <see cref="TextReader.ReadLine"/> but refuses a line longer than a limit
/// before buffering it, so a file without newlines cannot exhaust memory.
/// </summary>
internal sealed class BoundedLineReader : IDisposable
{
    private readonly TextReader _reader;
    private readonly string _name;
    private readonly int _maxChars;
    private readonly char[] _buffer = new char[64 * 1024];
    private readonly StringBuilder _line = new();
    private int _position;
    private int _length;

    public BoundedLineReader(TextReader reader, string name, int maxChars)
    {
        _reader = reader;
        _name = name;
        _maxChars = maxChars;
    }

    /// <summary>1-based number of the line most recently returned.</summary>
    public long LineNumber { get; private set; }

    /// <summary>Next line without its terminator (\n or \r\n), or null at end of input.</summary>
    public string? ReadLine()
    {
        _line.Clear();
        var sawAny = false;
        while (true)
        {
            if (_position == _length)
            {
                _length = _reader.Read(_buffer, 0, _buffer.Length);
                _position = 0;
                if (_length == 0)
                {
                    return sawAny ? Finish() : null;
                }
            }

            sawAny = true;
            var available = _buffer.AsSpan(_position, _length - _position);
            var newline = available.IndexOf('\n');
            var take = newline < 0 ? available.Length : newline;
            if (_line.Length + take > _maxChars + 1)
            {
                throw new DataException(
                    $"{_name}:{LineNumber + 1}: line is longer than {_maxChars} characters; split the record or raise the line limit");
            }

            _line.Append(available[..take]);
            _position += newline < 0 ? take : take + 1;
            if (newline >= 0)
            {
                return Finish();
            }
        }
    }

    public void Dispose() => _reader.Dispose();

    private string Finish()
    {
        LineNumber++;
        if (_line.Length > 0 && _line[^1] == '\r')
        {
            _line.Length--;
        }

        if (_line.Length > _maxChars)
        {
            throw new DataException(
                $"{_name}:{LineNumber}: line is longer than {_maxChars} characters; split the record or raise the line limit");
        }

        return _line.ToString();
    }
}
