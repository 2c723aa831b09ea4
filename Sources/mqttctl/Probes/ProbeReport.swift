import Mosquitto

/// How probe results are shown: the JSON documents of --json (a documented
/// contract: keys are only ever added) and the human reports. Pure functions
/// of the finished probes.
enum ProbeReport {
    // MARK: Rows

    /// One probe in a report: a label, a verdict, and lines of facts.
    struct Row {
        let label: String
        let verdict: String
        let lines: [String]
        /// No MUST broken (with --strict, no SHOULD) and something was concluded.
        let passed: Bool
        /// Nothing failed, but nothing could be concluded either.
        var inconclusive = false
        /// Warnings among the row's findings (SHOULD, MAY, non-normative).
        var warnings = 0
    }

    static func render(_ rows: [Row], indent: String) -> String {
        let width = rows.map(\.label.count).max() ?? 0
        let verdictWidth = max(4, rows.map(\.verdict.count).max() ?? 0)
        var out = ""
        for row in rows {
            for (i, line) in row.lines.enumerated() {
                let label = i == 0 ? pad(row.label, width) : pad("", width)
                let verdict = i == 0 ? pad(row.verdict, verdictWidth) : pad("", verdictWidth)
                out += indent + label + "  " + verdict + "  " + line + "\n"
            }
        }
        return out
    }

    /// "--- pass (6 of 6), 2 warnings" / "--- 2 of 6 did not pass (1 inconclusive)".
    static func footer(_ rows: [Row]) -> String {
        let failed = rows.filter { !$0.passed }.count
        let inconclusive = rows.filter(\.inconclusive).count
        let warnings = rows.map(\.warnings).reduce(0, +)
        var out =
            failed == 0 ? "--- pass (\(rows.count) of \(rows.count))" : "--- \(failed) of \(rows.count) did not pass"
        if inconclusive > 0 { out += " (\(inconclusive) inconclusive)" }
        if warnings > 0 { out += ", \(warnings) warning\(warnings == 1 ? "" : "s")" }
        return out + "\n"
    }

    // MARK: Everything (`probe` without subcommand)

    struct Skipped {
        let version: ProtocolVersion
        let reason: String
    }

    static func json(
        keepAlive: [KeepAliveProbe], takeover: [TakeoverProbe], skipped: [Skipped], elapsed: Double,
        pass: Bool, inconclusive: Bool
    ) -> JSON {
        .object([
            ("probe", .string("all")),
            ("keepalive", .array(keepAlive.map { json($0) })),
            ("takeover", .array(takeover.map(json))),
            (
                "skipped",
                .array(
                    skipped.map {
                        .object([("protocol", .string($0.version.description)), ("reason", .string($0.reason))])
                    })
            ),
            ("elapsed_s", JSON.rounded(elapsed)),
            ("inconclusive", .bool(inconclusive)),
            ("pass", .bool(pass)),
        ])
    }

    static func text(
        endpoint: String, versions: [ProtocolVersion], keepAlive: [KeepAliveProbe], takeover: [TakeoverProbe],
        skipped: [Skipped], elapsed: Double
    ) -> String {
        let count = keepAlive.flatMap(\.subjects).count + takeover.count
        var out =
            "PROBE \(endpoint): MQTT \(versions.map(\.description).joined(separator: " and ")), \(count) probes at once in \(Numbers.fixed(elapsed, 1)) s\n"
        var all: [Row] = []
        for version in versions {
            out += "MQTT \(version)\n"
            if let skip = skipped.first(where: { $0.version == version }) {
                out += "  skipped: \(skip.reason)\n"
                continue
            }
            var rows: [Row] = []
            for probe in keepAlive where probe.plan.protocolVersion == version {
                for subject in probe.subjects {
                    var row = row(subject)
                    if let control = probe.control {
                        // The control belongs to the keep-alive probe; its failure fails the row.
                        let finding = control.finding(version: version, strict: probe.plan.strict)
                        let verdict = control.passed(version: version, strict: probe.plan.strict) ? row.verdict : "fail"
                        let passed = row.passed && control.passed(version: version, strict: probe.plan.strict)
                        row = Row(
                            label: row.label, verdict: verdict,
                            lines: row.lines + [controlText(control)] + [finding].reported.compactMap(\.reportLine),
                            passed: passed, inconclusive: row.inconclusive && passed, warnings: row.warnings)
                    }
                    rows.append(row)
                }
            }
            rows += takeover.filter { $0.plan.protocolVersion == version }.map(row)
            all += rows
            out += render(rows, indent: "  ")
        }
        for probe in keepAlive {
            for note in probe.notes { out += "note (MQTT \(probe.plan.protocolVersion)): \(note)\n" }
        }
        out += footer(all)
        return out
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
