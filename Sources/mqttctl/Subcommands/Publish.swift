import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

struct Publish: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pub",
        abstract: "Publish messages (options as mosquitto_pub).",
        discussion: """
            The message comes from exactly one of -m, -f, -s, -l or -n. At QoS 1 and 2 the \
            command succeeds only once the broker has acknowledged every message; otherwise it \
            exits with status 8 and says how many were not acknowledged. Up to -M messages are \
            kept in flight at once (MQTT 5: at most the broker's Receive Maximum).

            Examples:
              mqttctl pub -t sensors/temp -m 21.5 -q 1
              tail -f app.log | mqttctl pub -t logs/app -l -q 1
              mqttctl pub -V 5 -t cmd -m go -D publish user-property origin ci
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Connection") var keepAlive: KeepAliveOption
    @OptionGroup(title: "Will") var will: WillOptions
    @OptionGroup(title: "MQTT 5 properties") var properties: PropertyOptions

    @Option(name: [.short, .long], parsing: .unconditional, help: "Topic to publish to (or the topic of -L).")
    var topic: String?

    @Option(name: [.short, .customLong("message")], parsing: .unconditional, help: "Message payload.")
    var message: String?

    @Option(name: [.short, .customLong("file")], parsing: .unconditional, help: ArgumentHelp("Send the content of a file as the message.", valueName: "path"))
    var file: String?

    @Flag(name: [.short, .customLong("stdin-file")], help: "Send all of stdin as one message.")
    var stdinFile = false

    @Flag(name: [.customShort("l"), .customLong("stdin-line")], help: "Send each line of stdin as a message (the newline is not sent).")
    var stdinLine = false

    @Flag(name: [.short, .customLong("null-message")], help: "Send an empty message.")
    var nullMessage = false

    @Option(name: [.short, .long], parsing: .unconditional, help: "Quality of service: 0, 1 or 2.")
    var qos: Int = 0

    @Flag(name: [.short, .long], help: "Ask the broker to retain the message.")
    var retain = false

    @Option(name: .customLong("repeat"), parsing: .unconditional, help: ArgumentHelp("Publish the message this many times.", valueName: "count"))
    var repeatCount: Int = 1

    @Option(name: .customLong("repeat-delay"), parsing: .unconditional, help: ArgumentHelp("Seconds between repeated messages (fractions allowed).", valueName: "seconds"))
    var repeatDelay: Double = 0

    @Option(name: [.customShort("M"), .customLong("max-inflight")],
            parsing: .unconditional, help: ArgumentHelp("Messages kept in flight (sent, not yet acknowledged) at once.", valueName: "count"))
    var maxInflight: Int = 20

    @Option(name: .customLong("ack-timeout"),
            parsing: .unconditional, help: ArgumentHelp("Give up when no acknowledgement arrives for this many seconds while messages are outstanding.", valueName: "seconds"))
    var ackTimeout: Double = 30

    func validate() throws {
        let sources = [message != nil, file != nil, stdinFile, stdinLine, nullMessage].filter { $0 }.count
        if sources == 0 {
            throw ValidationError("no message given: use one of -m MESSAGE, -f FILE, -s (stdin), -l (stdin lines) or -n (empty)")
        }
        if sources > 1 {
            throw ValidationError("only one of -m, -f, -s, -l and -n can be used")
        }
        if !(0...2).contains(qos) {
            throw ValidationError("-q \(qos): QoS must be 0, 1 or 2")
        }
        if let topic, let problem = Topic.problemWithName(topic) {
            throw ValidationError("invalid topic: \(problem)")
        }
        if repeatCount < 1 {
            throw ValidationError("invalid --repeat \(repeatCount): use 1 or more")
        }
        if repeatCount > 1 && stdinLine {
            throw ValidationError("--repeat cannot be used with -l")
        }
        if !(repeatDelay >= 0) || repeatDelay > 86400 {
            throw ValidationError("invalid --repeat-delay \(repeatDelay): use 0 or more seconds")
        }
        if !(1...65535).contains(maxInflight) {
            throw ValidationError("invalid -M \(maxInflight): use 1 to 65535")
        }
        if !(ackTimeout > 0) {
            throw ValidationError("invalid --ack-timeout \(ackTimeout): use a number of seconds above 0")
        }
    }

    func run() throws {
        let parsed = try properties.parsed()
        try parsed.requireOnly([.connect, .publish, .disconnect, .will], in: "pub")
        let version = try connection.resolvedProtocol(needsV5: !parsed.isEmpty || will.needsV5 || connection.sessionExpiry != nil)
        var (options, urlTopic) = try connection.makeConnectOptions(
            keepAlive: keepAlive.keepAlive, protocolVersion: version, will: will, properties: parsed)
        options.maxInflight = maxInflight
        guard let topic = topic ?? urlTopic else {
            throw CommandFailure.usage("no topic given: use -t TOPIC (or a topic in the -L URL)")
        }
        if let problem = Topic.problemWithName(topic) {
            throw CommandFailure.usage("invalid topic: \(problem)")
        }

        // Load a fixed payload before connecting, so that bad input never costs a connection.
        let source: PublishJob.Source
        if stdinLine {
            source = .lines(LineReader(fd: 0))
        } else {
            let payload: [UInt8]
            if let message {
                payload = Array(message.utf8)
            } else if let file {
                payload = try InputReading.readFile(file)
            } else if stdinFile {
                payload = try InputReading.readStdin()
                if payload.isEmpty {
                    throw CommandFailure.usage("stdin was empty; use -n to send an empty message")
                }
            } else {
                payload = []
            }
            if payload.count > 268_435_455 {
                throw CommandFailure.usage("the message is \(payload.count) bytes; MQTT allows at most 268435455")
            }
            source = .fixed(payload, count: repeatCount, delay: repeatDelay)
        }

        let prepared: PreparedProperties?
        do {
            prepared = parsed.publish.isEmpty ? nil : try PreparedProperties(parsed.publish)
        } catch {
            throw CommandFailure(error)
        }

        let loop = EventLoop()
        let client = try ClientSession.makeClient(options, debug: connection.debug)
        let job = PublishJob(client: client, loop: loop, topic: topic, qos: qos, retain: retain,
                             properties: prepared, source: source, window: maxInflight, ackTimeout: ackTimeout)
        try ClientSession.connect(client, on: loop)
        try job.run(disconnectProperties: parsed.disconnect)
    }
}

/// One run of `pub`: keeps up to `window` messages in flight, reads more input
/// only when there is room (so memory stays flat however long stdin is), and
/// counts acknowledgements so the exit status can tell the truth.
final class PublishJob {
    enum Source {
        case fixed([UInt8], count: Int, delay: Double)
        case lines(LineReader)
    }

    let client: MQTTClient
    let loop: EventLoop
    let topic: String
    let qos: Int
    let retain: Bool
    let properties: PreparedProperties?
    let source: Source
    var window: Int
    let ackTimeout: Double

    /// Messages handed to libmosquitto.
    private(set) var published = 0
    /// Messages acknowledged (QoS 1/2) or written (QoS 0).
    private(set) var completed = 0
    /// Acknowledgements with an MQTT 5 reason code >= 0x80.
    private(set) var rejected = 0
    private var firstRejection: Int32?
    private var lastProgress = MonotonicClock.now()
    private var nextRepeatAt: UInt64 = 0
    private var stdinWatch: Int?
    private var failure: CommandFailure?

    init(client: MQTTClient, loop: EventLoop, topic: String, qos: Int, retain: Bool, properties: PreparedProperties?,
         source: Source, window: Int, ackTimeout: Double) {
        self.client = client
        self.loop = loop
        self.topic = topic
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.source = source
        self.window = window
        self.ackTimeout = ackTimeout
        client.onPublishComplete = { [unowned self] _, reason in
            completed += 1
            lastProgress = MonotonicClock.now()
            if reason >= 0x80 {
                rejected += 1
                if firstRejection == nil { firstRejection = reason }
            }
            pump()
        }
    }

    var inflight: Int { published - completed }

    private var sourceExhausted: Bool {
        switch source {
        case .fixed(_, let count, _): return published >= count
        case .lines(let reader): return reader.isExhausted
        }
    }

    func run(disconnectProperties: MQTTProperties) throws {
        if let receiveMaximum = client.connAck?.properties.receiveMaximum {
            // MQTT 5: the broker says how many QoS 1/2 messages it takes at once.
            window = min(window, receiveMaximum)
        }
        if case .lines(let reader) = source {
            stdinWatch = loop.watch(fd: reader.fd) { [unowned self] _ in
                if let errorCode = reader.fill() {
                    failure = CommandFailure(.failure, "cannot read stdin: \(String(cString: strerror(errorCode)))")
                }
                pump()
            }
        }
        pump()
        let ackCheck = ackTimeout
        var timer: Int?
        func armTimer() {
            timer = loop.schedule(after: min(1, ackCheck)) { [unowned self] in
                checkAckTimeout()
                armTimer()
            }
        }
        armTimer()

        let stop = loop.run { [unowned self] in
            failure != nil || client.state == .closed || (sourceExhausted && inflight == 0)
        }
        if let timer { loop.cancel(timer) }
        if let stdinWatch { loop.unwatch(stdinWatch) }

        if case .signal(let sig) = stop {
            let unacknowledged = qos > 0 ? inflight : 0
            ClientSession.disconnect(client, on: loop, properties: disconnectProperties)
            if unacknowledged > 0 {
                Diagnostics.error("interrupted: \(unacknowledged) of \(published) messages were not acknowledged")
            }
            throw CommandFailure(ExitStatus(signal: sig), "")
        }
        if let failure {
            ClientSession.disconnect(client, on: loop, properties: disconnectProperties)
            throw failure
        }
        if client.state == .closed {
            if let failure = lostConnectionFailure() { throw failure }
        } else {
            ClientSession.disconnect(client, on: loop, properties: disconnectProperties)
        }
        if rejected > 0 {
            let reason = firstRejection.map { ReasonCode.describe(Int($0)) } ?? "unknown"
            throw CommandFailure(.notAcknowledged, "the broker rejected \(rejected) of \(published) messages (\(reason))")
        }
    }

    /// Publishes while there is room in the window and input to send.
    private func pump() {
        guard failure == nil, client.state == .connected else { return }
        switch source {
        case .fixed(let payload, let count, let delay):
            while inflight < window && published < count {
                if delay > 0 && published > 0 {
                    let now = MonotonicClock.now()
                    if now < nextRepeatAt {
                        loop.schedule(at: nextRepeatAt) { [unowned self] in pump() }
                        return
                    }
                }
                let ok = payload.withUnsafeBytes { publishOne($0) }
                guard ok else { return }
                if delay > 0 { nextRepeatAt = MonotonicClock.after(seconds: delay) }
            }
        case .lines(let reader):
            while inflight < window {
                let sent: Bool?
                do {
                    sent = try reader.withNextLine { line in publishOne(line) }
                } catch {
                    failure = error
                    return
                }
                guard let sent else { break }
                guard sent else { return }
            }
            // Read more input only while there is room to send it.
            if let stdinWatch {
                let wantInput = inflight < window && !reader.endOfInput && !reader.hasLine
                loop.setEvents(stdinWatch, wantInput ? Int16(POLLIN) : 0)
            }
        }
    }

    private func publishOne(_ payload: UnsafeRawBufferPointer) -> Bool {
        do {
            try client.publish(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
            published += 1
            if published == 1 { lastProgress = MonotonicClock.now() }
            return true
        } catch {
            let status: ExitStatus = error.kind == .connectionLost ? .connectionLost : .notAcknowledged
            failure = CommandFailure(status, "\(error.message)\(unacknowledgedSuffix)")
            return false
        }
    }

    private func checkAckTimeout() {
        guard inflight > 0 else { return }
        let idle = MonotonicClock.seconds(lastProgress, MonotonicClock.now())
        if idle >= ackTimeout {
            failure = CommandFailure(.notAcknowledged,
                "no acknowledgement from the broker for \(formatSeconds(ackTimeout)) s (--ack-timeout): \(inflight) of \(published) messages were not acknowledged")
        }
    }

    private var unacknowledgedSuffix: String {
        qos > 0 && inflight > 0 ? "; \(inflight) of \(published) messages were not acknowledged" : ""
    }

    /// Why the run failed after the connection closed; nil if nothing was lost.
    private func lostConnectionFailure() -> CommandFailure? {
        let cause = ClientSession.failure(for: client)
        let where_: String
        if case .lines(let reader) = source {
            where_ = " after input line \(reader.lineNumber)"
        } else {
            where_ = ""
        }
        if qos > 0 && inflight > 0 {
            return CommandFailure(.notAcknowledged,
                "\(cause.message)\(where_): \(inflight) of \(published) messages were not acknowledged")
        }
        if sourceExhausted && inflight == 0 {
            // Everything was acknowledged before the connection went; nothing was lost.
            return nil
        }
        return CommandFailure(cause.status, "\(cause.message)\(where_) (\(completed) messages sent)")
    }
}

func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int(seconds)) : String(seconds)
}

extension Publish: DefaultsAccepting {
    static let defaultOwners: Set<Defaults.Owner> = [.connection,.keepAlive]
}
