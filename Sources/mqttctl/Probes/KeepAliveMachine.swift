import Mosquitto

/// `probe keepalive` for one protocol version as a value: events in, actions
/// out. Every keep-alive of the sweep has its own silent connection (a
/// subject); a negative control disconnects cleanly with a will; an observer,
/// subscribed first, reports wills. The machine times each drop from the
/// subject's last byte written and judges it. `KeepAliveProbe` owns the
/// connections and timers; this type does no I/O.
struct KeepAliveMachine {
    enum Timer: Hashable, Sendable {
        /// --max-wait of subject i ended without a drop.
        case giveUp(Int)
        /// The will window of subject i (after its drop) closed.
        case willWindow(Int)
        /// The negative control was watched long enough.
        case control
    }

    enum Event {
        case start
        case observerReady
        /// `lastWrite`: when the subject finished writing CONNECT.
        case subjectConnected(Int, ConnAck, lastWrite: UInt64)
        /// The broker did not take subject i's keep-alive (text, CONNACK code).
        case subjectRefused(Int, text: String, code: Int?)
        case subjectClosed(Int, at: UInt64, end: ConnectionEnd?, failure: CommandFailure)
        case controlDisconnected(at: UInt64)
        case controlFailed(CommandFailure)
        case willArrived(topic: String, at: UInt64)
        case timerFired(Timer, at: UInt64)
    }

    enum Action: Equatable {
        case startObserver
        /// Connect every subject and the control (one step of the loop).
        case connectAll
        case disconnectSubject(Int)
        case schedule(Timer, at: UInt64)
        case cancel(Timer)
        /// Say this on the terminal now (a wait the user should know about).
        case tell(String)
        case stopObserver
    }

    let plan: KeepAlivePlan
    private(set) var subjects: [KeepAliveSubject]
    private(set) var control: KeepAliveControl?
    private(set) var notes: [String] = []
    private(set) var observerReady = false
    private(set) var isFinished = false
    private(set) var failure: CommandFailure?

    init(plan: KeepAlivePlan) {
        self.plan = plan
        subjects = plan.subjects.map(KeepAliveSubject.init)
        control = plan.control.map(KeepAliveControl.init)
    }

    var willDelay: UInt32 { plan.will?.delayInterval ?? 0 }

    var passed: Bool {
        subjects.allSatisfy(\.passed) && (control?.passed(version: plan.protocolVersion, strict: plan.strict) ?? true)
    }

    /// Nothing failed, but some keep-alive could not be concluded.
    var inconclusive: Bool {
        !subjects.contains { !$0.passed && !$0.inconclusive } && subjects.contains { $0.inconclusive }
            && (control?.passed(version: plan.protocolVersion, strict: plan.strict) ?? true)
    }

    mutating func handle(_ event: Event) -> [Action] {
        guard !isFinished, failure == nil else { return [] }
        var actions: [Action]
        switch event {
        case .start:
            // The observer subscribes first: a will published before its SUBACK would be missed.
            actions = plan.will != nil ? [.startObserver] : [.connectAll]
        case .observerReady:
            observerReady = true
            actions = [.connectAll]
        case .subjectConnected(let i, let ack, let lastWrite):
            actions = wentSilent(i, ack: ack, lastWrite: lastWrite)
        case .subjectRefused(let i, let text, let code):
            subjects[i].refusal = (text, code)
            subjects[i].willResolved = true
            judge(i)
            actions = []
        case .subjectClosed(let i, let at, let end, let failure):
            actions = closed(i, at: at, end: end, failure: failure)
        case .controlDisconnected(let at):
            guard control != nil else { return [] }
            let wait = plan.willWindow(delay: willDelay, extra: KeepAlivePlan.controlWait)
            control?.disconnectedAt = at
            control?.watched = wait
            actions = [.schedule(.control, at: at &+ nanoseconds(wait))]
        case .controlFailed(let cause):
            failure = CommandFailure(cause.status, "negative control connection: \(cause.message)")
            return []
        case .willArrived(let topic, let at):
            actions = willArrived(topic, at: at)
        case .timerFired(.giveUp(let i), let at):
            actions = giveUp(i, at: at)
        case .timerFired(.willWindow(let i), _):
            subjects[i].willResolved = true
            judge(i)
            actions = []
        case .timerFired(.control, _):
            control?.done = true
            actions = []
        }
        return actions + checkDone()
    }

    // MARK: Subjects

    private mutating func wentSilent(_ i: Int, ack: ConnAck, lastWrite: UInt64) -> [Action] {
        subjects[i].connAck = ack
        subjects[i].silentSince = lastWrite
        let k = subjects[i].effectiveKeepAlive
        let limit = KeepAliveVerdict.limit(keepAlive: k, backoff: plan.backoff, grace: plan.grace)
        let maxWait = plan.maxWait ?? plan.defaultWait(effectiveKeepAlive: k)
        subjects[i].limit = limit
        subjects[i].maxWait = maxWait
        let server = subjects[i].serverKeepAlive.map { " (Server Keep Alive \($0) s)" } ?? ""
        let name = "K=\(subjects[i].plan.keepAlive) s\(server)"
        if k > 0, maxWait < Double(k) {
            // No drop can be judged before K: say so now instead of waiting out --max-wait.
            notes.append(
                "\(name): nothing can be concluded within --max-wait \(Numbers.short(maxWait)) s, since no drop may be expected before \(k) s; not watched"
            )
            subjects[i].gaveUpAt = lastWrite
            subjects[i].result = (
                .inconclusive,
                [
                    Finding.note(
                        SpecRules.measurementLimit(plan.protocolVersion),
                        expected: "closed within \(Numbers.short(limit ?? 0)) s",
                        observed: "not watched: --max-wait \(Numbers.short(maxWait)) s is shorter than K = \(k) s",
                        text:
                            "inconclusive: --max-wait \(Numbers.short(maxWait)) s is shorter than the keep-alive of \(k) s, so no drop could be judged"
                    )
                ]
            )
            subjects[i].willResolved = true
            return [.disconnectSubject(i)]
        }
        var actions: [Action] = [.schedule(.giveUp(i), at: lastWrite &+ nanoseconds(maxWait))]
        if let limit, maxWait < limit {
            let note =
                "\(name): the drop window closes only after \(Numbers.short(limit)) s, but --max-wait is \(Numbers.short(maxWait)) s: unless the broker drops earlier the verdict is inconclusive"
            notes.append(note)
            // Said at once only when the default wait is what falls short: the
            // user is about to wait minutes for an answer that cannot come.
            if plan.maxWait == nil { actions.append(.tell(note)) }
        }
        return actions
    }

    private mutating func giveUp(_ i: Int, at: UInt64) -> [Action] {
        guard subjects[i].droppedAt == nil, subjects[i].verdict == nil else { return [] }
        subjects[i].gaveUpAt = at
        subjects[i].willResolved = true
        judge(i)
        // A clean DISCONNECT: the broker discards the will.
        return [.disconnectSubject(i)]
    }

    private mutating func closed(_ i: Int, at: UInt64, end: ConnectionEnd?, failure cause: CommandFailure) -> [Action] {
        guard subjects[i].gaveUpAt == nil, subjects[i].verdict == nil, subjects[i].droppedAt == nil else { return [] }
        guard subjects[i].connAck != nil else {
            // Never connected, and not a refusal of this keep-alive: the run cannot go on.
            failure = cause
            return []
        }
        subjects[i].droppedAt = at
        subjects[i].end = end
        subjects[i].willWindow = plan.willWindow(delay: willDelay)
        var actions: [Action] = [.cancel(.giveUp(i))]
        if subjects[i].plan.willTopic == nil || subjects[i].willArrivedAt != nil {
            subjects[i].willResolved = true
            judge(i)
        } else {
            let deadline = at &+ nanoseconds(subjects[i].willWindow)
            subjects[i].willDeadline = deadline
            actions.append(.schedule(.willWindow(i), at: deadline))
        }
        return actions
    }

    private mutating func willArrived(_ topic: String, at: UInt64) -> [Action] {
        if control?.plan.willTopic == topic { control?.willArrivedAt = at }
        var actions: [Action] = []
        for i in subjects.indices where subjects[i].plan.willTopic == topic && !subjects[i].willResolved {
            subjects[i].willArrivedAt = at
            if subjects[i].droppedAt != nil {
                subjects[i].willResolved = true
                judge(i)
                actions.append(.cancel(.willWindow(i)))
            }
        }
        return actions
    }

    private mutating func judge(_ i: Int) {
        subjects[i].result = KeepAliveJudge.judge(subjects[i].observation(plan: plan, willDelay: willDelay))
    }

    private mutating func checkDone() -> [Action] {
        guard !isFinished, failure == nil, subjects.allSatisfy(\.resolved), control?.done ?? true else { return [] }
        isFinished = true
        return [.stopObserver]
    }

    private func nanoseconds(_ seconds: Double) -> UInt64 {
        seconds * 1e9 >= Double(UInt64.max / 2) ? UInt64.max / 2 : UInt64(max(0, seconds * 1e9))
    }

    // MARK: Samples

    /// One keep-alive probed with several staggered samples.
    struct SampleSummary {
        let keepAlive: Int
        let count: Int
        /// Drop times (seconds from each sample's CONNECT) of the samples that were dropped.
        let drops: [Double]
        let worst: KeepAliveVerdict?

        var minimum: Double? { drops.min() }
        var maximum: Double? { drops.max() }
        var median: Double? { drops.isEmpty ? nil : RTTStatistics(drops)?.p50 }
        /// A broker that checks keep-alive every P seconds spreads samples over
        /// up to P: the spread is a lower bound of its check period.
        var impliedCheckPeriod: Double? {
            guard let minimum, let maximum, drops.count > 1 else { return nil }
            return maximum - minimum
        }
    }

    /// Per keep-alive with more than one sample; the worst verdict is the one
    /// furthest from passing (never, late, inconclusive, refused, early, pass).
    var sampleSummaries: [SampleSummary] {
        var keepAlives: [Int] = []
        for subject in subjects where !keepAlives.contains(subject.plan.keepAlive) {
            keepAlives.append(subject.plan.keepAlive)
        }
        let order: [KeepAliveVerdict] = [.never, .late, .inconclusive, .refused, .early, .pass]
        return keepAlives.compactMap { k in
            let group = subjects.filter { $0.plan.keepAlive == k }
            guard group.count > 1 else { return nil }
            let worst = order.first { verdict in group.contains { $0.verdict == verdict } }
            return SampleSummary(
                keepAlive: k, count: group.count, drops: group.compactMap(\.droppedAfter), worst: worst)
        }
    }

    // MARK: Progress

    func status(now: UInt64) -> [ProgressItem] {
        let version = plan.protocolVersion.description
        if plan.will != nil, !observerReady {
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
                detail =
                    "dropped; waiting for the will, \(Numbers.fixed(MonotonicClock.seconds(droppedAt, now), 1)) of \(Numbers.short(MonotonicClock.seconds(droppedAt, deadline))) s"
            } else {
                detail = "connecting"
            }
            items.append(ProgressItem(what: what, version: version, detail: detail))
        }
        if items.isEmpty, let control, !control.done {
            items.append(
                ProgressItem(
                    what: "negative control", version: version, detail: "watching for a will after a clean DISCONNECT"))
        }
        return items
    }
}
