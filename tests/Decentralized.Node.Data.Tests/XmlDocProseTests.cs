namespace Decentralized.Node.Data.Tests;

public class XmlDocProseTests
{
    private const string Sample = """
        <?xml version="1.0" encoding="utf-8"?>
        <doc>
          <assembly><name>Sample</name></assembly>
          <members>
            <member name="M:System.Collections.Generic.List`1.Add(`0)">
              <summary>Adds an object to the end of the <see cref="T:System.Collections.Generic.List`1" />.</summary>
              <param name="item">The object to add. The value can be <see langword="null" /> for <typeparamref name="T" />.</param>
              <exception cref="T:System.ArgumentNullException">
                <paramref name="item" /> is <see langword="null" />.</exception>
              <seealso cref="M:System.Collections.Generic.List`1.Remove(`0)" />
            </member>
            <member name="M:System.Foo.#ctor">
              <summary>To be added.</summary>
            </member>
            <member name="T:System.Bar">
              <summary>Compares <c>a &lt; b</c>, see <xref data-throw-if-not-resolved="true" uid="System.IO.Stream.ReadAsync(System.Byte[])"></xref>.<para>Second   paragraph.</para></summary>
            </member>
          </members>
        </doc>
        """;

    [Fact]
    public void ExtractsProseWithShortNamesAndNoMarkup()
    {
        using var temp = new TempFolder();
        var file = temp.Write("Sample.xml", Sample);
        var documents = XmlDocProse.Read(file).ToList();
        Assert.Equal(2, documents.Count);
        Assert.Equal(
            "Adds an object to the end of the List.\nThe object to add. The value can be null for T.\nitem is null.",
            documents[0]);
        Assert.Equal("Compares a < b, see ReadAsync.\nSecond paragraph.", documents[1]);
    }

    [Theory]
    [InlineData("T:System.String", "String")]
    [InlineData("M:System.Nullable`1.#ctor(`0)", "Nullable")]
    [InlineData("M:System.Linq.Enumerable.Select``2(System.Func{``0,``1})", "Select")]
    [InlineData("M:System.Foo.System#IDisposable#Dispose", "Dispose")]
    [InlineData("System.IO.Stream", "Stream")]
    public void ShortNamesDropNamespacesArityAndParameters(string reference, string expected)
    {
        Assert.Equal(expected, XmlDocProse.ShortName(reference));
    }
}
