import Mosquitto

/// `probe keepalive` for one protocol version: every keep-alive of the sweep
/// on its own connection, all in the shared loop. Each connection goes fully
/// silent at CONNACK (not even an acknowledgement leaves), and we time how the
/// broker ends it, from our last byte written: the CONNECT.
final class KeepAliveProbe: ProbeTask {
    let plan: KeepAlivePlan
    let context: ProbeContext
    let subjects: [KeepAliveSubject]
    let control: KeepAliveControl?
    private var observer: Observer?
    private var ownFailure: CommandFailure?
    private(set) var isFinished = false
    /// Things worth saying that are not verdicts.
    private(set) var notes: [String] = []

    init(plan: KeepAlivePlan, context: ProbeContext) {
        self.plan = plan
        self.context = context
        subjects = plan.subjects.map(KeepAliveSubject.init)
        control = plan.control.map(KeepAliveControl.init)
    }

    var failure: CommandFailure? { ownFailure ?? observer?.failure }

    var clients: [MQTTClient] {
        subjects.compactMap(\.client) + [control?.client, observer?.client].compactMap { $0 }
    }

    var passed: Bool {
        subjects.allSatisfy(\.passed) && (control?.passed(version: plan.protocolVersion, strict: plan.strict) ?? true)
    }
    /// Nothing failed, but some keep-alive could not be concluded.
    var inconclusive: Bool {
        !subjects.contains { !$0.passed && !$0.inconclusive } && subjects.contains { $0.inconclusive }
            && (control?.passed(version: plan.protocolVersion, strict: plan.strict) ?? true)
    }

    func start() throws(CommandFailure) {
        guard plan.will != nil else { return try connectAll() }
        // The observer subscribes first: a will published before its SUBACK would be missed.
        let topics = subjects.compactMap(\.plan.willTopic) + (control.map { [$0.plan.willTopic] } ?? [])
        let observer = try Observer(context: context, id: plan.observerID, topics: topics)
        self.observer = observer
        observer.onReady = { [unowned self] in
            do throws(CommandFailure) { try connectAll() } catch { ownFailure = error }
        }
        observer.onArrival = { [unowned self] topic in willArrived(topic) }
        try observer.start()
    }

    func stop() {
        for subject in subjects {
            if let timer = subject.timer { context.loop.cancel(timer) }
            subject.client?.disconnectIfOpen()
        }
        control?.client?.disconnectIfOpen()
        observer?.stop()
    }

    // MARK: Connecting

    private func connectAll() throws(CommandFailure) {
        for subject in subjects { try connect(subject) }
        if let control { try connect(control) }
    }

    private func connect(_ subject: KeepAliveSubject) throws(CommandFailure) {
        let client = try context.makeClient(id: subject.plan.clientID) { options in
            options.protocolVersion = plan.protocolVersion
            options.keepAlive = subject.plan.keepAlive
            if var will = plan.will, let topic = subject.plan.willTopic {
                will.topic = topic
                options.will = will
            }
        }
        client.keepAliveEnabled = false
        client.onConnect = { [unowned self, unowned client] ack in
            // First thing: from here on nothing leaves this connection, not even an
            // ack, and we read the broker's bytes ourselves to see exactly how it ends.
            client.watchForEnd()
            wentSilent(subject, ack: ack, lastWrite: client.lastWriteAt)
        }
        client.onClose = { [unowned self] reason in closed(subject, reason) }
        subject.client = client
        try context.connect(client)
    }

    private func connect(_ control: KeepAliveControl) throws(CommandFailure) {
        let client = try context.makeClient(id: control.plan.clientID) { options in
            options.protocolVersion = plan.protocolVersion
            if var will = plan.will {
                will.topic = control.plan.willTopic
                options.will = will
            }
        }
        client.onConnect = { [unowned client] _ in client.disconnect() }
        client.onClose = { [unowned self, unowned client] reason in
            guard case .requested = reason else {
                let cause = ClientSession.failure(for: client)
                ownFailure = CommandFailure(cause.status, "negative control connection: \(cause.message)")
                return
            }
            control.disconnectedAt = MonotonicClock.now()
            let wait = plan.willWindow(delay: plan.will?.delayInterval ?? 0, extra: KeepAlivePlan.controlWait)
            control.watched = wait
            context.loop.schedule(after: wait) { [unowned self] in
                control.done = true
                checkDone()
            }
        }
        control.client = client
        try context.connect(client)
    }

    // MARK: Events

    private func wentSilent(_ subject: KeepAliveSubject, ack: ConnAck, lastWrite: UInt64) {
        subject.connAck = ack
        subject.silentSince = lastWrite
        let k = subject.effectiveKeepAlive
        subject.limit = KeepAliveVerdict.limit(keepAlive: k, backoff: plan.backoff, grace: plan.grace)
        subject.maxWait = plan.maxWait ?? plan.defaultWait(effectiveKeepAlive: k)
        if k > 0, subject.maxWait < Double(k) {
            // No drop can be judged before K: say so now instead of waiting out --max-wait.
            notes.append("K=\(subject.plan.keepAlive) s\(subject.serverKeepAlive.map { " (Server Keep Alive \($0) s)" } ?? ""): nothing can be concluded within --max-wait \(Numbers.short(subject.maxWait)) s, since no drop may be expected before \(k) s; not watched")
            subject.gaveUpAt = MonotonicClock.now()
            subject.result = (.inconclusive, [Finding.note(SpecRules.measurementLimit(plan.protocolVersion),
                expected: "closed within \(Numbers.short(subject.limit ?? 0)) s",
                observed: "not watched: --max-wait \(Numbers.short(subject.maxWait)) s is shorter than K = \(k) s",
                text: "inconclusive: --max-wait \(Numbers.short(subject.maxWait)) s is shorter than the keep-alive of \(k) s, so no drop could be judged")])
            subject.willResolved = true
            subject.client?.disconnectIfOpen()
            return checkDone()
        }
        if let limit = subject.limit, subject.maxWait < limit {
            let note = "K=\(subject.plan.keepAlive) s\(subject.serverKeepAlive.map { " (Server Keep Alive \($0) s)" } ?? ""): the drop window closes only after \(Numbers.short(limit)) s, but --max-wait is \(Numbers.short(subject.maxWait)) s: unless the broker drops earlier the verdict is inconclusive"
            notes.append(note)
            // Said at once only when the default wait is what falls short: the
            // user is about to wait minutes for an answer that cannot come.
            if plan.maxWait == nil && !context.quiet { context.progress.note(note) }
        }
        subject.timer = context.loop.schedule(at: lastWrite &+ UInt64(subject.maxWait * 1e9)) { [unowned self] in
            giveUp(subject)
        }
    }

    private func giveUp(_ subject: KeepAliveSubject) {
        guard subject.droppedAt == nil, subject.verdict == nil else { return }
        subject.gaveUpAt = MonotonicClock.now()
        judge(subject)
        subject.willResolved = true
        // A clean DISCONNECT: the broker discards the will.
        subject.client?.disconnectIfOpen()
        checkDone()
    }

    private func closed(_ subject: KeepAliveSubject, _ reason: CloseReason) {
        guard subject.gaveUpAt == nil, subject.verdict == nil else { return }
        guard subject.connAck != nil else {
            // Never connected: a refusal of this keep-alive is a finding, anything else ends the run.
            if case .failed(let error) = reason, let refusal = Self.refusal(error, keepAlive: subject.plan.keepAlive) {
                subject.refusal = refusal
                judge(subject)
                subject.willResolved = true
                checkDone()
            } else if let client = subject.client {
                ownFailure = ClientSession.failure(for: client)
            }
            return
        }
        if let timer = subject.timer { context.loop.cancel(timer) }
        subject.droppedAt = subject.client?.closedAt ?? MonotonicClock.now()
        subject.end = ConnectionEnd(reason)
        subject.willWindow = plan.willWindow(delay: plan.will?.delayInterval ?? 0)
        if subject.plan.willTopic == nil || subject.willArrivedAt != nil {
            subject.willResolved = true
            judge(subject)
        } else {
            subject.willDeadline = MonotonicClock.after(seconds: subject.willWindow)
            subject.timer = context.loop.schedule(after: subject.willWindow) { [unowned self] in
                subject.willResolved = true
                judge(subject)
                checkDone()
            }
        }
        checkDone()
    }

    /// A refusal of this keep-alive (as opposed to a broker we cannot talk to at
    /// all): a CONNACK refusal, or a close without CONNACK where nothing (no TLS
    /// record, no other protocol) came back.
    static func refusal(_ error: MQTTError, keepAlive: Int) -> (text: String, code: Int?)? {
        switch error.cause {
        case .closedBeforeConnAck(let firstBytes)? where firstBytes.isEmpty:
            return ("closed the connection without CONNACK after CONNECT with keep-alive \(keepAlive)", nil)
        case .answeredAsMQTT311?:
            return nil
        default:
            return error.kind == .refused || error.kind == .notAuthorized ? (error.message, error.reasonCode) : nil
        }
    }

    private func judge(_ subject: KeepAliveSubject) {
        subject.result = KeepAliveJudge.judge(subject.observation(plan: plan, willDelay: plan.will?.delayInterval ?? 0))
    }

    private func willArrived(_ topic: String) {
        let at = observer?.arrivals[topic] ?? MonotonicClock.now()
        if let control, topic == control.plan.willTopic {
            control.willArrivedAt = at
        }
        for subject in subjects where subject.plan.willTopic == topic && !subject.willResolved {
            subject.willArrivedAt = at
            if subject.droppedAt != nil {
                if let timer = subject.timer { context.loop.cancel(timer) }
                subject.willResolved = true
                judge(subject)
            }
        }
        checkDone()
    }

    private func checkDone() {
        guard !isFinished, subjects.allSatisfy(\.resolved), control?.done ?? true else { return }
        isFinished = true
        observer?.stop()
    }

    // MARK: Progress

    func status(now: UInt64) -> [ProgressItem] {
        let version = plan.protocolVersion.description
        if let observer, !observer.isReady {
            return [ProgressItem(what: "keep-alive", version: version, detail: "subscribing the will observer")]
        }
        var items: [ProgressItem] = []
        for subject in subjects where !subject.resolved {
            let what = "keep-alive K=\(subject.effectiveKeepAlive) s"
            let detail: String
            if let silentSince = subject.silentSince, subject.droppedAt == nil {
                let silent = Numbers.fixed(MonotonicClock.seconds(silentSince, now), 1)
                let limit = subject.limit.map { "limit \(Numbers.short($0)) s" } ?? "no limit"
                detail = "silent \(silent) s, \(limit), max \(Numbers.short(subject.maxWait)) s"
            } else if let droppedAt = subject.droppedAt, let deadline = subject.willDeadline {
                detail = "dropped; waiting for the will, \(Numbers.fixed(MonotonicClock.seconds(droppedAt, now), 1)) of \(Numbers.short(MonotonicClock.seconds(droppedAt, deadline))) s"
            } else {
                detail = "connecting"
            }
            items.append(ProgressItem(what: what, version: version, detail: detail))
        }
        if items.isEmpty, let control, !control.done {
            items.append(ProgressItem(what: "negative control", version: version, detail: "watching for a will after a clean DISCONNECT"))
        }
        return items
    }
}
