import Mosquitto

/// One silent connection and what happened to it (kept by KeepAliveMachine, read by the report).
struct KeepAliveSubject {
    let plan: KeepAlivePlan.Subject
    var connAck: ConnAck?
    /// Monotonic time of our last write: the end of CONNECT. Everything is measured from here.
    var silentSince: UInt64?
    var maxWait: Double = 0
    var limit: Double?
    var droppedAt: UInt64?
    var end: ConnectionEnd?
    /// When we stopped watching without a drop.
    var gaveUpAt: UInt64?
    /// Why the broker did not take this keep-alive, and its CONNACK code if it sent one.
    var refusal: (text: String, code: Int?)?
    var willArrivedAt: UInt64?
    var willResolved = false
    var willDeadline: UInt64?
    /// Seconds after the drop the will was watched for.
    var willWindow: Double = 0
    /// The verdict and its findings, once known.
    var result: (verdict: KeepAliveVerdict, findings: [Finding])?

    init(_ plan: KeepAlivePlan.Subject) {
        self.plan = plan
    }

    var verdict: KeepAliveVerdict? { result?.verdict }
    var findings: [Finding] { result?.findings ?? [] }
    var serverKeepAlive: Int? { connAck?.properties.serverKeepAlive }
    /// What the broker enforces: its Server Keep Alive if it imposed one, else ours.
    var effectiveKeepAlive: Int { serverKeepAlive ?? plan.keepAlive }
    var resolved: Bool { verdict != nil && willResolved }

    var droppedAfter: Double? {
        guard let droppedAt, let silentSince else { return nil }
        return MonotonicClock.seconds(silentSince, droppedAt)
    }

    var watched: Double? {
        guard let silentSince else { return nil }
        return MonotonicClock.seconds(silentSince, droppedAt ?? gaveUpAt ?? MonotonicClock.now())
    }

    /// nil without a will, or when there was no drop to publish it.
    var willPublished: Bool? {
        guard plan.willTopic != nil, droppedAt != nil else { return nil }
        return willArrivedAt != nil
    }

    var willAfterDrop: Double? {
        guard let droppedAt, let willArrivedAt else { return nil }
        return MonotonicClock.seconds(droppedAt, willArrivedAt)
    }

    /// No MUST broken (with --strict no SHOULD), and something was concluded.
    var passed: Bool { verdict != nil && verdict != .inconclusive && findings.passed }
    var inconclusive: Bool { verdict == .inconclusive && findings.passed }

    /// What was measured, for the judge.
    func observation(plan probe: KeepAlivePlan, willDelay: UInt32) -> KeepAliveObservation {
        KeepAliveObservation(
            version: probe.protocolVersion, requested: plan.keepAlive, serverKeepAlive: serverKeepAlive,
            refusal: refusal?.text, droppedAfter: droppedAfter, watched: watched ?? 0, maxWait: maxWait, limit: limit,
            hasWill: plan.willTopic != nil, willDelay: willDelay, willAfterDrop: willAfterDrop, willWatched: willWindow,
            sessionEndsAtClose: true, grace: probe.grace, strict: probe.strict)
    }
}

/// The negative control's connection (kept by KeepAliveMachine, read by the report).
struct KeepAliveControl {
    let plan: KeepAlivePlan.Control
    var disconnectedAt: UInt64?
    var willArrivedAt: UInt64?
    var done = false
    var watched: Double = 0

    init(_ plan: KeepAlivePlan.Control) {
        self.plan = plan
    }

    var willPublished: Bool { willArrivedAt != nil }

    func finding(version: ProtocolVersion, strict: Bool) -> Finding {
        .check(
            SpecRules.willDeletedByDisconnect(version), met: !willPublished, strict: strict,
            expected: "no will after a normal DISCONNECT",
            observed: willPublished ? "will published" : "no will within \(Numbers.short(watched)) s",
            text: willPublished ? "the will was PUBLISHED after a clean DISCONNECT" : "no will after a clean DISCONNECT"
        )
    }

    func passed(version: ProtocolVersion, strict: Bool) -> Bool {
        done && finding(version: version, strict: strict).level != .fail
    }
}
