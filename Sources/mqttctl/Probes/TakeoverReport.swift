import Mosquitto

/// The `probe takeover` report: JSON document and text.
extension ProbeReport {
    static func json(_ probe: TakeoverProbe) -> JSON {
        let plan = probe.plan
        let expectation = probe.expectation
        var members: [(String, JSON)] = [
            ("probe", .string("takeover")),
            ("host", .string(probe.context.base.host)),
            ("port", .int(probe.context.base.port)),
            ("transport", .string(probe.context.base.transportName)),
            ("websocket_path", JSON.optional(probe.context.base.webSocketPath)),
            ("protocol", .string(plan.protocolVersion.description)),
            ("client_id", .string(plan.clientID)),
            ("session", .string(plan.sessionName)),
            ("clean_start", .bool(plan.cleanStart)),
            ("new_clean_start", .bool(plan.bCleanStart)),
            ("session_expiry", plan.protocolVersion == .v5 ? .int(Int(plan.sessionExpiry ?? 0)) : .null),
            ("will_delay_s", plan.will.map { .int(Int($0.delayInterval)) } ?? .null),
            ("strict", .bool(plan.strict)),
            ("b_host", plan.bEndpoint.map { .string($0.host) } ?? .null),
            ("b_port", plan.bEndpoint.map { .int($0.port) } ?? .null),
            ("old_closed", .bool(probe.oldClosed)),
            ("closed_after_ms", probe.closedAfter.map { JSON.rounded($0) } ?? .null),
            ("connack_after_ms", probe.connAckAfter.map { JSON.rounded($0) } ?? .null),
            ("closed_by", JSON.optional(probe.aEnd?.kind)),
            ("disconnect_reason", JSON.optional(probe.aEnd?.reasonCode)),
        ]
        members += probe.aEnd?.jsonDetails ?? ConnectionEnd.noJSONDetails
        members += [
            ("will_expected", JSON.optional(expectation.will?.published)),
            ("will_rule", expectation.will.map { .string($0.rule.basis.rawValue) } ?? .null),
            ("will_published", JSON.optional(probe.willPublished)),
            ("will_after_close_ms", probe.willAfterClose.map { JSON.rounded($0) } ?? .null),
            ("session_present", probe.bConnAck.map { .bool($0.sessionPresent) } ?? .null),
            ("session_present_expected", .bool(expectation.sessionPresent)),
            ("subscription_carried_over", JSON.optional(probe.subscriptionCarriedOver)),
            ("b_will_published", JSON.optional(probe.bWillPublished)),
            ("inflight_redelivered", JSON.optional(probe.inflightRedelivered)),
            ("verdict", .string(probe.passed ? "pass" : "fail")),
            ("findings", .array(probe.findings.reported.map(\.json))),
            (
                "failures",
                .array(probe.findings.filter { $0.level == .fail }.map { .string("\($0.text) (\($0.rule.clause))") })
            ),
            ("notes", .array(probe.notes.map(JSON.string))),
            ("pass", .bool(probe.passed)),
        ]
        return .object(members)
    }

    /// The facts, one per line: how A ended, then will, session and subscription, then the findings.
    static func facts(_ probe: TakeoverProbe) -> [String] {
        var lines: [String] = []
        if let after = probe.closedAfter, let end = probe.aEnd {
            lines.append("A closed \(Numbers.fixed(after, 3)) ms after B's CONNECT: \(end.text)")
        } else {
            lines.append("A NOT closed within \(Numbers.short(probe.plan.closeWait)) s of B's CONNECT")
        }
        var parts: [String] = []
        if let published = probe.willPublished, let will = probe.expectation.will {
            var text = "will \(published ? "published" : "not published")"
            if let after = probe.willAfterClose {
                // A broker may publish the will just before it closes A: we see it first.
                text +=
                    after < 0
                    ? " \(Numbers.fixed(-after, 3)) ms before A's close was seen"
                    : " \(Numbers.fixed(after, 3)) ms after the close"
            }
            if let expected = will.published {
                text +=
                    published == expected
                    ? " (as expected)" : " (expected: \(expected ? "published" : "not published"))"
            }
            parts.append(text)
        }
        if let ack = probe.bConnAck {
            let expected = probe.expectation.sessionPresent
            parts.append(
                "session present \(ack.sessionPresent ? 1 : 0)\(ack.sessionPresent == expected ? "" : " (expected \(expected ? 1 : 0))")"
            )
        }
        if let carried = probe.subscriptionCarriedOver {
            parts.append(carried ? "subscription carried over to B" : "subscription NOT carried over to B")
        }
        if !parts.isEmpty { lines.append(parts.joined(separator: "; ")) }
        lines += probe.findings.reported.compactMap(\.reportLine)
        lines += probe.notes.map { "note: \($0)" }
        return lines
    }

    static func row(_ probe: TakeoverProbe) -> Row {
        Row(
            label: "take-over, \(probe.plan.sessionName)", verdict: probe.passed ? "pass" : "fail", lines: facts(probe),
            passed: probe.passed, warnings: probe.findings.warnings)
    }

    static func text(_ probe: TakeoverProbe) -> String {
        let plan = probe.plan
        var session = plan.cleanStart ? "clean session" : "persistent session"
        if plan.protocolVersion == .v5 {
            let expiry = plan.sessionExpiry.map { $0 == UInt32.max ? "∞" : "\($0) s" } ?? "0"
            session =
                "A clean start \(plan.cleanStart ? 1 : 0), session expiry \(expiry); B clean start \(plan.bCleanStart ? 1 : 0)"
        } else if plan.bCleanStart != plan.cleanStart {
            session += "; B clean session 1"
        }
        var out =
            "PROBE takeover \(probe.context.endpoint) (MQTT \(plan.protocolVersion), client id \(plan.clientID), \(session)"
        if let will = plan.will {
            out += "; will on '\(will.topic)'\(will.delayInterval > 0 ? ", delay \(will.delayInterval) s" : "")"
        }
        out += ")\n"
        if let will = probe.expectation.will {
            let expected = will.published.map { $0 ? "published" : "not published" } ?? "unsettled"
            out += "will rule: \(expected) (\(will.rule.basis.rawValue), \(will.rule.clause)) — \(will.reason)\n"
        }
        let row = row(probe)
        out += render([row], indent: "")
        out += footer([row])
        return out
    }
}
