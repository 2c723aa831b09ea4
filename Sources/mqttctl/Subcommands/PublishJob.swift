import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

/// One run of `pub`: keeps up to `window` messages in flight, reads more input
/// only when there is room (so memory stays flat however long stdin is), and
/// counts acknowledgements so the exit status can tell the truth.
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
    /// The largest payload the broker takes on this topic, and why.
    private var payloadLimit = PayloadLimit(largest: largestMQTTPayload, packetSize: nil)

    init(client: MQTTClient, loop: EventLoop, topic: String, qos: Int, retain: Bool, properties: PreparedProperties?,
         propertyValues: MQTTProperties, source: Source, window: Int, ackTimeout: Double) {
        self.client = client
        self.loop = loop
        self.topic = topic
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.propertyValues = propertyValues
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
        let connAck = client.connAck?.properties ?? MQTTProperties()
        if let receiveMaximum = connAck.receiveMaximum {
            // MQTT 5: the broker says how many QoS 1/2 messages it takes at once.
            window = min(window, receiveMaximum)
        }
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
            let unacknowledged = qos > 0 ? notAcknowledged : 0
            let summary = unacknowledgedText
            ClientSession.disconnect(client, on: loop, properties: disconnectProperties)
            throw CommandFailure(ExitStatus(signal: sig), unacknowledged > 0 ? "interrupted: \(summary)" : "")
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
        if case .lines(let reader) = source, let problem = reader.problem {
            throw inputFailure(problem, reader: reader)
        }
    }

    /// What the broker said in CONNACK that a message must fit (MQTT 5): the
    /// Maximum Packet Size, and the Topic Alias Maximum for -D publish topic-alias.
    private func checkAgainstBroker(_ connAck: MQTTProperties) throws(CommandFailure) {
        payloadLimit = PayloadLimit(maximumPacketSize: connAck.maximumPacketSize, topic: topic, qos: qos,
                                    properties: propertyValues, version: client.options.protocolVersion)
        if case .fixed(let payload, _, _) = source, payload.count > payloadLimit.largest {
            throw .usage("the message is \(payload.count) bytes, more than \(payloadLimit.describe(topic: topic))")
        }
        if case .uint16(let alias)? = propertyValues.first(MQTTProperties.topicAlias) {
            let maximum = connAck.topicAliasMaximum ?? 0
            if Int(alias) > maximum {
                throw .usage("-D publish topic-alias \(alias): the broker takes \(maximum == 0 ? "no topic aliases" : "topic aliases 1 to \(maximum) only") (Topic Alias Maximum)")
            }
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
            failure = CommandFailure(status, "\(error.message); \(unacknowledgedText)")
            return false
        }
    }

    private func checkAckTimeout() {
        guard inflight > 0 else { return }
        let idle = MonotonicClock.seconds(lastProgress, MonotonicClock.now())
        if idle >= ackTimeout {
            failure = CommandFailure(.notAcknowledged,
                "no acknowledgement from the broker for \(formatSeconds(ackTimeout)) s (--ack-timeout): \(unacknowledgedText)")
        }
    }

    /// QoS 1/2 messages not acknowledged, those never sent included (--repeat).
    private var notAcknowledged: Int {
        if case .fixed(_, let count, _) = source { return count - completed }
        return inflight
    }

    /// "20 of 50 messages were not acknowledged (30 never sent)"; at QoS 0,
    /// which has no acknowledgements, how many were sent.
    private var unacknowledgedText: String {
        switch source {
        case .fixed(_, let count, _):
            if qos == 0 { return "\(completed) of \(count) messages sent" }
            let neverSent = count - published
            return "\(notAcknowledged) of \(count) messages were not acknowledged" + (neverSent > 0 ? " (\(neverSent) never sent)" : "")
        case .lines(let reader):
            let rest = reader.isExhausted ? "" : "; the rest of stdin was not sent"
            if qos == 0 { return "\(completed) messages sent\(rest)" }
            return "\(inflight) of \(published) messages were not acknowledged\(rest)"
        }
    }

    /// Why the run failed after the connection closed; nil if nothing was lost.
    private func lostConnectionFailure() -> CommandFailure? {
        if sourceExhausted && inflight == 0 {
            // Everything was acknowledged before the connection went; nothing was lost.
            return nil
        }
        let cause = ClientSession.failure(for: client)
        var where_ = ""
        if case .lines(let reader) = source { where_ = " after input line \(reader.lineNumber)" }
        if qos > 0 {
            return CommandFailure(.notAcknowledged, "\(cause.message)\(where_): \(unacknowledgedText)")
        }
        return CommandFailure(cause.status, "\(cause.message)\(where_) (\(unacknowledgedText))")
    }

    /// Line mode stopped on bad input; everything before it was sent (and, at
    /// QoS 1/2, acknowledged: the run waited for that).
    private func inputFailure(_ problem: LineReader.Problem, reader: LineReader) -> CommandFailure {
        let sent = reader.lineNumber
        let before = sent == 0 ? "" : "; the \(sent) line\(sent == 1 ? "" : "s") before it \(sent == 1 ? "was" : "were") sent\(qos > 0 ? " and acknowledged" : "")"
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
