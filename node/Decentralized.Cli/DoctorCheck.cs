namespace Decentralized.Cli;

/// <summary>One line of <c>decentralized doctor</c>: what was checked, how it went, and the exact fix when it failed.</summary>
/// <param name="Check">Short name (key file, listen, bootstrap &lt;addr&gt;, reachability, relays, disk).</param>
/// <param name="Status">ok | warn | fail.</param>
/// <param name="Detail">What was found.</param>
/// <param name="Fix">What to do (which flag to pass, which port to open); null when nothing is needed.</param>
public sealed record DoctorCheck(string Check, string Status, string Detail, string? Fix = null)
{
    public static DoctorCheck Ok(string check, string detail) => new(check, "ok", detail);
    public static DoctorCheck Warn(string check, string detail, string? fix = null) => new(check, "warn", detail, fix);
    public static DoctorCheck Fail(string check, string detail, string fix) => new(check, "fail", detail, fix);

    /// <summary>One line for people: "ok    listen: …" or "FAIL  reachability: … ; fix: …".</summary>
    public override string ToString() =>
        $"{(Status == "fail" ? "FAIL" : Status),-5} {Check}: {Detail}{(Fix is null ? "" : $"; fix: {Fix}")}";
}
