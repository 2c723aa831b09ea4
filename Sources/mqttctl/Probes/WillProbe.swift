import Mosquitto

/// `probe will`: one connection with a will per way a connection can end
/// abnormally (and a clean DISCONNECT as the negative control), all at once;
/// an observer subscribed first times each will against the rule: published
/// after the will delay (not before), promptly once it is due — the delay,
/// or the end of the session if that comes first — and never after a normal
/// DISCONNECT; with the properties it was sent with.
final class WillProbe: ProbeTask {
    enum Ending: String, CaseIterable {
        /// The socket closed without DISCONNECT.
        case socketClosed = "socket closed"
        /// Silent until the broker's keep-alive drops it.
        case keepAlive = "keep-alive expiry"
        /// Another connection with the id and clean start 1: the session ends.
        case takeover = "take-over"
        /// MQTT 5 DISCONNECT 0x04 Disconnect with Will Message.
        case disconnectWithWill = "DISCONNECT 0x04"
        /// A will delay longer than the session expiry: due when the session ends.
        case delayOverExpiry = "delay over session expiry"
        /// DISCONNECT 0x00: the will is deleted.
        case normalDisconnect = "DISCONNECT 0x00"

        static func endings(_ version: ProtocolVersion) -> [Ending] {
            version == .v5 ? allCases : [.socketClosed, .keepAlive, .takeover, .normalDisconnect]
        }
    }

    struct Plan {
        var version: ProtocolVersion
        var baseID: String
        var topicRoot: String
        var willDelay: UInt32
        var sessionExpiry: UInt32
        var qos: Int
        var grace: Double
        var strict: Bool
        var waitCap: Double
    }

    final class Case {
        let ending: Ending
        let clientID: String
        let topic: String
        /// The will delay and session expiry this connection uses.
        let delay: UInt32
        let expiry: UInt32
        var client: MQTTClient?
        var taker: MQTTClient?
        var connectedAt: UInt64?
        var endedAt: UInt64?
        var willAt: UInt64?
        var willProperties: MQTTProperties?
        var done = false
        var window: Double = 0
        var findings: [Finding] = []

        init(ending: Ending, clientID: String, topic: String, delay: UInt32, expiry: UInt32) {
            self.ending = ending
            self.clientID = clientID
            self.topic = topic
            self.delay = delay
            self.expiry = expiry
        }

        /// Seconds after the end when the will is due (nil: never).
        func due(_ version: ProtocolVersion) -> Double? {
            switch ending {
            case .normalDisconnect: return nil
            case .takeover: return 0  // clean start 1 ends the session at once
            default:
                guard version == .v5 else { return 0 }
                // The delay, or the end of the session if that comes first (§3.1.2.5).
                return Double(min(delay, expiry))
            }
        }

        var willAfterEnd: Double? {
            guard let willAt, let endedAt else { return nil }
            return MonotonicClock.seconds(endedAt, willAt)
        }
    }

    static let keepAlive = 5
    let plan: Plan
    let context: ProbeContext
    let cases: [Case]
    private var observer: Observer?
    private var ownFailure: CommandFailure?
    private(set) var isFinished = false
    private var startedAt: UInt64 = 0

    init(plan: Plan, context: ProbeContext) {
        self.plan = plan
        self.context = context
        cases = Ending.endings(plan.version).enumerated().map { index, ending in
            let delay = ending == .delayOverExpiry ? max(plan.willDelay, plan.sessionExpiry) + 3 : plan.willDelay
            let expiry = ending == .delayOverExpiry ? max(1, min(plan.sessionExpiry, 2)) : plan.sessionExpiry
            return Case(
                ending: ending, clientID: "\(plan.baseID)-w\(index + 1)", topic: "\(plan.topicRoot)/w\(index + 1)",
                delay: plan.version == .v5 ? delay : 0, expiry: plan.version == .v5 ? expiry : 0)
        }
    }

    var failure: CommandFailure? { ownFailure ?? observer?.failure }
    var clients: [MQTTClient] {
        cases.flatMap { [$0.client, $0.taker].compactMap { $0 } } + [observer?.client].compactMap { $0 }
    }
    var passed: Bool { isFinished && cases.allSatisfy { $0.findings.passed } }
    var elapsed: Double { MonotonicClock.seconds(startedAt, MonotonicClock.now()) }

    /// The properties every will carries, to check they arrive as sent.
    static let userProperty = ("mqttctl", "will")
    static let contentType = "text/plain"

    func start() throws(CommandFailure) {
        startedAt = MonotonicClock.now()
        let observer = try Observer(context: context, id: "\(plan.baseID)-obs", topics: cases.map(\.topic))
        self.observer = observer
        observer.onMessageDetail = { [unowned self] topic, properties in arrived(topic, properties) }
        observer.onReady = { [unowned self] in
            context.loop.schedule(after: 0) { [unowned self] in
                do throws(CommandFailure) { for c in cases { try connect(c) } } catch { ownFailure = error }
            }
        }
        try observer.start()
    }

    func stop() {
        for client in clients { client.disconnectIfOpen() }
    }

    // MARK: Connections

    private func will(for c: Case) -> Will {
        var properties = MQTTProperties()
        if plan.version == .v5 {
            if c.delay > 0 { properties.append(MQTTProperties.willDelayInterval, .uint32(c.delay)) }
            properties.append(MQTTProperties.contentType, .string(Self.contentType))
            properties.append(MQTTProperties.userProperty, .pair(Self.userProperty.0, Self.userProperty.1))
        }
        return Will(
            topic: c.topic, payload: Array("mqttctl probe will: \(c.ending.rawValue)".utf8), qos: plan.qos,
            properties: properties)
    }

    private func connect(_ c: Case) throws(CommandFailure) {
        let client = try context.makeClient(id: c.clientID) { options in
            options.protocolVersion = plan.version
            options.keepAlive = c.ending == .keepAlive ? Self.keepAlive : 60
            options.cleanSession = true
            options.sessionExpiry = plan.version == .v5 && c.expiry > 0 ? c.expiry : nil
            options.will = will(for: c)
        }
        c.client = client
        client.keepAliveEnabled = c.ending != .keepAlive
        client.onConnect = { [unowned self, unowned client] _ in
            c.connectedAt = MonotonicClock.now()
            switch c.ending {
            case .socketClosed, .delayOverExpiry:
                c.endedAt = MonotonicClock.now()
                client.abort()
                startWindow(c)
            case .keepAlive:
                client.watchForEnd()
            case .takeover:
                client.watchForEnd()
                context.loop.schedule(after: 0) { [unowned self] in takeOver(c) }
            case .disconnectWithWill:
                c.endedAt = MonotonicClock.now()
                client.disconnect(reasonCode: ReasonCode.disconnectWithWill)
                startWindow(c)
            case .normalDisconnect:
                c.endedAt = MonotonicClock.now()
                client.disconnect()
                startWindow(c)
            }
        }
        client.onClose = { [unowned self, unowned client] reason in
            if c.connectedAt == nil {
                ownFailure = CommandFailure(
                    ClientSession.failure(for: client).status,
                    "the \(c.ending.rawValue) connection: \(ClientSession.failure(for: client).message)")
                return
            }
            if c.endedAt == nil, c.ending == .keepAlive || c.ending == .takeover {
                c.endedAt = client.closedAt ?? MonotonicClock.now()
                startWindow(c)
            }
            _ = reason
        }
        try context.connect(client)
    }

    private func takeOver(_ c: Case) {
        do throws(CommandFailure) {
            let taker = try context.makeClient(id: c.clientID) { options in
                options.protocolVersion = plan.version
                options.cleanSession = true
            }
            c.taker = taker
            try context.connect(taker)
        } catch {
            ownFailure = error
        }
    }

    private func startWindow(_ c: Case) {
        let due = c.due(plan.version) ?? 0
        c.window = min(due + TakeoverPlan.willWait + plan.grace, plan.waitCap)
        context.loop.schedule(after: c.window) { [unowned self] in
            c.done = true
            judge(c)
            checkDone()
        }
    }

    private func arrived(_ topic: String, _ properties: MQTTProperties) {
        guard let c = cases.first(where: { $0.topic == topic }), c.willAt == nil else { return }
        c.willAt = MonotonicClock.now()
        c.willProperties = properties
        // Once the will came there is nothing more to learn, unless it must not come at all.
        if c.endedAt != nil, c.ending != .normalDisconnect {
            c.done = true
            judge(c)
            checkDone()
        }
    }

    private func checkDone() {
        guard !isFinished, cases.allSatisfy(\.done) else { return }
        isFinished = true
        for c in cases { c.taker?.disconnectIfOpen() }
        observer?.stop()
    }

    // MARK: Rules

    private func judge(_ c: Case) {
        c.findings = WillJudge.judge(c, version: plan.version, grace: plan.grace, strict: plan.strict)
    }

    func status(now: UInt64) -> [ProgressItem] {
        let waiting = cases.filter { !$0.done }.map(\.ending.rawValue)
        guard !waiting.isEmpty else { return [] }
        return [
            ProgressItem(
                what: "will", version: plan.version.description,
                detail: "waiting for \(waiting.joined(separator: ", ")), \(Numbers.fixed(elapsed, 1)) s")
        ]
    }
}

/// The rules a will is judged by, per ending.
enum WillJudge {
    static func judge(_ c: WillProbe.Case, version: ProtocolVersion, grace: Double, strict: Bool) -> [Finding] {
        guard c.endedAt != nil else {
            return [
                .note(
                    SpecRules.willPublished(version), expected: "the connection ended",
                    observed: "it did not end within the wait",
                    text: "the connection did not end (the broker never dropped it), so its will could not be judged")
            ]
        }
        let after = c.willAfterEnd
        let seen =
            after.map { "published \(Numbers.fixed($0, 3)) s after the end" }
            ?? "not published within \(Numbers.short(c.window)) s"
        guard let due = c.due(version) else {
            return [
                .check(
                    SpecRules.willDeletedByDisconnect(version), met: after == nil, strict: strict,
                    expected: "no will after DISCONNECT 0x00", observed: seen,
                    text: after == nil
                        ? "no will after a normal DISCONNECT" : "the will was PUBLISHED after a normal DISCONNECT")
            ]
        }
        var findings = [
            Finding.check(
                SpecRules.willPublished(version), met: after != nil, strict: strict,
                expected: "published", observed: seen,
                text: after != nil ? "the will was published" : "the will was not published after \(c.ending.rawValue)")
        ]
        guard let after, version == .v5 else { return findings }
        if due > 0 {
            // A whole-second broker clock may round a delay down by up to a second.
            let early = after < due - 1
            findings.append(
                .check(
                    SpecRules.willNotBeforeDelay, met: !early, strict: strict,
                    expected: "not before \(Numbers.short(due)) s", observed: seen,
                    text: early
                        ? "the will came \(Numbers.fixed(due - after, 3)) s before it was due"
                        : "the will waited until it was due"))
        }
        let prompt = after <= due + grace
        findings.append(
            .check(
                SpecRules.willPromptly, met: prompt, strict: strict,
                expected: "within \(Numbers.short(grace)) s of \(Numbers.short(due)) s after the end", observed: seen,
                text: prompt
                    ? "the will came promptly" : "the will came \(Numbers.fixed(after - due, 3)) s after it was due"))
        if let properties = c.willProperties {
            let users = properties.all(MQTTProperties.userProperty)
            let kept = users.contains(.pair(WillProbe.userProperty.0, WillProbe.userProperty.1))
            findings.append(
                .check(
                    SpecRules.willUserProperties, met: kept, strict: strict,
                    expected: "user property \(WillProbe.userProperty.0)=\(WillProbe.userProperty.1) as sent",
                    observed: kept ? "as sent" : "missing",
                    text: kept ? "the will's user property arrived as sent" : "the will's user property did not arrive")
            )
        }
        return findings
    }
}

extension SpecRules {
    static let willUserProperties = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-3.1.3-10]",
        quote:
            "The Server MUST maintain the order of User Properties when publishing the Will Message. (So they reach the subscriber, in the order the client sent them.)"
    )
}
