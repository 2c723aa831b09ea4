import Mosquitto

/// `probe takeover` as a value: events in, actions out. A connects (with its
/// will and session, and a subscription when its session can survive), then B
/// connects with the same client id; the machine collects what happens to A,
/// A's will, B's session and A's subscription until everything is known or
/// its window closed, then judges. `TakeoverProbe` owns the connections and
/// timers and turns their callbacks into events; this type does no I/O, so
/// the unit tests drive it with made-up events.
struct TakeoverMachine {
    enum Timer: Hashable, Sendable {
        case subscribeTimeout, closeWait, willWindow, carryWindow
    }

    /// The payload of the message A holds unacknowledged (`aInflight`).
    static let inflightPayload = Array("mqttctl take-over probe: in flight at A".utf8)

    enum Event {
        case start
        case observerReady
        case aConnected(ConnAck)
        case aSubscribed(granted: [Int32])
        /// `bLastWrite`: when B last wrote (its CONNECT), if B exists yet.
        case aClosed(at: UInt64, end: ConnectionEnd?, failure: CommandFailure, bLastWrite: UInt64?)
        case bConnected(ConnAck, connectWrittenAt: UInt64)
        case bClosed(end: ConnectionEnd?, failure: CommandFailure)
        case willArrived(at: UInt64)
        /// B's own will was published (it must not be).
        case bWillArrived(at: UInt64)
        /// A received the message it will not acknowledge (`aInflight`).
        case aReceivedPublish
        case carryArrived(at: UInt64)
        /// B got the message A held unacknowledged.
        case inflightArrived(at: UInt64)
        case timerFired(Timer, at: UInt64)
        case sweepEnded(cleanly: Bool)
    }

    enum Action: Equatable {
        /// Connect the observer and subscribe it to A's will topic.
        case startObserver
        case connectA
        case subscribeA(qos: Int)
        /// From here A sends nothing and we read how the broker ends it.
        case watchA
        case connectB
        /// The observer publishes to A's subscription; B must receive it.
        case publishCarry
        /// The observer publishes `inflightPayload` to A's subscription (A will not acknowledge it).
        case publishInflight
        case schedule(Timer, after: Double)
        case cancelTimers
        case disconnectA
        case disconnectB
        /// A clean connection with the same id removes any session left behind.
        case sweepSession
        case stopObserver
    }

    /// What was measured once B has been started.
    struct Measurement {
        var startedAt: UInt64
        var bConnectWrittenAt: UInt64?
        var bConnAck: ConnAck?
        var bClosed = false
        var aClosedAt: UInt64?
        var aEnd: ConnectionEnd?
        var closeWaitEnded = false
        var willArrivedAt: UInt64?
        var willDone = false
        var willWindowStartedAt: UInt64?
        var willWindow: Double = 0
        var carryArrivedAt: UInt64?
        var carryDone = false
        var carryStartedAt: UInt64?
        var bWillArrivedAt: UInt64?
        var inflightArrivedAt: UInt64?
        var notes: [String] = []
        var findings: [Finding] = []
    }

    enum State {
        case idle
        case waitingForObserver
        case connectingA
        case subscribingA
        /// A holds a message unacknowledged before B comes (`aInflight`).
        case primingA
        case measuring(Measurement)
        /// Judged; A, B and any session are being cleaned away.
        case cleaningUp(Measurement)
        case finished(Measurement)
        case failed(CommandFailure)
    }

    let plan: TakeoverPlan
    let expectation: TakeoverExpectation
    /// How long A's SUBACK may take (the connect timeout).
    let subscribeTimeout: Double
    private(set) var state: State = .idle

    init(plan: TakeoverPlan, subscribeTimeout: Double) {
        self.plan = plan
        expectation = plan.expectation
        self.subscribeTimeout = subscribeTimeout
    }

    var measurement: Measurement? {
        switch state {
        case .measuring(let m), .cleaningUp(let m), .finished(let m): return m
        default: return nil
        }
    }

    var failure: CommandFailure? {
        if case .failed(let failure) = state { return failure }
        return nil
    }

    var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    // MARK: Events

    mutating func handle(_ event: Event) -> [Action] {
        switch (state, event) {
        case (.idle, .start):
            if plan.will != nil || plan.aSessionSurvives {
                state = .waitingForObserver
                return [.startObserver]
            }
            state = .connectingA
            return [.connectA]

        case (.waitingForObserver, .observerReady):
            state = .connectingA
            return [.connectA]

        case (.connectingA, .aConnected(let ack)):
            guard plan.aSessionSurvives else { return startMeasuring(at: ack.receivedAt) }
            state = .subscribingA
            return [
                .subscribeA(qos: min(1, ack.properties.maximumQoS ?? 2)),
                .schedule(.subscribeTimeout, after: subscribeTimeout),
            ]

        case (.subscribingA, .aSubscribed(let granted)):
            if granted.contains(where: { $0 >= 0x80 }) {
                state = .failed(
                    CommandFailure(
                        .subscriptionRefused,
                        "the broker refused A's subscription to '\(plan.carryTopic)' (use --topic-prefix for the carry-over check)"
                    ))
                return []
            }
            guard plan.aInflight else { return startMeasuring(at: MonotonicClock.now()) }
            state = .primingA
            return [.watchA, .publishInflight, .schedule(.subscribeTimeout, after: subscribeTimeout)]

        case (.primingA, .aReceivedPublish):
            return startMeasuring(at: MonotonicClock.now())

        case (.primingA, .timerFired(.subscribeTimeout, _)):
            state = .failed(
                CommandFailure(
                    .timeout, "A never received the message it was to hold unacknowledged on '\(plan.carryTopic)'"))
            return []

        case (.subscribingA, .timerFired(.subscribeTimeout, _)):
            state = .failed(CommandFailure(.timeout, "no SUBACK for A's subscription to '\(plan.carryTopic)'"))
            return []

        case (.idle, .aClosed(_, _, let failure, _)), (.waitingForObserver, .aClosed(_, _, let failure, _)),
            (.connectingA, .aClosed(_, _, let failure, _)), (.subscribingA, .aClosed(_, _, let failure, _)),
            (.primingA, .aClosed(_, _, let failure, _)):
            state = .failed(
                CommandFailure(
                    failure.status, "connection A (\(plan.clientID)), before the take-over: \(failure.message)"))
            return []

        case (.measuring(var m), _):
            let actions = measure(&m, event)
            if case .measuring = state { state = .measuring(m) }
            return actions + checkMeasured()

        case (.cleaningUp(let m), .bClosed):
            return sweep(m)

        case (.cleaningUp(var m), .sweepEnded(let cleanly)):
            if !cleanly { m.notes.append("could not remove the session of '\(plan.clientID)' afterwards") }
            state = .finished(m)
            return [.stopObserver]

        default:
            // Late events (a will after the window, our own closes while cleaning up).
            return []
        }
    }

    private mutating func startMeasuring(at time: UInt64) -> [Action] {
        state = .measuring(Measurement(startedAt: time))
        return [.watchA, .connectB, .schedule(.closeWait, after: plan.closeWait)]
    }

    /// An event while B is under way; updates `m`.
    private mutating func measure(_ m: inout Measurement, _ event: Event) -> [Action] {
        switch event {
        case .aClosed(let at, let end, _, let bLastWrite):
            guard m.aClosedAt == nil else { return [] }
            m.aClosedAt = at
            m.aEnd = end
            if m.bConnectWrittenAt == nil { m.bConnectWrittenAt = bLastWrite }
            return startWillWindow(&m, at: at)
        case .bConnected(let ack, let writtenAt):
            m.bConnAck = ack
            if m.bConnectWrittenAt == nil { m.bConnectWrittenAt = writtenAt }
            guard plan.aSessionSurvives else {
                m.carryDone = true
                return []
            }
            m.carryStartedAt = ack.receivedAt
            return [.publishCarry, .schedule(.carryWindow, after: TakeoverPlan.carryWait + plan.grace)]
        case .bClosed(let end, let failure):
            m.bClosed = true
            if m.bConnAck == nil {
                state = .failed(CommandFailure(failure.status, "connection B (\(plan.clientID)): \(failure.message)"))
                return []
            }
            m.notes.append("B was closed too (\(end?.text ?? "closed")); is another client using this id?")
            m.carryDone = true
            return []
        case .willArrived(let at):
            guard plan.will != nil, m.willArrivedAt == nil else { return [] }
            m.willArrivedAt = at
            // Once it came there is nothing more to learn about it.
            m.willDone = true
            return []
        case .carryArrived(let at):
            guard m.carryArrivedAt == nil else { return [] }
            m.carryArrivedAt = at
            // With a message in flight, both must come (or the window close).
            m.carryDone = !plan.aInflight || m.inflightArrivedAt != nil
            return []
        case .inflightArrived(let at):
            guard m.inflightArrivedAt == nil else { return [] }
            m.inflightArrivedAt = at
            m.carryDone = m.carryArrivedAt != nil
            return []
        case .bWillArrived(let at):
            if m.bWillArrivedAt == nil { m.bWillArrivedAt = at }
            return []
        case .timerFired(.closeWait, let at):
            guard m.aClosedAt == nil else { return [] }
            m.closeWaitEnded = true
            return startWillWindow(&m, at: at)
        case .timerFired(.willWindow, _):
            m.willDone = true
            return []
        case .timerFired(.carryWindow, _):
            m.carryDone = true
            return []
        default:
            return []
        }
    }

    /// The will may come up to its delay plus a margin after A's close (bounded by --max-wait).
    private func startWillWindow(_ m: inout Measurement, at time: UInt64) -> [Action] {
        guard let will = plan.will, !m.willDone, m.willWindowStartedAt == nil else { return [] }
        m.willWindow = plan.willWindow(delay: will.delayInterval)
        m.willWindowStartedAt = time
        return [.schedule(.willWindow, after: m.willWindow)]
    }

    /// Judges once everything is known, then cleans up.
    private mutating func checkMeasured() -> [Action] {
        guard case .measuring(var m) = state else { return [] }
        let closeKnown = m.aClosedAt != nil || m.closeWaitEnded
        guard closeKnown, m.bConnAck != nil, plan.will == nil || m.willDone, m.carryDone else { return [] }
        m.findings = TakeoverJudge.judge(
            observation(m), expectation: expectation, version: plan.protocolVersion,
            grace: plan.grace, strict: plan.strict)
        state = .cleaningUp(m)
        let actions: [Action] = [.cancelTimers, .disconnectA]
        return m.bClosed ? actions + sweep(m) : actions + [.disconnectB]
    }

    private mutating func sweep(_ m: Measurement) -> [Action] {
        guard plan.aSessionSurvives || !plan.bCleanStart else {
            state = .finished(m)
            return [.stopObserver]
        }
        return [.sweepSession]
    }

    // MARK: What was measured

    func observation(_ m: Measurement) -> TakeoverObservation {
        TakeoverObservation(
            closedAfter: closedAfter(m), closeWait: plan.closeWait, aEnd: m.aEnd, willPublished: willPublished(m),
            willAfterClose: willAfterClose(m), willWatched: m.willWindow, sessionPresent: m.bConnAck?.sessionPresent,
            subscriptionCarriedOver: subscriptionCarriedOver(m), carryWait: TakeoverPlan.carryWait + plan.grace,
            bWillPublished: plan.bWill == nil ? nil : m.bWillArrivedAt != nil,
            inflightRedelivered: plan.aInflight ? m.inflightArrivedAt != nil : nil,
            nodes: plan.bEndpoint.map { "B on \($0.host):\($0.port), another node than A's" })
    }

    func closedAfter(_ m: Measurement) -> Double? {
        guard let closed = m.aClosedAt, let written = m.bConnectWrittenAt else { return nil }
        return MonotonicClock.milliseconds(written, closed)
    }

    func connAckAfter(_ m: Measurement) -> Double? {
        guard let ack = m.bConnAck, let written = m.bConnectWrittenAt else { return nil }
        return MonotonicClock.milliseconds(written, ack.receivedAt)
    }

    func willPublished(_ m: Measurement) -> Bool? { plan.will == nil ? nil : m.willArrivedAt != nil }

    func willAfterClose(_ m: Measurement) -> Double? {
        guard let arrived = m.willArrivedAt, let closed = m.aClosedAt else { return nil }
        return MonotonicClock.milliseconds(closed, arrived)
    }

    func subscriptionCarriedOver(_ m: Measurement) -> Bool? { plan.aSessionSurvives ? m.carryArrivedAt != nil : nil }

    // MARK: Progress

    func status(now: UInt64) -> String? {
        switch state {
        case .idle, .waitingForObserver: return "subscribing the will observer"
        case .connectingA: return "connecting A"
        case .subscribingA: return "A subscribing"
        case .primingA: return "A receiving a message it will not acknowledge"
        case .measuring(let m):
            if m.aClosedAt == nil && !m.closeWaitEnded {
                return
                    "waiting for A to be closed, \(Numbers.fixed(MonotonicClock.seconds(m.startedAt, now), 1)) of \(Numbers.short(plan.closeWait)) s"
            }
            if plan.will != nil && !m.willDone, let from = m.willWindowStartedAt {
                return
                    "watching for A's will, \(Numbers.fixed(MonotonicClock.seconds(from, now), 1)) of \(Numbers.short(m.willWindow)) s"
            }
            if !m.carryDone, let from = m.carryStartedAt {
                return
                    "waiting for the carried-over message, \(Numbers.fixed(MonotonicClock.seconds(from, now), 1)) of \(Numbers.short(TakeoverPlan.carryWait + plan.grace)) s"
            }
            return "connecting B"
        case .cleaningUp: return "removing the session"
        case .finished, .failed: return nil
        }
    }
}
