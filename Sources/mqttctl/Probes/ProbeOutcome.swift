/// How a finished probe run ends: status 0 when no MUST was broken (with
/// --strict, no SHOULD either) and everything was concluded, 10 when a rule
/// failed, 12 when nothing failed but something could not be concluded.
enum ProbeOutcome {
    static func finish(command: String, passed: Bool, inconclusive: Bool, failed: [String]) throws(CommandFailure) {
        if passed { return }
        if inconclusive {
            throw CommandFailure(
                .inconclusive,
                "\(command) was inconclusive: \(failed.joined(separator: "; ")) (a longer --max-wait may help)")
        }
        throw CommandFailure(.verdictFailed, "\(command) did not pass: \(failed.joined(separator: "; "))")
    }

    /// What the verdict rests on, for every probe's --help.
    static let rulesHelp = """
        HOW VERDICTS ARE JUDGED
        Every expectation rests on a rule of the specification (MQTT 3.1.1 of 2014, MQTT 5.0 of \
        2019), and every finding names its clause and its level: a broken MUST ([MQTT-x.y.z-n]) \
        fails (exit 10); a SHOULD, a MAY or a non-normative comment that the broker does not follow \
        is a warning (a failure only with --strict); where the specification's own texts disagree \
        the finding is a note that quotes both readings and never fails. When a verdict cannot be \
        reached within --max-wait and nothing failed, the exit status is 12 (inconclusive). JSON \
        findings: [{"level" ("fail", "warning" or "note"), "basis" ("MUST", "SHOULD", "MAY", \
        "non-normative", "unsettled"), "clause", "expected", "observed", "text", "quote"}]; "pass" \
        is true when no MUST was broken (with --strict, nothing but notes) and a verdict was reached.
        """
}
