import Mosquitto

/// `probe session`: persistent sessions that are left and resumed. One
/// session is resumed halfway through its expiry E: it must be there
/// (session present 1), with the QoS 1 message queued meanwhile and its
/// subscription. Others are resumed one second apart around E, so the moment
/// the broker ends an expired session is measured to the second (MQTT 5;
/// MQTT 3.1.1 sessions do not expire). Runs step by step on the shared loop.
struct SessionProbe {
    struct Resume {
        /// Seconds after the DISCONNECT.
        let after: Double
        var sessionPresent: Bool?
        var queuedDelivered: Bool?
        var subscriptionRestored: Bool?
        var reconnectMilliseconds: Double?
    }

    let setup: ProbeSetup
    let prefix: String
    let expiry: UInt32
    let grace: Double
    let strict: Bool
    let stepTimeout: Double

    var version: ProtocolVersion { setup.version }

    /// When each session is resumed, in seconds after its DISCONNECT.
    var offsets: [Double] {
        guard version == .v5 else { return [1] }
        let e = Double(expiry)
        return [e / 2] + [e - 1, e, e + 1, e + 2].filter { $0 > e / 2 }
    }

    func run() throws(LimitsInterrupted) -> (resumes: [Resume], findings: [Finding], failure: String?) {
        let ids = offsets.indices.map { "\(setup.baseID)-\(version == .v5 ? "5" : "3")-s\($0 + 1)" }
        let topics = offsets.indices.map { "\(prefix)/s\($0 + 1)" }
        let observer: LimitsClient
        do {
            observer = try connect(id: "\(setup.baseID)-\(version == .v5 ? "5" : "3")-s-obs", clean: true)
        } catch let interrupted as LimitsInterrupted {
            throw interrupted
        } catch {
            return ([], [], "the observer could not connect: \(error)")
        }
        defer { observer.disconnect() }

        // Every session: subscribe, leave with a normal DISCONNECT (the session stays).
        var leftAt: [UInt64] = []
        for (id, topic) in zip(ids, topics) {
            do {
                // MQTT 5: clean start 1 with an expiry (a fresh session that outlives the
                // connection); MQTT 3.1.1: clean session 0 (that is what keeps it).
                let s = try connect(id: id, clean: version == .v5)
                guard let granted = try s.subscribe([topic], qos: 1)?.first, granted < 0x80 else {
                    s.disconnect()
                    return ([], [], "the subscription to '\(topic)' was refused")
                }
                s.disconnect()
                leftAt.append(MonotonicClock.now())
            } catch let interrupted as LimitsInterrupted {
                throw interrupted
            } catch {
                return ([], [], "a session could not connect: \(error)")
            }
        }
        // A message for each while it is away.
        for topic in topics { _ = try observer.publish(topic, Array("queued".utf8), qos: 1) }

        var resumes: [Resume] = []
        for (index, offset) in offsets.enumerated() {
            let at = leftAt[index] &+ UInt64(offset * 1e9)
            let now = MonotonicClock.now()
            if at > now { try observer.wait(MonotonicClock.seconds(now, at)) { false } }
            resumes.append(
                try resume(
                    id: ids[index], topic: topics[index], after: offset, checkSubscription: index == 0,
                    observer: observer))
        }
        // Leave nothing behind: a clean connection ends each session.
        for id in ids { try? clean(id) }
        return (resumes, judge(resumes), nil)
    }

    private func connect(id: String, clean: Bool) throws -> LimitsClient {
        let mqtt = try setup.context.makeClient(id: id) { options in
            options.protocolVersion = version
            options.cleanSession = clean
            options.sessionExpiry = version == .v5 ? expiry : nil
        }
        let client = LimitsClient(client: mqtt, loop: setup.context.loop, timeout: stepTimeout)
        try setup.context.connect(mqtt)
        try client.wait(setup.options.connectTimeout) { mqtt.state != .connecting }
        guard mqtt.state == .connected else {
            setup.context.loop.remove(mqtt)
            throw ClientSession.failure(for: mqtt)
        }
        return client
    }

    private func resume(
        id: String, topic: String, after: Double, checkSubscription: Bool,
        observer: LimitsClient
    ) throws(LimitsInterrupted) -> Resume {
        var result = Resume(after: after)
        let started = MonotonicClock.now()
        let s: LimitsClient
        do {
            s = try connect(id: id, clean: false)
        } catch let interrupted as LimitsInterrupted {
            throw interrupted
        } catch {
            return result
        }
        defer { s.disconnect() }
        result.reconnectMilliseconds = s.client.connAck.map { MonotonicClock.milliseconds(started, $0.receivedAt) }
        result.sessionPresent = s.client.connAck?.sessionPresent
        result.queuedDelivered = try s.message(on: topic, within: result.sessionPresent == true ? nil : 0.5) != nil
        if checkSubscription {
            let from = s.messages.count
            _ = try observer.publish(topic, Array("live".utf8), qos: 1)
            result.subscriptionRestored =
                try s.message(on: topic, after: from, within: result.sessionPresent == true ? nil : 0.5) != nil
        }
        return result
    }

    private func clean(_ id: String) throws {
        let c = try connect(id: id, clean: true)
        c.disconnect()
    }

    // MARK: Rules

    func judge(_ resumes: [Resume]) -> [Finding] {
        var findings: [Finding] = []
        guard let first = resumes.first else { return findings }
        let keep = SpecRules.sessionKept(version)
        let when = "\(Numbers.short(first.after)) s after the DISCONNECT"
        findings.append(
            .check(
                keep, met: first.sessionPresent == true, strict: strict, expected: "session present 1 \(when)",
                observed: first.sessionPresent.map { "session present \($0 ? 1 : 0)" } ?? "no CONNACK",
                text: first.sessionPresent == true ? "the session was kept" : "the session was not kept \(when)"))
        findings.append(
            .check(
                keep, met: first.queuedDelivered == true, strict: strict,
                expected: "the QoS 1 message queued meanwhile delivered",
                observed: first.queuedDelivered == true ? "delivered" : "not delivered",
                text: first.queuedDelivered == true
                    ? "the message queued while away was delivered" : "the message queued while away was lost"))
        findings.append(
            .check(
                SpecRules.subscriptionCarriedOver(version, sessionGoesOn: true),
                met: first.subscriptionRestored == true, strict: strict,
                expected: "the subscription restored without SUBSCRIBE",
                observed: first.subscriptionRestored == true ? "restored" : "not restored",
                text: first.subscriptionRestored == true
                    ? "the subscription came back with the session" : "the subscription did not come back"))
        guard version == .v5 else { return findings }
        let e = Double(expiry)
        for r in resumes.dropFirst() where r.after < e {
            findings.append(
                .check(
                    keep, met: r.sessionPresent == true, strict: strict,
                    expected: "session present 1 at \(Numbers.short(r.after)) s (before the expiry of \(expiry) s)",
                    observed: r.sessionPresent.map { "session present \($0 ? 1 : 0)" } ?? "no CONNACK",
                    text: r.sessionPresent == true
                        ? "still there at \(Numbers.short(r.after)) s"
                        : "gone at \(Numbers.short(r.after)) s, before its expiry of \(expiry) s"))
        }
        let late = resumes.filter { $0.after > e + grace && $0.sessionPresent == true }
        findings.append(
            .check(
                SpecRules.sessionExpires, met: late.isEmpty, strict: strict,
                expected: "no session after \(expiry) s (+ \(Numbers.short(grace)) s grace)",
                observed: late.isEmpty
                    ? "ended in time"
                    : "still present at \(late.map { Numbers.short($0.after) + " s" }.joined(separator: ", "))",
                text: late.isEmpty
                    ? "the session ended with its expiry" : "the session outlived its expiry of \(expiry) s"))
        return findings
    }

    /// "between 3 and 4 s" from the resumes around the expiry.
    static func endedBetween(_ resumes: [Resume]) -> (Double?, Double?) {
        let kept = resumes.filter { $0.sessionPresent == true }.map(\.after).max()
        let gone = resumes.filter { $0.sessionPresent == false }.map(\.after).min()
        return (kept, gone)
    }
}

extension SpecRules {
    static func sessionKept(_ version: ProtocolVersion) -> SpecRule {
        version == .v5
            ? SpecRule(
                basis: .must, clause: "MQTT 5 [MQTT-3.1.2-23]",
                quote:
                    "The Client and Server MUST store the Session State after the Network Connection is closed if the Session Expiry Interval is greater than 0. (The Server's Session State includes the client's subscriptions and the QoS 1 and QoS 2 messages pending for it, §4.1.)"
            )
            : SpecRule(
                basis: .must, clause: "MQTT 3.1.1 [MQTT-3.1.2-4]",
                quote:
                    "If CleanSession is set to 0 ... The Client and Server MUST store the Session after the Client and Server are disconnected. (The Server's Session state includes the client's subscriptions and the QoS 1 and QoS 2 messages pending for it, §3.1.2.4.)"
            )
    }

    static let sessionExpires = SpecRule(
        basis: .nonNormative, clause: "MQTT 5 §3.1.2.11.2",
        quote:
            "The Session Expiry Interval gives how long the Session State is kept after the Network Connection is closed; non-normative: \"The clock in the Client or Server may not be running for part of the time interval ... This might cause the deletion of the state to be delayed.\""
    )
}
