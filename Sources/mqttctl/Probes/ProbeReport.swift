import Mosquitto

/// How probe results are shown: the JSON documents of --json (a documented
/// contract: keys are only ever added) and the human reports. Pure functions
/// of the finished probes.
enum ProbeReport {
    // MARK: Keep-alive

    static func json(_ probe: KeepAliveProbe) -> JSON {
        let plan = probe.plan
        let control: JSON = probe.control.map { control in
            .object([
                ("client_id", .string(control.plan.clientID)),
                ("will_topic", .string(control.plan.willTopic)),
                ("will_published", .bool(control.willPublished)),
                ("pass", .bool(control.passed)),
            ])
        } ?? .null
        return .object([
            ("probe", .string("keepalive")),
            ("host", .string(probe.context.base.host)),
            ("port", .int(probe.context.base.port)),
            ("protocol", .string(plan.protocolVersion.description)),
            ("backoff", JSON.rounded(plan.backoff)),
            ("grace_s", JSON.rounded(plan.grace)),
            ("results", .array(probe.subjects.map(json))),
            ("negative_control", control),
            ("notes", .array(probe.notes.map(JSON.string))),
            ("pass", .bool(probe.passed)),
        ])
    }

    static func json(_ subject: KeepAliveSubject) -> JSON {
        let k = subject.effectiveKeepAlive
        return .object([
            ("client_id", .string(subject.plan.clientID)),
            ("keepalive", .int(subject.plan.keepAlive)),
            ("effective_keepalive", subject.connAck == nil ? .null : .int(k)),
            ("server_keepalive", JSON.optional(subject.serverKeepAlive)),
            ("connack_code", JSON.optional(subject.refusal?.reasonCode)),
            ("dropped", .bool(subject.droppedAt != nil)),
            ("dropped_after_s", subject.droppedAfter.map { JSON.rounded($0) } ?? .null),
            ("ratio", ratio(subject).map { JSON.rounded($0) } ?? .null),
            ("expected_min_s", subject.connAck == nil ? .null : .int(k)),
            ("expected_limit_s", subject.limit.map { JSON.rounded($0) } ?? .null),
            ("watched_s", subject.watched.map { JSON.rounded($0) } ?? .null),
            ("max_wait_s", subject.connAck == nil ? .null : JSON.rounded(subject.maxWait)),
            ("closed_by", JSON.optional(subject.end?.kind)),
            ("disconnect_reason", JSON.optional(subject.end?.reasonCode)),
            ("will_topic", JSON.optional(subject.plan.willTopic)),
            ("will_published", JSON.optional(subject.willPublished)),
            ("will_after_drop_s", subject.willAfterDrop.map { JSON.rounded($0) } ?? .null),
            ("verdict", JSON.optional(subject.verdict?.rawValue)),
            ("pass", .bool(subject.passed)),
        ])
    }

    static func ratio(_ subject: KeepAliveSubject) -> Double? {
        guard let t = subject.droppedAfter, subject.effectiveKeepAlive > 0 else { return nil }
        return t / Double(subject.effectiveKeepAlive)
    }

    /// "K × 1.5 + 1 s".
    static func limitFormula(backoff: Double, grace: Double) -> String {
        "K × \(Numbers.short(backoff * 2)) + \(Numbers.short(grace)) s"
    }

    /// The full report of `probe keepalive`.
    static func text(_ probe: KeepAliveProbe) -> String {
        let plan = probe.plan
        var out = "PROBE keepalive \(probe.context.endpoint) (MQTT \(plan.protocolVersion)): silent after CONNECT, drop expected between K and \(limitFormula(backoff: plan.backoff, grace: plan.grace))\n"
        var rows = probe.subjects.map(row)
        if let control = probe.control {
            rows.append(Row(label: "negative control", verdict: control.passed ? "pass" : "fail",
                            lines: [control.willPublished ? "will PUBLISHED after a clean DISCONNECT (it must not be)" : "no will after a clean DISCONNECT"]))
        }
        out += render(rows, indent: "")
        for note in probe.notes { out += "note: \(note)\n" }
        out += footer(rows)
        return out
    }

    static func row(_ subject: KeepAliveSubject) -> Row {
        var lines = [describe(subject)]
        if let will = describeWill(subject) { lines.append(will) }
        let verdict = subject.verdict.map { subject.passed || $0 != .pass ? $0.rawValue : "fail" } ?? "-"
        return Row(label: "keep-alive K=\(subject.plan.keepAlive) s", verdict: verdict, lines: lines)
    }

    static func controlText(_ control: KeepAliveControl) -> String {
        control.willPublished
            ? "negative control: will PUBLISHED after a clean DISCONNECT (it must not be)"
            : "negative control: no will after a clean DISCONNECT"
    }

    /// "dropped after 11.043 s = 2.21 × K (window 5..8.5 s); socket closed, no DISCONNECT".
    static func describe(_ subject: KeepAliveSubject) -> String {
        if let refusal = subject.refusal {
            return "the broker refused keep-alive \(subject.plan.keepAlive): \(refusal.message)"
        }
        guard subject.connAck != nil else { return "not connected" }
        let k = subject.effectiveKeepAlive
        var text = ""
        if let server = subject.serverKeepAlive {
            text += "Server Keep Alive \(server) s (asked \(subject.plan.keepAlive) s): "
        }
        let window = subject.limit.map { "window \(k)..\(Numbers.short($0)) s" } ?? "keep-alive off, no drop expected"
        if let t = subject.droppedAfter, let end = subject.end {
            text += "dropped after \(Numbers.fixed(t, 3)) s"
            if let r = ratio(subject) { text += " = \(Numbers.fixed(r, 2)) × K" }
            text += " (\(window)); \(end.text)"
        } else {
            text += "not dropped in \(Numbers.fixed(subject.watched ?? 0, 3)) s (\(window))"
        }
        return text
    }

    static func describeWill(_ subject: KeepAliveSubject) -> String? {
        guard let topic = subject.plan.willTopic, subject.droppedAt != nil else { return nil }
        if let after = subject.willAfterDrop {
            return "will on '\(topic)' published \(Numbers.fixed(after, 3)) s after the drop"
        }
        return "will on '\(topic)' NOT published after the drop (the server must publish it when it closes the connection)"
    }

    // MARK: Rows

    /// One probe in a report: a label, a verdict, and lines of facts.
    struct Row {
        let label: String
        let verdict: String
        let lines: [String]
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

    static func footer(_ rows: [Row]) -> String {
        let failed = rows.filter { $0.verdict != "pass" }.count
        return failed == 0 ? "--- pass (\(rows.count) of \(rows.count))\n" : "--- \(failed) of \(rows.count) did not pass\n"
    }

    // MARK: Take-over

    static func json(_ probe: TakeoverProbe) -> JSON {
        let plan = probe.plan
        return .object([
            ("probe", .string("takeover")),
            ("host", .string(probe.context.base.host)),
            ("port", .int(probe.context.base.port)),
            ("protocol", .string(plan.protocolVersion.description)),
            ("client_id", .string(plan.clientID)),
            ("session", .string(plan.sessionName)),
            ("clean_start", .bool(plan.cleanStart)),
            ("new_clean_start", .bool(plan.bCleanStart)),
            ("session_expiry", plan.protocolVersion == .v5 ? .int(Int(plan.sessionExpiry ?? 0)) : .null),
            ("will_delay_s", plan.will.map { .int(Int($0.delayInterval)) } ?? .null),
            ("old_closed", .bool(probe.oldClosed)),
            ("closed_after_ms", probe.closedAfter.map { JSON.rounded($0) } ?? .null),
            ("connack_after_ms", probe.connAckAfter.map { JSON.rounded($0) } ?? .null),
            ("closed_by", JSON.optional(probe.aEnd?.kind)),
            ("disconnect_reason", JSON.optional(probe.aEnd?.reasonCode)),
            ("will_expected", JSON.optional(probe.expectation.willPublished)),
            ("will_published", JSON.optional(probe.willPublished)),
            ("will_after_close_ms", probe.willAfterClose.map { JSON.rounded($0) } ?? .null),
            ("session_present", probe.bConnAck.map { .bool($0.sessionPresent) } ?? .null),
            ("session_present_expected", .bool(probe.expectation.sessionPresent)),
            ("subscription_carried_over", JSON.optional(probe.subscriptionCarriedOver)),
            ("verdict", .string(probe.passed ? "pass" : "fail")),
            ("failures", .array(probe.failures.map(JSON.string))),
            ("notes", .array(probe.notes.map(JSON.string))),
            ("pass", .bool(probe.passed)),
        ])
    }

    /// The facts, one per line: how A ended, then will, session and subscription.
    static func facts(_ probe: TakeoverProbe) -> [String] {
        var lines: [String] = []
        if let after = probe.closedAfter, let end = probe.aEnd {
            lines.append("A closed \(Numbers.fixed(after, 3)) ms after B's CONNECT: \(end.text)")
        } else {
            lines.append("A NOT closed within \(Numbers.short(probe.plan.closeWait)) s of B's CONNECT")
        }
        var parts: [String] = []
        if let published = probe.willPublished, let expected = probe.expectation.willPublished {
            var will = "will \(published ? "published" : "not published")"
            if let after = probe.willAfterClose { will += " \(Numbers.fixed(after, 3)) ms after the close" }
            will += published == expected ? " (as expected)" : " (expected: \(expected ? "published" : "not published"))"
            parts.append(will)
        }
        if let ack = probe.bConnAck {
            let expected = probe.expectation.sessionPresent
            parts.append("session present \(ack.sessionPresent ? 1 : 0)\(ack.sessionPresent == expected ? "" : " (expected \(expected ? 1 : 0))")")
        }
        if let carried = probe.subscriptionCarriedOver {
            parts.append(carried ? "subscription carried over to B" : "subscription NOT carried over to B")
        }
        if !parts.isEmpty { lines.append(parts.joined(separator: "; ")) }
        lines += probe.failures.map { "FAIL: \($0)" }
        lines += probe.notes.map { "note: \($0)" }
        return lines
    }

    static func row(_ probe: TakeoverProbe) -> Row {
        Row(label: "take-over, \(probe.plan.sessionName)", verdict: probe.passed ? "pass" : "fail", lines: facts(probe))
    }

    static func text(_ probe: TakeoverProbe) -> String {
        let plan = probe.plan
        var session = plan.cleanStart ? "clean session" : "persistent session"
        if plan.protocolVersion == .v5 {
            let expiry = plan.sessionExpiry.map { $0 == UInt32.max ? "∞" : "\($0) s" } ?? "0"
            session = "A clean start \(plan.cleanStart ? 1 : 0), session expiry \(expiry); B clean start \(plan.bCleanStart ? 1 : 0)"
        } else if plan.bCleanStart != plan.cleanStart {
            session += "; B clean session 1"
        }
        var out = "PROBE takeover \(probe.context.endpoint) (MQTT \(plan.protocolVersion), client id \(plan.clientID), \(session)"
        if let will = plan.will { out += "; will on '\(will.topic)'\(will.delayInterval > 0 ? ", delay \(will.delayInterval) s" : "")" }
        out += ")\n"
        if let expected = probe.expectation.willPublished {
            out += "will rule: \(expected ? "published" : "not published") — \(probe.expectation.willReason)\n"
        }
        let row = row(probe)
        out += render([row], indent: "")
        out += "--- \(probe.passed ? "pass" : "fail")\n"
        return out
    }

    // MARK: Everything (`probe` without subcommand)

    struct Skipped {
        let version: ProtocolVersion
        let reason: String
    }

    static func json(keepAlive: [KeepAliveProbe], takeover: [TakeoverProbe], skipped: [Skipped], elapsed: Double, pass: Bool) -> JSON {
        .object([
            ("probe", .string("all")),
            ("keepalive", .array(keepAlive.map(json))),
            ("takeover", .array(takeover.map(json))),
            ("skipped", .array(skipped.map { .object([("protocol", .string($0.version.description)), ("reason", .string($0.reason))]) })),
            ("elapsed_s", JSON.rounded(elapsed)),
            ("pass", .bool(pass)),
        ])
    }

    static func text(endpoint: String, versions: [ProtocolVersion], keepAlive: [KeepAliveProbe], takeover: [TakeoverProbe],
                     skipped: [Skipped], elapsed: Double) -> String {
        let count = keepAlive.flatMap(\.subjects).count + takeover.count
        var out = "PROBE \(endpoint): MQTT \(versions.map(\.description).joined(separator: " and ")), \(count) probes at once in \(Numbers.fixed(elapsed, 1)) s\n"
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
                        let verdict = control.passed ? row.verdict : "fail"
                        row = Row(label: row.label, verdict: verdict, lines: row.lines + [controlText(control)])
                    }
                    rows.append(row)
                }
            }
            rows += takeover.filter { $0.plan.protocolVersion == version }.map(row)
            all += rows
            out += render(rows, indent: "  ")
        }
        for probe in keepAlive { for note in probe.notes { out += "note (MQTT \(probe.plan.protocolVersion)): \(note)\n" } }
        out += footer(all)
        return out
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
