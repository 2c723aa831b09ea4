import Mosquitto

/// One probe (or one part of `probe`) running in the shared loop. Probes are
/// state machines driven by their clients' callbacks and by timers; every wait
/// has a deadline, so a probe always finishes.
protocol ProbeTask: AnyObject {
    /// Opens the first connection(s).
    func start() throws(CommandFailure)
    /// Everything measured and every connection closed or closing.
    var isFinished: Bool { get }
    /// A failure that ends the whole command (cannot connect, connection lost...).
    var failure: CommandFailure? { get }
    /// What the probe is waiting for now, for the progress line.
    func status(now: UInt64) -> [ProgressItem]
    /// Ends every connection at once with DISCONNECT (so no will is published).
    func stop()
    /// Every client the probe made, to wait for their DISCONNECT to go out.
    var clients: [MQTTClient] { get }
    /// Finished and no MUST broken (with --strict, no warning either).
    var passed: Bool { get }
}

/// Runs probes side by side in one event loop, with the progress line, and
/// turns a signal or a failure into a clean stop of every connection.
enum ProbeRunner {
    static func run(_ tasks: [ProbeTask], context: ProbeContext) throws(CommandFailure) {
        let loop = context.loop
        context.progress.attach(to: loop) {
            let now = MonotonicClock.now()
            return ProgressItem.line(tasks.flatMap { $0.isFinished ? [] : $0.status(now: now) })
        }
        defer { context.progress.detach() }

        do {
            for task in tasks { try task.start() }
        } catch {
            stopAll(tasks, loop: loop)
            throw error
        }
        let stop = loop.run {
            tasks.allSatisfy(\.isFinished) || tasks.contains { $0.failure != nil }
        }
        if case .signal(let sig) = stop {
            stopAll(tasks, loop: loop)
            throw CommandFailure(ExitStatus(signal: sig), "")
        }
        if let failure = tasks.lazy.compactMap(\.failure).first {
            stopAll(tasks, loop: loop)
            throw failure
        }
        drain(tasks, loop: loop)
    }

    private static func stopAll(_ tasks: [ProbeTask], loop: EventLoop) {
        for task in tasks { task.stop() }
        drain(tasks, loop: loop)
    }

    /// Lets queued DISCONNECTs go out (at most 2 s; a second signal ends it).
    private static func drain(_ tasks: [ProbeTask], loop: EventLoop) {
        let deadline = MonotonicClock.after(seconds: 2)
        let open = { tasks.flatMap(\.clients).contains { $0.state == .connecting || $0.state == .connected } }
        while open() {
            let stop = loop.run(deadline: deadline, until: { !open() })
            if case .signal(let sig) = stop { Signals.repost(sig) }
            if stop != .finished { break }
        }
    }
}
