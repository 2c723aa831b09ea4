import Mosquitto

/// What every probe connection shares: the user's connection settings (host,
/// port, TLS, credentials, protocol), the one event loop they all run in, and
/// the progress line. Each connection gets its own client id; probes never
/// reconnect (two clients sharing an id would kick each other forever).
struct ProbeContext {
    let loop: EventLoop
    /// The user's settings, without will or session choices: probes set those per connection.
    let base: ConnectOptions
    let debug: Bool
    let progress: Progress
    /// --json: notes go into the document, not to stderr.
    let quiet: Bool

    var endpoint: String { base.endpoint }

    /// A client for one probe connection, added to the loop but not connected.
    /// `configure` sets what differs from the base (keep-alive, will, session).
    func makeClient(id: String, _ configure: (inout ConnectOptions) -> Void = { _ in }) throws(CommandFailure) -> MQTTClient {
        var options = base
        options.clientID = id
        options.will = nil
        options.cleanSession = true
        options.sessionExpiry = nil
        configure(&options)
        let client: MQTTClient
        do {
            client = try MQTTClient(options: options)
        } catch {
            throw CommandFailure(error)
        }
        if debug {
            // Several connections share stderr: say whose line it is.
            client.onLog = { [progress] _, line in
                progress.clear()
                Diagnostics.writeLine("[\(id)] \(line)")
            }
        }
        loop.add(client)
        return client
    }

    /// Opens the TCP connection and queues CONNECT; CONNACK arrives in the loop.
    func connect(_ client: MQTTClient) throws(CommandFailure) {
        do {
            try client.connect()
        } catch {
            throw CommandFailure(error)
        }
    }
}

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
            if loop.run(deadline: deadline, until: { !open() }) != .finished { break }
        }
    }
}

extension MQTTClient {
    /// DISCONNECT if the connection is open (also ends a silent client cleanly).
    func disconnectIfOpen() {
        if state == .connecting || state == .connected { disconnect() }
    }
}
