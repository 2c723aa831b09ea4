import Mosquitto

/// `probe takeover` on the loop: owns the connections (observer, A, B, the
/// sweeper) and the timers, turns their callbacks into events for the
/// `TakeoverMachine` and carries out the actions it returns. All decisions
/// are the machine's.
final class TakeoverProbe: ProbeTask {
    let plan: TakeoverPlan
    let context: ProbeContext
    private(set) var machine: TakeoverMachine
    private var observer: Observer?
    private(set) var a: MQTTClient?
    private(set) var b: MQTTClient?
    private var sweeper: MQTTClient?
    private var ownFailure: CommandFailure?
    private var timers: [Int] = []
    private var startedAt: UInt64 = 0
    private var finishedAt: UInt64?

    init(plan: TakeoverPlan, context: ProbeContext) {
        self.plan = plan
        self.context = context
        machine = TakeoverMachine(plan: plan, subscribeTimeout: context.base.connectTimeout)
    }

    var expectation: TakeoverExpectation { machine.expectation }
    var isFinished: Bool { machine.isFinished }
    var failure: CommandFailure? { ownFailure ?? machine.failure ?? observer?.failure }
    var clients: [MQTTClient] { [a, b, sweeper, observer?.client].compactMap { $0 } }
    var passed: Bool { machine.isFinished && findings.passed }

    // What the report reads.
    var measurement: TakeoverMachine.Measurement? { machine.measurement }
    var findings: [Finding] { measurement?.findings ?? [] }
    var notes: [String] { measurement?.notes ?? [] }
    var oldClosed: Bool { measurement?.aClosedAt != nil }
    var aEnd: ConnectionEnd? { measurement?.aEnd }
    var bConnAck: ConnAck? { measurement?.bConnAck }
    var closedAfter: Double? { measurement.flatMap(machine.closedAfter) }
    var connAckAfter: Double? { measurement.flatMap(machine.connAckAfter) }
    var willPublished: Bool? { measurement.flatMap(machine.willPublished) ?? (plan.will == nil ? nil : false) }
    var willAfterClose: Double? { measurement.flatMap(machine.willAfterClose) }
    var subscriptionCarriedOver: Bool? { measurement.flatMap(machine.subscriptionCarriedOver) }
    var inflightRedelivered: Bool? { plan.aInflight ? measurement.map { $0.inflightArrivedAt != nil } : nil }
    var bWillPublished: Bool? { plan.bWill == nil ? nil : measurement.map { $0.bWillArrivedAt != nil } }

    /// Seconds from start to the verdict.
    var elapsed: Double { MonotonicClock.seconds(startedAt, finishedAt ?? MonotonicClock.now()) }

    func start() throws(CommandFailure) {
        startedAt = MonotonicClock.now()
        send(.start)
        if let ownFailure { throw ownFailure }
    }

    func stop() {
        cancelTimers()
        for client in clients { client.disconnectIfOpen() }
    }

    // MARK: Events in, actions out

    private func send(_ event: TakeoverMachine.Event) {
        for action in machine.handle(event) { perform(action) }
        if finishedAt == nil, machine.measurement?.findings.isEmpty == false { finishedAt = MonotonicClock.now() }
    }

    private func perform(_ action: TakeoverMachine.Action) {
        do throws(CommandFailure) {
            switch action {
            case .startObserver: try startObserver()
            case .connectA:
                // A step of the loop, never a connect nested in another connection's callback.
                later { [unowned self] () throws(CommandFailure) in try connectA() }
            case .subscribeA(let qos):
                do throws(MQTTError) { try a?.subscribe([plan.carryTopic], qos: qos) } catch {
                    throw CommandFailure(error)
                }
            case .watchA: a?.watchForEnd()
            case .connectB: later { [unowned self] () throws(CommandFailure) in try connectB() }
            case .publishCarry:
                observer?.publish(plan.carryTopic, "mqttctl take-over probe: carried-over subscription", qos: 1)
            case .publishInflight:
                observer?.publish(
                    plan.carryTopic, String(decoding: TakeoverMachine.inflightPayload, as: UTF8.self), qos: 1)
            case .schedule(let timer, let seconds):
                timers.append(
                    context.loop.schedule(after: seconds) { [unowned self] in
                        send(.timerFired(timer, at: MonotonicClock.now()))
                    })
            case .cancelTimers: cancelTimers()
            case .disconnectA: a?.disconnectIfOpen()
            case .disconnectB: b?.disconnectIfOpen()
            case .sweepSession: sweepSession()
            case .stopObserver: observer?.stop()
            }
        } catch {
            ownFailure = error
        }
    }

    private func later(_ step: @escaping () throws(CommandFailure) -> Void) {
        timers.append(
            context.loop.schedule(after: 0) { [unowned self] in
                do throws(CommandFailure) { try step() } catch { ownFailure = error }
            })
    }

    private func cancelTimers() {
        for timer in timers { context.loop.cancel(timer) }
        timers.removeAll()
    }

    // MARK: Connections

    private func startObserver() throws(CommandFailure) {
        let topics = (plan.will.map { [$0.topic] } ?? []) + (plan.bWill.map { [$0.topic] } ?? [])
        let observer = try Observer(
            context: context, id: plan.observerID, topics: topics, endpoint: plan.observerEndpoint)
        self.observer = observer
        observer.onReady = { [unowned self] in send(.observerReady) }
        observer.onArrival = { [unowned self, unowned observer] topic in
            guard let at = observer.arrivals[topic] else { return }
            if topic == plan.will?.topic { send(.willArrived(at: at)) }
            if topic == plan.bWill?.topic { send(.bWillArrived(at: at)) }
        }
        try observer.start()
    }

    private func connectA() throws(CommandFailure) {
        let client = try context.makeClient(id: plan.clientID) { options in
            options.protocolVersion = plan.protocolVersion
            options.keepAlive = plan.keepAlive
            options.cleanSession = plan.cleanStart
            options.sessionExpiry = plan.protocolVersion == .v5 ? plan.sessionExpiry : nil
            options.will = plan.will
        }
        a = client
        client.onConnect = { [unowned self] ack in send(.aConnected(ack)) }
        client.onSubscribe = { [unowned self] _, granted in send(.aSubscribed(granted: granted)) }
        // While A holds a message unacknowledged, its PUBLISH shows here (A is being watched).
        client.onWatchedPacket = { [unowned self] type in if type == 3 { send(.aReceivedPublish) } }
        client.onClose = { [unowned self, unowned client] reason in
            send(
                .aClosed(
                    at: client.closedAt ?? MonotonicClock.now(), end: ConnectionEnd(reason),
                    failure: ClientSession.failure(for: client), bLastWrite: b?.lastWriteAt))
        }
        try context.connect(client)
    }

    private func connectB() throws(CommandFailure) {
        let client = try context.makeClient(id: plan.clientID) { options in
            options.protocolVersion = plan.protocolVersion
            options.keepAlive = plan.keepAlive
            options.cleanSession = plan.bCleanStart
            options.sessionExpiry = plan.protocolVersion == .v5 ? plan.bSessionExpiryValue : nil
            options.will = plan.bWill
            if let endpoint = plan.bEndpoint {
                options.host = endpoint.host
                options.port = endpoint.port
            }
        }
        b = client
        // B has written nothing but CONNECT when CONNACK comes.
        client.onConnect = { [unowned self, unowned client] ack in
            send(.bConnected(ack, connectWrittenAt: client.lastWriteAt))
        }
        client.onMessage = { [unowned self] message in
            guard message.topicString == plan.carryTopic else { return }
            let inflight = message.payload.elementsEqual(TakeoverMachine.inflightPayload)
            send(inflight ? .inflightArrived(at: MonotonicClock.now()) : .carryArrived(at: MonotonicClock.now()))
        }
        client.onClose = { [unowned self, unowned client] reason in
            send(.bClosed(end: ConnectionEnd(reason), failure: ClientSession.failure(for: client)))
        }
        try context.connect(client)
    }

    /// Leaves no session behind: a clean connection with the same id, then DISCONNECT.
    private func sweepSession() {
        do throws(CommandFailure) {
            let client = try context.makeClient(id: plan.clientID) { options in
                options.protocolVersion = plan.protocolVersion
                options.keepAlive = plan.keepAlive
            }
            sweeper = client
            client.onConnect = { [unowned client] _ in client.disconnect() }
            client.onClose = { [unowned self] reason in
                if case .requested = reason {
                    send(.sweepEnded(cleanly: true))
                } else {
                    send(.sweepEnded(cleanly: false))
                }
            }
            try context.connect(client)
        } catch {
            send(.sweepEnded(cleanly: false))
        }
    }

    // MARK: Progress

    func status(now: UInt64) -> [ProgressItem] {
        guard let detail = machine.status(now: now) else { return [] }
        return [
            ProgressItem(
                what: "take-over \(plan.sessionName)", version: plan.protocolVersion.description, detail: detail)
        ]
    }
}
