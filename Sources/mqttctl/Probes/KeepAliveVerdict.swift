import Mosquitto

/// What happened to one silent connection, in words (the report's verdict
/// column). Whether it passes is the findings' business (`KeepAliveJudge`).
enum KeepAliveVerdict: String {
    /// Dropped between K and the limit (or, for K = 0, not dropped while watched).
    case pass
    /// Dropped before K (or at all, when keep-alive was off): permitted, a warning.
    case early
    /// Dropped after the limit: a broken MUST.
    case late
    /// Not dropped although we watched past the limit: a broken MUST.
    case never
    /// Not dropped, but --max-wait ended before the limit: nothing can be concluded.
    case inconclusive
    /// The broker did not accept this keep-alive (a CONNACK refusal, or a close without CONNACK).
    case refused

    /// The limit in seconds for an effective keep-alive; nil when it is off.
    /// K × backoff × 2 + grace: backoff 0.75 gives the specification's 1.5 × K,
    /// grace is for brokers that count in whole seconds.
    static func limit(keepAlive: Int, backoff: Double, grace: Double) -> Double? {
        keepAlive > 0 ? Double(keepAlive) * backoff * 2 + grace : nil
    }
}

/// Everything measured on one silent connection that the verdict rests on.
struct KeepAliveObservation {
    var version: ProtocolVersion
    /// The keep-alive we asked for.
    var requested: Int
    /// MQTT 5 Server Keep Alive from CONNACK, if any.
    var serverKeepAlive: Int?
    /// Why the broker did not accept the connection (nil: it did).
    var refusal: String?
    /// Seconds from our last byte (the CONNECT) to the close; nil when not dropped.
    var droppedAfter: Double?
    /// Seconds we watched.
    var watched: Double
    var maxWait: Double
    var limit: Double?
    /// The connection had a will.
    var hasWill: Bool = false
    var willDelay: UInt32 = 0
    /// Seconds from the drop to the will's arrival; nil when it did not come in time.
    var willAfterDrop: Double?
    /// How long after the drop we watched for the will.
    var willWatched: Double = 0
    /// The connection's session ends with it (MQTT 5 session expiry 0; clean session).
    var sessionEndsAtClose = true
    var grace: Double = 1
    var strict = false

    /// What the broker enforces: its Server Keep Alive if it imposed one, else ours.
    var effective: Int { serverKeepAlive ?? requested }
}

/// Turns one observation into a verdict and the findings behind it. Pure: the
/// unit tests call it with made-up observations.
enum KeepAliveJudge {
    static func judge(_ o: KeepAliveObservation) -> (verdict: KeepAliveVerdict, findings: [Finding]) {
        let version = o.version
        let k = o.effective
        if let refusal = o.refusal {
            let finding = Finding.check(
                SpecRules.keepAliveRefusal(version), met: false, strict: o.strict,
                expected: "keep-alive \(o.requested) s accepted", observed: refusal,
                text: "the broker did not accept keep-alive \(o.requested) s: \(refusal)")
            return (.refused, [finding])
        }
        var findings: [Finding] = []
        let verdict: KeepAliveVerdict
        let dropped = o.droppedAfter.map { "dropped after \(Numbers.fixed($0, 3)) s" }
        if k == 0 || o.limit == nil {
            verdict = o.droppedAfter == nil ? .pass : .early
            findings.append(
                .check(
                    SpecRules.keepAliveZero(version), met: o.droppedAfter == nil, strict: o.strict,
                    expected: "not dropped (keep-alive off)",
                    observed: dropped ?? "not dropped in \(Numbers.fixed(o.watched, 3)) s",
                    text: o.droppedAfter == nil
                        ? "keep-alive off: not dropped while watched"
                        : "keep-alive off, yet the broker dropped the connection (permitted, not expected)"))
        } else if let limit = o.limit, let t = o.droppedAfter {
            let window = "between \(k) and \(Numbers.short(limit)) s"
            if t < Double(k) {
                verdict = .early
                findings.append(
                    .check(
                        SpecRules.keepAliveNotBeforeK(version), met: false, strict: o.strict,
                        expected: "not dropped before \(k) s", observed: dropped ?? "",
                        text:
                            "dropped before the keep-alive of \(k) s had passed (permitted, but the client was within its keep-alive)"
                    ))
            } else {
                verdict = t > limit ? .late : .pass
            }
            findings.append(
                .check(
                    SpecRules.keepAliveClose(version), met: t <= limit, strict: o.strict,
                    expected: "closed within \(Numbers.short(limit)) s (1.5 × K + grace)", observed: dropped ?? "",
                    text: t <= limit
                        ? "closed \(window)"
                        : "closed after \(Numbers.fixed(t, 3)) s, later than 1.5 × K (+ grace) = \(Numbers.short(limit)) s"
                ))
        } else if let limit = o.limit {
            if o.watched >= limit {
                verdict = .never
                findings.append(
                    .check(
                        SpecRules.keepAliveClose(version), met: false, strict: o.strict,
                        expected: "closed within \(Numbers.short(limit)) s",
                        observed: "not dropped in \(Numbers.fixed(o.watched, 3)) s",
                        text:
                            "never closed: watched \(Numbers.fixed(o.watched, 1)) s, past 1.5 × K (+ grace) = \(Numbers.short(limit)) s"
                    ))
            } else {
                verdict = .inconclusive
                findings.append(
                    .note(
                        SpecRules.measurementLimit(version),
                        expected: "closed within \(Numbers.short(limit)) s",
                        observed: "not dropped in \(Numbers.fixed(o.watched, 3)) s",
                        text:
                            "inconclusive: --max-wait \(Numbers.short(o.maxWait)) s ended before the limit of \(Numbers.short(limit)) s, so the rule could not be checked"
                    ))
            }
        } else {
            verdict = .inconclusive
        }
        if o.hasWill, o.droppedAfter != nil {
            findings += willFindings(o)
        }
        return (verdict, findings)
    }

    /// After a drop: the will MUST come; MQTT 5 also times it.
    static func willFindings(_ o: KeepAliveObservation) -> [Finding] {
        let version = o.version
        guard let after = o.willAfterDrop else {
            return [
                .check(
                    SpecRules.willPublished(version), met: false, strict: o.strict,
                    expected: "will published after the drop",
                    observed: "no will within \(Numbers.short(o.willWatched)) s of the drop",
                    text: "the will was not published after the broker closed the connection")
            ]
        }
        var findings: [Finding] = [
            .check(
                SpecRules.willPublished(version), met: true, strict: o.strict,
                expected: "will published after the drop",
                observed: "published \(Numbers.fixed(after, 3)) s after the drop", text: "will published")
        ]
        guard version == .v5 else { return findings }
        // Due at the close when the session ends with the connection, else after the delay.
        let due = o.sessionEndsAtClose ? 0 : Double(o.willDelay)
        let expected =
            o.sessionEndsAtClose
            ? "at the close (the session ends with it\(o.willDelay > 0 ? ", before the will delay of \(o.willDelay) s" : ""))"
            : "\(o.willDelay) s after the close (the will delay)"
        if !o.sessionEndsAtClose && o.willDelay > 0 {
            // A whole-second broker clock may round the delay down by up to a second.
            let early = after < Double(o.willDelay) - 1
            findings.append(
                .check(
                    SpecRules.willNotBeforeDelay, met: !early, strict: o.strict,
                    expected: "not before \(o.willDelay) s after the close",
                    observed: "published \(Numbers.fixed(after, 3)) s after the close",
                    text: early
                        ? "the will came before its delay of \(o.willDelay) s had passed"
                        : "the will waited for its delay"))
        }
        let prompt = after <= due + o.grace
        findings.append(
            .check(
                SpecRules.willPromptly, met: prompt, strict: o.strict,
                expected: "published \(expected), within \(Numbers.short(o.grace)) s (--grace)",
                observed: "published \(Numbers.fixed(after, 3)) s after the close",
                text: prompt
                    ? "will published promptly"
                    : "the will came \(Numbers.fixed(after - due, 3)) s later than due (\(expected))"))
        return findings
    }
}
