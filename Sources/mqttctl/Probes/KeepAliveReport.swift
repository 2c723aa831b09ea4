import Mosquitto

/// The `probe keepalive` report: JSON document and text.
extension ProbeReport {
    /// `elapsed`: seconds the whole command measured (monotonic), for a stand-alone run.
    static func json(_ probe: KeepAliveProbe, elapsed: Double? = nil) -> JSON {
        let plan = probe.plan
        let control: JSON =
            probe.control.map { control in
                let finding = control.finding(version: plan.protocolVersion, strict: plan.strict)
                return .object([
                    ("client_id", .string(control.plan.clientID)),
                    ("will_topic", .string(control.plan.willTopic)),
                    ("will_published", .bool(control.willPublished)),
                    ("findings", .array([finding].reported.map(\.json))),
                    ("pass", .bool(control.passed(version: plan.protocolVersion, strict: plan.strict))),
                ])
            } ?? .null
        var members: [(String, JSON)] = [
            ("probe", .string("keepalive")),
            ("host", .string(probe.context.base.host)),
            ("port", .int(probe.context.base.port)),
            ("transport", .string(probe.context.base.transportName)),
            ("websocket_path", JSON.optional(probe.context.base.webSocketPath)),
            ("protocol", .string(plan.protocolVersion.description)),
            ("backoff", JSON.rounded(plan.backoff)),
            ("grace_s", JSON.rounded(plan.grace)),
            ("strict", .bool(plan.strict)),
            ("results", .array(probe.subjects.map { json($0) })),
            ("negative_control", control),
            (
                "samples",
                .array(
                    probe.sampleSummaries.map { s in
                        .object([
                            ("keepalive", .int(s.keepAlive)),
                            ("count", .int(s.count)),
                            ("dropped", .int(s.drops.count)),
                            ("min_s", s.minimum.map { JSON.rounded($0) } ?? .null),
                            ("median_s", s.median.map { JSON.rounded($0) } ?? .null),
                            ("max_s", s.maximum.map { JSON.rounded($0) } ?? .null),
                            ("implied_check_period_s", s.impliedCheckPeriod.map { JSON.rounded($0) } ?? .null),
                            ("worst_verdict", JSON.optional(s.worst?.rawValue)),
                        ])
                    })
            ),
            ("notes", .array(probe.notes.map(JSON.string))),
        ]
        if let elapsed { members.append(("elapsed_s", JSON.rounded(elapsed))) }
        members.append(("inconclusive", .bool(probe.inconclusive)))
        members.append(("pass", .bool(probe.passed)))
        return .object(members)
    }

    static func json(_ subject: KeepAliveSubject) -> JSON {
        let k = subject.effectiveKeepAlive
        let connected = subject.connAck != nil
        var members: [(String, JSON)] = [
            ("client_id", .string(subject.plan.clientID)),
            ("keepalive", .int(subject.plan.keepAlive)),
            ("sample", .int(subject.plan.sample + 1)),
            ("started_after_s", JSON.rounded(subject.plan.startOffset)),
            ("effective_keepalive", connected ? .int(k) : .null),
            ("server_keepalive", JSON.optional(subject.serverKeepAlive)),
            ("connack_code", JSON.optional(subject.refusal?.code)),
            ("refusal", JSON.optional(subject.refusal?.text)),
            ("dropped", .bool(subject.droppedAt != nil)),
            ("dropped_after_s", subject.droppedAfter.map { JSON.rounded($0) } ?? .null),
            ("ratio", ratio(subject).map { JSON.rounded($0) } ?? .null),
            ("expected_min_s", connected ? .int(k) : .null),
            ("expected_limit_s", subject.limit.map { JSON.rounded($0) } ?? .null),
            ("watched_s", subject.watched.map { JSON.rounded($0) } ?? .null),
            ("max_wait_s", connected ? JSON.rounded(subject.maxWait) : .null),
            ("closed_by", JSON.optional(subject.end?.kind)),
            ("disconnect_reason", JSON.optional(subject.end?.reasonCode)),
        ]
        members += subject.end?.jsonDetails ?? ConnectionEnd.noJSONDetails
        members += [
            ("will_topic", JSON.optional(subject.plan.willTopic)),
            ("will_published", JSON.optional(subject.willPublished)),
            ("will_after_drop_s", subject.willAfterDrop.map { JSON.rounded($0) } ?? .null),
            ("will_watched_s", subject.willPublished != nil ? JSON.rounded(subject.willWindow) : .null),
            ("verdict", JSON.optional(subject.verdict?.rawValue)),
            ("findings", .array(subject.findings.reported.map(\.json))),
            ("pass", .bool(subject.passed)),
        ]
        return .object(members)
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
        var out =
            "PROBE keepalive \(probe.context.endpoint) (MQTT \(plan.protocolVersion)): silent after CONNECT, drop expected between K and \(limitFormula(backoff: plan.backoff, grace: plan.grace))\n"
        var rows = probe.subjects.map(row)
        if let control = probe.control {
            let finding = control.finding(version: plan.protocolVersion, strict: plan.strict)
            let passed = control.passed(version: plan.protocolVersion, strict: plan.strict)
            rows.append(
                Row(
                    label: "negative control", verdict: passed ? "pass" : "fail",
                    lines: [
                        control.willPublished
                            ? "will PUBLISHED after a clean DISCONNECT (it must not be)"
                            : "no will after a clean DISCONNECT"
                    ]
                        + [finding].reported.compactMap(\.reportLine), passed: passed))
        }
        out += render(rows, indent: "")
        out += samplesText(probe)
        for note in probe.notes { out += "note: \(note)\n" }
        out += footer(rows)
        return out
    }

    static func row(_ subject: KeepAliveSubject) -> Row {
        var lines = [describe(subject)]
        if let will = describeWill(subject) { lines.append(will) }
        lines += subject.findings.reported.compactMap(\.reportLine)
        let sample = subject.plan.sample > 0 || subject.plan.startOffset > 0 ? " #\(subject.plan.sample + 1)" : ""
        return Row(
            label: "keep-alive K=\(subject.plan.keepAlive) s\(sample)", verdict: verdictWord(subject), lines: lines,
            passed: subject.passed, inconclusive: subject.inconclusive, warnings: subject.findings.warnings)
    }

    /// The verdict column: what happened, or "fail" when the drop was fine but something else (the will) was not.
    static func verdictWord(_ subject: KeepAliveSubject) -> String {
        guard let verdict = subject.verdict else { return "-" }
        return verdict == .pass && !subject.passed ? "fail" : verdict.rawValue
    }

    /// "K=5 s, 4 samples: dropped after 7.012 / 9.504 / 12.998 s (min / median / max); check period at least 5.986 s; worst: late".
    static func samplesText(_ probe: KeepAliveProbe) -> String {
        probe.sampleSummaries.map { s in
            var text = "K=\(s.keepAlive) s, \(s.count) samples: "
            if let lo = s.minimum, let mid = s.median, let hi = s.maximum {
                text +=
                    "dropped after \(Numbers.fixed(lo, 3)) / \(Numbers.fixed(mid, 3)) / \(Numbers.fixed(hi, 3)) s (min / median / max)"
            } else {
                text += "none dropped"
            }
            if let period = s.impliedCheckPeriod { text += "; check period at least \(Numbers.fixed(period, 3)) s" }
            if let worst = s.worst { text += "; worst sample: \(worst.rawValue)" }
            return text + "\n"
        }.joined()
    }

    static func controlText(_ control: KeepAliveControl) -> String {
        control.willPublished
            ? "negative control: will PUBLISHED after a clean DISCONNECT (it must not be)"
            : "negative control: no will after a clean DISCONNECT"
    }

    /// "dropped after 11.043 s = 2.21 × K (window 5..8.5 s); socket closed (FIN), no DISCONNECT".
    static func describe(_ subject: KeepAliveSubject) -> String {
        if let refusal = subject.refusal {
            return "not accepted: \(refusal.text)"
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
        } else if subject.gaveUpAt != nil && (subject.watched ?? 0) < 0.5 && subject.verdict == .inconclusive {
            text += "not watched (\(window))"
        } else {
            text += "not dropped in \(Numbers.fixed(subject.watched ?? 0, 3)) s (\(window))"
        }
        return text
    }

    static func describeWill(_ subject: KeepAliveSubject) -> String? {
        guard let topic = subject.plan.willTopic, subject.droppedAt != nil else { return nil }
        if let after = subject.willAfterDrop {
            if after <= -0.0005 {
                return "will on '\(topic)' published \(Numbers.fixed(-after, 3)) s before the drop was seen"
            }
            return "will on '\(topic)' published \(Numbers.fixed(after, 3)) s after the drop"
        }
        return "will on '\(topic)' NOT published within \(Numbers.short(subject.willWindow)) s of the drop"
    }
}
