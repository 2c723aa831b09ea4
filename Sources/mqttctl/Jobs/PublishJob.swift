import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

/// One run of `pub`: the driver of a `PublishWindow`. It owns the connection,
/// the input and the timers; the window decides how many messages may be in
/// flight and how the run ends. Input is read only when there is room, so
/// memory stays flat however long stdin is.
final class PublishJob {
    enum Source {
        case fixed(Payload, count: Int, delay: Double)
        case lines(LineReader)
    }

    let client: MQTTClient
    let loop: EventLoop
    let topic: String
    let qos: Int
    let retain: Bool
    let properties: PreparedProperties?
    /// The same properties as values, to know the size they take in a PUBLISH.
    let propertyValues: MQTTProperties
    let source: Source
    private var window: PublishWindow
    /// Set when the window says the run is over: `.some(nil)` is success.
    private var outcome: CommandFailure??
    private var pumping = false
    private var nextRepeatAt: UInt64 = 0
    private var stdinWatch: Int?
    /// The largest payload the broker takes on this topic, and why.
    private var payloadLimit = PayloadLimit(largest: largestMQTTPayload, packetSize: nil)

    init(
        client: MQTTClient, loop: EventLoop, topic: String, qos: Int, retain: Bool, properties: PreparedProperties?,
        propertyValues: MQTTProperties, source: Source, window: Int, ackTimeout: Double
    ) {
        self.client = client
        self.loop = loop
        self.topic = topic
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.propertyValues = propertyValues
        self.source = source
        let input: PublishWindow.Input =
            switch source {
            case .fixed(_, let count, _): .count(count)
            case .lines: .lines
            }
        self.window = PublishWindow(input: input, qos: qos, window: window, ackTimeout: ackTimeout)
        client.onPublishComplete = { [unowned self] _, reason in
            apply(self.window.handle(.completed(reasonCode: Int(reason), at: MonotonicClock.now())))
        }
    }

    func run(disconnectProperties: MQTTProperties) throws {
        let connAck = client.connAck?.properties ?? MQTTProperties()
        do {
            try checkAgainstBroker(connAck)
        } catch {
            ClientSession.disconnect(client, on: loop, properties: disconnectProperties)
            throw error
        }
        if case .lines(let reader) = source {
            reader.limit = payloadLimit.largest
            stdinWatch = loop.watch(fd: reader.fd) { [unowned self] _ in
                reader.fill()
                pump()
            }
        }
        apply(window.handle(.connected(receiveMaximum: connAck.receiveMaximum, at: MonotonicClock.now())))
        var timer: Int?
        func armTimer() {
            timer = loop.schedule(after: min(1, window.ackTimeout)) { [unowned self] in
                apply(window.handle(.tick(at: MonotonicClock.now())))
                armTimer()
            }
        }
        armTimer()

        let stop = loop.run { [unowned self] in outcome != nil || client.state == .closed }
        if let timer { loop.cancel(timer) }
        if let stdinWatch { loop.unwatch(stdinWatch) }
        if case .signal(let signal) = stop, outcome == nil {
            apply(window.handle(.interrupted(signal: signal)))
        }
        if outcome == nil, client.state == .closed {
            var line: Int?
            if case .lines(let reader) = source { line = reader.lineNumber }
            apply(window.handle(.connectionClosed(cause: ClientSession.failure(for: client), line: line)))
        }
        if client.state != .closed {
            ClientSession.disconnect(client, on: loop, properties: disconnectProperties)
        }
        if let failure = outcome ?? nil { throw failure }
        if case .lines(let reader) = source, let problem = reader.problem {
            throw inputFailure(problem, reader: reader)
        }
    }

    private func apply(_ action: PublishWindow.Action?) {
        switch action {
        case nil: break
        case .publish: pump()
        case .finish(let failure): outcome = .some(failure)
        }
    }

    /// What the broker said in CONNACK that a message must fit (MQTT 5): the
    /// Maximum Packet Size, and the Topic Alias Maximum for -D publish topic-alias.
    private func checkAgainstBroker(_ connAck: MQTTProperties) throws(CommandFailure) {
        payloadLimit = PayloadLimit(
            maximumPacketSize: connAck.maximumPacketSize, topic: topic, qos: qos,
            properties: propertyValues, version: client.options.protocolVersion)
        if case .fixed(let payload, _, _) = source, payload.count > payloadLimit.largest {
            throw .usage("the message is \(payload.count) bytes, more than \(payloadLimit.describe(topic: topic))")
        }
        if case .uint16(let alias)? = propertyValues.first(MQTTProperties.topicAlias) {
            let maximum = connAck.topicAliasMaximum ?? 0
            if Int(alias) > maximum {
                throw .usage(
                    "-D publish topic-alias \(alias): the broker takes \(maximum == 0 ? "no topic aliases" : "topic aliases 1 to \(maximum) only") (Topic Alias Maximum)"
                )
            }
        }
    }

    /// Publishes while the window has room and there is input to send. A
    /// completion reported from inside `publish` (QoS 0) lands in the window
    /// at once; this loop, not a nested one, sends what it makes room for.
    private func pump() {
        guard !pumping, outcome == nil, client.state == .connected else { return }
        pumping = true
        defer { pumping = false }
        switch source {
        case .fixed(let payload, _, let delay):
            while window.room > 0 {
                if delay > 0 && window.published > 0 {
                    let now = MonotonicClock.now()
                    if now < nextRepeatAt {
                        loop.schedule(at: nextRepeatAt) { [unowned self] in pump() }
                        return
                    }
                }
                guard payload.withUnsafeBytes({ publishOne($0) }) else { return }
                if delay > 0 { nextRepeatAt = MonotonicClock.after(seconds: delay) }
            }
        case .lines(let reader):
            while window.room > 0 {
                let sent: Bool?
                do {
                    sent = try reader.withNextLine { line in publishOne(line) }
                } catch {
                    outcome = .some(error)
                    return
                }
                guard let sent else { break }
                guard sent else { return }
            }
            if reader.isExhausted { apply(window.handle(.inputEnded)) }
            // Read more input only while there is room to send it.
            if let stdinWatch, outcome == nil {
                let wantInput = window.room > 0 && !reader.endOfInput && !reader.hasLine
                loop.setEvents(stdinWatch, wantInput ? .readable : [])
            }
        }
    }

    private func publishOne(_ payload: UnsafeRawBufferPointer) -> Bool {
        do {
            try client.publish(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        } catch {
            apply(window.handle(.sendFailed(error.kind, message: ErrorText.line(for: error))))
            return false
        }
        apply(window.handle(.sent(at: MonotonicClock.now())))
        return outcome == nil
    }

    /// Line mode stopped on bad input; everything before it was sent (and, at
    /// QoS 1/2, acknowledged: the run waited for that).
    private func inputFailure(_ problem: LineReader.Problem, reader: LineReader) -> CommandFailure {
        let sent = reader.lineNumber
        let before =
            sent == 0
            ? ""
            : "; the \(sent) line\(sent == 1 ? "" : "s") before it \(sent == 1 ? "was" : "were") sent\(qos > 0 ? " and acknowledged" : "")"
        switch problem {
        case .read(let code):
            let reason = code == EISDIR ? "it is a directory" : StandardStreams.describe(errno: code, fd: 0)
            return .usage("cannot read stdin\(sent == 0 ? "" : " after line \(sent)"): \(reason)\(before)")
        case .lineTooLong(let line):
            return .usage("line \(line) of stdin is longer than \(payloadLimit.describe(topic: topic))\(before)")
        case .outOfMemory(let bytes):
            return CommandFailure(.failure, "out of memory reading line \(sent + 1) of stdin (\(bytes) bytes)\(before)")
        }
    }
}
