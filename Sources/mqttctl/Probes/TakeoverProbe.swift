import Mosquitto

/// `probe takeover`: A connects (with its will, its session, and a subscription
/// when the session can survive), then B connects with the same id. Measured:
/// whether and how fast A is closed and how (DISCONNECT 0x8E or a bare close),
/// whether A's will appears at the observer, B's session-present flag, and
/// whether A's subscription now delivers to B. Nothing reconnects.
final class TakeoverProbe: ProbeTask {
    enum Phase { case starting, connectingA, subscribingA, measuring, cleanup, done }

    let plan: TakeoverPlan
    let context: ProbeContext
    let expectation: TakeoverExpectation
    private(set) var phase: Phase = .starting
    private var observer: Observer?
    private(set) var a: MQTTClient?
    private(set) var b: MQTTClient?
    private var sweeper: MQTTClient?
    private var ownFailure: CommandFailure?

    // Measurements (monotonic times).
    private(set) var bConnectWrittenAt: UInt64?
    private(set) var bConnAck: ConnAck?
    private(set) var aClosedAt: UInt64?
    private(set) var aEnd: ConnectionEnd?
    private(set) var closeWaitEnded = false
    private(set) var willArrivedAt: UInt64?
    private(set) var carryArrivedAt: UInt64?
    private var willDone = false
    private var carryDone = false
    private var measureStartedAt: UInt64 = 0
    private var willDeadline: UInt64?
    private var willWindow: Double = 0
    private var carryDeadline: UInt64?
    private var timers: [Int] = []

    /// The rules checked, once measured.
    private(set) var findings: [Finding] = []
    /// Facts worth saying that are not findings.
    private(set) var notes: [String] = []

    init(plan: TakeoverPlan, context: ProbeContext) {
        self.plan = plan
        self.context = context
        expectation = plan.expectation
    }

    var isFinished: Bool { phase == .done }
    var failure: CommandFailure? { ownFailure ?? observer?.failure }
    var clients: [MQTTClient] { [a, b, sweeper, observer?.client].compactMap { $0 } }
    var passed: Bool { phase == .done && findings.passed }

    var oldClosed: Bool { aClosedAt != nil }
    var closedAfter: Double? {
        guard let aClosedAt, let bConnectWrittenAt else { return nil }
        return MonotonicClock.milliseconds(bConnectWrittenAt, aClosedAt)
    }
    var connAckAfter: Double? {
        guard let bConnAck, let bConnectWrittenAt else { return nil }
        return MonotonicClock.milliseconds(bConnectWrittenAt, bConnAck.receivedAt)
    }
    var willPublished: Bool? { plan.will == nil ? nil : willArrivedAt != nil }
    var willAfterClose: Double? {
        guard let willArrivedAt, let aClosedAt else { return nil }
        return MonotonicClock.milliseconds(aClosedAt, willArrivedAt)
    }
    var subscriptionCarriedOver: Bool? { plan.aSessionSurvives ? carryArrivedAt != nil : nil }

    func start() throws(CommandFailure) {
        guard plan.will != nil || plan.aSessionSurvives else { return try connectA() }
        let observer = try Observer(context: context, id: plan.observerID, topics: plan.will.map { [$0.topic] } ?? [])
        self.observer = observer
        observer.onReady = { [unowned self] in
            // A step of the loop, not a connect nested in the observer's callback.
            schedule(after: 0) { [unowned self] in
                do throws(CommandFailure) { try connectA() } catch { ownFailure = error }
            }
        }
        observer.onArrival = { [unowned self, unowned observer] topic in
            guard topic == plan.will?.topic, willArrivedAt == nil, phase == .measuring else { return }
            willArrivedAt = observer.arrivals[topic]
            // Once it came there is nothing more to learn about it.
            willDone = true
            checkMeasured()
        }
        try observer.start()
    }

    func stop() {
        for timer in timers { context.loop.cancel(timer) }
        for client in clients { client.disconnectIfOpen() }
    }

    // MARK: A

    private func connectA() throws(CommandFailure) {
        phase = .connectingA
        let client = try context.makeClient(id: plan.clientID) { options in
            options.protocolVersion = plan.protocolVersion
            options.keepAlive = plan.keepAlive
            options.cleanSession = plan.cleanStart
            options.sessionExpiry = plan.protocolVersion == .v5 ? plan.sessionExpiry : nil
            options.will = plan.will
        }
        a = client
        client.onConnect = { [unowned self, unowned client] ack in
            guard plan.aSessionSurvives else {
                // From here A sends nothing; we read how the broker ends it.
                client.watchForEnd()
                return schedule(after: 0) { [unowned self] in startB() }
            }
            phase = .subscribingA
            do throws(MQTTError) {
                try client.subscribe([plan.carryTopic], qos: min(1, ack.properties.maximumQoS ?? 2))
            } catch {
                ownFailure = CommandFailure(error)
                return
            }
            schedule(after: client.options.connectTimeout) { [unowned self] in
                if phase == .subscribingA {
                    ownFailure = CommandFailure(.timeout, "no SUBACK for A's subscription to '\(plan.carryTopic)'")
                }
            }
        }
        client.onSubscribe = { [unowned self, unowned client] _, granted in
            guard phase == .subscribingA else { return }
            if granted.contains(where: { $0 >= 0x80 }) {
                ownFailure = CommandFailure(.subscriptionRefused, "the broker refused A's subscription to '\(plan.carryTopic)' (use --topic-prefix for the carry-over check)")
                return
            }
            client.watchForEnd()
            schedule(after: 0) { [unowned self] in startB() }
        }
        client.onClose = { [unowned self] reason in aClosed(reason) }
        try context.connect(client)
    }

    private func aClosed(_ reason: CloseReason) {
        guard let a else { return }
        switch phase {
        case .starting, .connectingA, .subscribingA:
            let cause = ClientSession.failure(for: a)
            ownFailure = CommandFailure(cause.status, "connection A (\(plan.clientID)), before the take-over: \(cause.message)")
        case .measuring:
            aClosedAt = a.closedAt ?? MonotonicClock.now()
            aEnd = ConnectionEnd(reason)
            if bConnectWrittenAt == nil { bConnectWrittenAt = b?.lastWriteAt }
            startWillWindow()
            checkMeasured()
        case .cleanup, .done:
            break
        }
    }

    // MARK: B

    private func startB() {
        do {
            let client = try context.makeClient(id: plan.clientID) { options in
                options.protocolVersion = plan.protocolVersion
                options.keepAlive = plan.keepAlive
                options.cleanSession = plan.bCleanStart
                options.sessionExpiry = plan.protocolVersion == .v5 ? plan.sessionExpiry : nil
            }
            b = client
            client.onConnect = { [unowned self, unowned client] ack in
                bConnAck = ack
                // B has written nothing but CONNECT so far.
                if bConnectWrittenAt == nil { bConnectWrittenAt = client.lastWriteAt }
                if plan.aSessionSurvives {
                    observer?.publish(plan.carryTopic, "mqttctl take-over probe: carried-over subscription", qos: 1)
                    carryDeadline = MonotonicClock.after(seconds: TakeoverPlan.carryWait + plan.grace)
                    schedule(after: TakeoverPlan.carryWait + plan.grace) { [unowned self] in
                        carryDone = true
                        checkMeasured()
                    }
                } else {
                    carryDone = true
                }
                checkMeasured()
            }
            client.onMessage = { [unowned self] message in
                guard message.topicString == plan.carryTopic, carryArrivedAt == nil else { return }
                carryArrivedAt = MonotonicClock.now()
                carryDone = true
                checkMeasured()
            }
            client.onClose = { [unowned self] reason in bClosed(reason) }
            phase = .measuring
            measureStartedAt = MonotonicClock.now()
            schedule(after: plan.closeWait) { [unowned self] in
                guard aClosedAt == nil else { return }
                closeWaitEnded = true
                startWillWindow()
                checkMeasured()
            }
            try context.connect(client)
        } catch {
            ownFailure = error
        }
    }

    private func bClosed(_ reason: CloseReason) {
        guard let b else { return }
        switch phase {
        case .measuring:
            if bConnAck == nil {
                let cause = ClientSession.failure(for: b)
                ownFailure = CommandFailure(cause.status, "connection B (\(plan.clientID)): \(cause.message)")
            } else {
                notes.append("B was closed too (\(ConnectionEnd(reason)?.text ?? "closed")); is another client using this id?")
                carryDone = true
                checkMeasured()
            }
        case .cleanup:
            sweepSession()
        default:
            break
        }
    }

    // MARK: Windows

    /// The will may come up to its delay plus a margin after A's close (bounded by --max-wait).
    private func startWillWindow() {
        guard let will = plan.will, !willDone, willDeadline == nil else { return }
        let wait = plan.willWindow(delay: will.delayInterval)
        willWindow = wait
        willDeadline = MonotonicClock.after(seconds: wait)
        schedule(after: wait) { [unowned self] in
            willDone = true
            checkMeasured()
        }
    }

    private func checkMeasured() {
        guard phase == .measuring, ownFailure == nil else { return }
        let closeKnown = aClosedAt != nil || closeWaitEnded
        guard closeKnown, bConnAck != nil, plan.will == nil || willDone, carryDone else { return }
        judge()
        phase = .cleanup
        for timer in timers { context.loop.cancel(timer) }
        timers.removeAll()
        a?.disconnectIfOpen()
        if let b, b.state == .connected || b.state == .connecting {
            b.disconnect()
        } else {
            sweepSession()
        }
    }

    private func judge() {
        findings = TakeoverJudge.judge(observation, expectation: expectation, version: plan.protocolVersion,
                                       grace: plan.grace, strict: plan.strict)
    }

    /// What was measured, for the judge.
    var observation: TakeoverObservation {
        TakeoverObservation(closedAfter: closedAfter, closeWait: plan.closeWait, aEnd: aEnd, willPublished: willPublished,
                            willAfterClose: willAfterClose, willWatched: willWindow, sessionPresent: bConnAck?.sessionPresent,
                            subscriptionCarriedOver: subscriptionCarriedOver, carryWait: TakeoverPlan.carryWait + plan.grace)
    }

    // MARK: Clean-up

    /// Leaves no session behind: a clean connection with the same id, then DISCONNECT.
    private func sweepSession() {
        guard plan.aSessionSurvives || !plan.bCleanStart else { return finish() }
        do {
            let client = try context.makeClient(id: plan.clientID) { options in
                options.protocolVersion = plan.protocolVersion
                options.keepAlive = plan.keepAlive
            }
            sweeper = client
            client.onConnect = { [unowned client] _ in client.disconnect() }
            client.onClose = { [unowned self] reason in
                if case .requested = reason {} else {
                    notes.append("could not remove the session of '\(plan.clientID)' afterwards")
                }
                finish()
            }
            try context.connect(client)
        } catch {
            notes.append("could not remove the session of '\(plan.clientID)' afterwards: \(error.message)")
            finish()
        }
    }

    private func finish() {
        guard phase != .done else { return }
        phase = .done
        observer?.stop()
    }

    private func schedule(after seconds: Double, _ action: @escaping () -> Void) {
        timers.append(context.loop.schedule(after: seconds, action))
    }

    // MARK: Progress

    func status(now: UInt64) -> [ProgressItem] {
        let detail: String
        switch phase {
        case .starting: detail = "subscribing the will observer"
        case .connectingA: detail = "connecting A"
        case .subscribingA: detail = "A subscribing"
        case .measuring:
            if aClosedAt == nil && !closeWaitEnded {
                let elapsed = Numbers.fixed(MonotonicClock.seconds(measureStartedAt, now), 1)
                detail = "waiting for A to be closed, \(elapsed) of \(Numbers.short(plan.closeWait)) s"
            } else if plan.will != nil && !willDone, let deadline = willDeadline {
                let from = aClosedAt ?? measureStartedAt
                detail = "watching for A's will, \(Numbers.fixed(MonotonicClock.seconds(from, now), 1)) of \(Numbers.short(MonotonicClock.seconds(from, deadline))) s"
            } else if !carryDone, let deadline = carryDeadline, let ack = bConnAck {
                detail = "waiting for the carried-over message, \(Numbers.fixed(MonotonicClock.seconds(ack.receivedAt, now), 1)) of \(Numbers.short(MonotonicClock.seconds(ack.receivedAt, deadline))) s"
            } else {
                detail = "connecting B"
            }
        case .cleanup: detail = "removing the session"
        case .done: return []
        }
        return [ProgressItem(what: "take-over \(plan.sessionName)", version: plan.protocolVersion.description, detail: detail)]
    }
}
