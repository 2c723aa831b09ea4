import Mosquitto

/// `probe keepalive` on the loop for one protocol version: owns the silent
/// connections, the negative control, the observer and the timers, turns
/// their callbacks into events for the `KeepAliveMachine` and carries out the
/// actions it returns. Each silent connection stops writing at CONNACK (not
/// even an acknowledgement leaves) and reads how the broker ends it itself.
final class KeepAliveProbe: ProbeTask {
    let plan: KeepAlivePlan
    let context: ProbeContext
    private(set) var machine: KeepAliveMachine
    private var observer: Observer?
    private var subjectClients: [MQTTClient?]
    private var controlClient: MQTTClient?
    private var ownFailure: CommandFailure?
    private var timers: [KeepAliveMachine.Timer: Int] = [:]

    init(plan: KeepAlivePlan, context: ProbeContext) {
        self.plan = plan
        self.context = context
        machine = KeepAliveMachine(plan: plan)
        subjectClients = Array(repeating: nil, count: plan.subjects.count)
    }

    var subjects: [KeepAliveSubject] { machine.subjects }
    var control: KeepAliveControl? { machine.control }
    var notes: [String] { machine.notes }
    var sampleSummaries: [KeepAliveMachine.SampleSummary] { machine.sampleSummaries }
    var isFinished: Bool { machine.isFinished }
    var passed: Bool { machine.passed }
    var inconclusive: Bool { machine.inconclusive }
    var failure: CommandFailure? { ownFailure ?? machine.failure ?? observer?.failure }
    var clients: [MQTTClient] {
        subjectClients.compactMap { $0 } + [controlClient, observer?.client].compactMap { $0 }
    }

    func start() throws(CommandFailure) {
        send(.start)
        if let ownFailure { throw ownFailure }
    }

    func stop() {
        for timer in timers.values { context.loop.cancel(timer) }
        timers.removeAll()
        for client in clients { client.disconnectIfOpen() }
    }

    // MARK: Events in, actions out

    private func send(_ event: KeepAliveMachine.Event) {
        for action in machine.handle(event) { perform(action) }
    }

    private func perform(_ action: KeepAliveMachine.Action) {
        switch action {
        case .startObserver:
            do throws(CommandFailure) { try startObserver() } catch { ownFailure = error }
        case .connectAll:
            // A step of the loop, never a connect nested in the observer's callback.
            context.loop.schedule(after: 0) { [unowned self] in
                do throws(CommandFailure) { try connectAll() } catch { ownFailure = error }
            }
        case .disconnectSubject(let i): subjectClients[i]?.disconnectIfOpen()
        case .schedule(let timer, let at):
            if let old = timers[timer] { context.loop.cancel(old) }
            timers[timer] = context.loop.schedule(at: at) { [unowned self] in
                timers[timer] = nil
                send(.timerFired(timer, at: MonotonicClock.now()))
            }
        case .cancel(let timer):
            if let id = timers.removeValue(forKey: timer) { context.loop.cancel(id) }
        case .tell(let note):
            if !context.quiet { context.progress.note(note) }
        case .stopObserver: observer?.stop()
        }
    }

    // MARK: Connections

    private func startObserver() throws(CommandFailure) {
        let topics = plan.subjects.compactMap(\.willTopic) + (plan.control.map { [$0.willTopic] } ?? [])
        let observer = try Observer(context: context, id: plan.observerID, topics: topics)
        self.observer = observer
        observer.onReady = { [unowned self] in send(.observerReady) }
        observer.onArrival = { [unowned self, unowned observer] topic in
            send(.willArrived(topic: topic, at: observer.arrivals[topic] ?? MonotonicClock.now()))
        }
        try observer.start()
    }

    private func connectAll() throws(CommandFailure) {
        for (i, subject) in plan.subjects.enumerated() {
            if subject.startOffset > 0 {
                // A later sample: its own step of the loop, at its moment.
                context.loop.schedule(after: subject.startOffset) { [unowned self] in
                    do throws(CommandFailure) { try connect(subject, index: i) } catch { ownFailure = error }
                }
            } else {
                try connect(subject, index: i)
            }
        }
        if let control = plan.control { try connect(control) }
    }

    private func connect(_ subject: KeepAlivePlan.Subject, index i: Int) throws(CommandFailure) {
        let client = try context.makeClient(id: subject.clientID) { options in
            options.protocolVersion = plan.protocolVersion
            options.keepAlive = subject.keepAlive
            if var will = plan.will, let topic = subject.willTopic {
                will.topic = topic
                options.will = will
            }
        }
        client.keepAliveEnabled = false
        client.onConnect = { [unowned self, unowned client] ack in
            // First thing: from here on nothing leaves this connection, not even an
            // ack, and we read the broker's bytes ourselves to see exactly how it ends.
            client.watchForEnd()
            send(.subjectConnected(i, ack, lastWrite: client.lastWriteAt))
        }
        client.onClose = { [unowned self, unowned client] reason in
            if client.connAck?.code != 0, case .failed(let error) = reason,
                let refusal = Self.refusal(error, keepAlive: subject.keepAlive)
            {
                send(.subjectRefused(i, text: refusal.text, code: refusal.code))
            } else {
                send(
                    .subjectClosed(
                        i, at: client.closedAt ?? MonotonicClock.now(), end: ConnectionEnd(reason),
                        failure: ClientSession.failure(for: client)))
            }
        }
        subjectClients[i] = client
        try context.connect(client)
    }

    private func connect(_ control: KeepAlivePlan.Control) throws(CommandFailure) {
        let client = try context.makeClient(id: control.clientID) { options in
            options.protocolVersion = plan.protocolVersion
            if var will = plan.will {
                will.topic = control.willTopic
                options.will = will
            }
        }
        client.onConnect = { [unowned client] _ in client.disconnect() }
        client.onClose = { [unowned self, unowned client] reason in
            if case .requested = reason {
                send(.controlDisconnected(at: MonotonicClock.now()))
            } else {
                send(.controlFailed(ClientSession.failure(for: client)))
            }
        }
        controlClient = client
        try context.connect(client)
    }

    /// A refusal of this keep-alive (as opposed to a broker we cannot talk to at
    /// all): a CONNACK refusal, or a close without CONNACK where nothing (no TLS
    /// record, no other protocol) came back.
    static func refusal(_ error: MQTTError, keepAlive: Int) -> (text: String, code: Int?)? {
        switch error.cause {
        case .closedBeforeConnAck(let firstBytes, _)? where firstBytes.isEmpty:
            return ("closed the connection without CONNACK after CONNECT with keep-alive \(keepAlive)", nil)
        case .answeredAsMQTT311?:
            return nil
        default:
            return error.kind == .refused || error.kind == .notAuthorized
                ? (ErrorText.line(for: error), error.reasonCode) : nil
        }
    }

    // MARK: Progress

    func status(now: UInt64) -> [ProgressItem] {
        machine.status(now: now)
    }
}
