import Mosquitto

/// The `probe keepalive` report: JSON document and text.
extension ProbeReport {
    /// `elapsed`: seconds the whole command measured (monotonic), for a stand-alone run.
    static func json(_ probe: KeepAliveProbe, elapsed: Double? = nil) -> JSON {
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
        ] + (elapsed.map { [("elapsed_s", JSON.rounded($0))] } ?? []) + [
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
}
