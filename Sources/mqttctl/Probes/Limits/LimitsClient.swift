import Mosquitto

/// One connection of `probe limits`, used step by step: each call runs the
/// shared loop until its answer came or its wait ended, so a check reads as a
/// short script (subscribe, publish, expect). Every wait is bounded by
/// `timeout`; a signal ends the whole probe (`LimitsInterrupted`).
final class LimitsClient {
    struct Message {
        let topic: String
        let payload: [UInt8]
        let qos: Int
        let retain: Bool
        let properties: MQTTProperties
        let at: UInt64
    }

    enum PublishOutcome: Equatable {
        /// Acknowledged (QoS 0: written) with this reason code.
        case acknowledged(Int)
        /// libmosquitto would not send it (what it says).
        case notSent(String)
        case timedOut
        case closed
    }

    let client: MQTTClient
    let loop: EventLoop
    let timeout: Double
    private(set) var messages: [Message] = []
    private var acks: [Int32: Int32] = [:]
    private var subacks: [Int32: [Int32]] = [:]

    init(client: MQTTClient, loop: EventLoop, timeout: Double) {
        self.client = client
        self.loop = loop
        self.timeout = timeout
        client.onMessage = { [unowned self] m in
            messages.append(
                Message(
                    topic: m.topicString, payload: Array(m.payload), qos: m.qos, retain: m.retain,
                    properties: m.hasProperties ? m.properties() : MQTTProperties(), at: MonotonicClock.now()))
        }
        client.onPublishComplete = { [unowned self] mid, reason in acks[mid] = reason }
        client.onSubscribe = { [unowned self] mid, granted in subacks[mid] = granted }
    }

    var isOpen: Bool { client.state == .connected }

    /// Runs the loop until `done` or `seconds` pass; false on timeout.
    @discardableResult
    func wait(_ seconds: Double? = nil, until done: () -> Bool) throws(LimitsInterrupted) -> Bool {
        let stop = loop.run(deadline: MonotonicClock.after(seconds: seconds ?? timeout)) {
            done() || client.state == .closed
        }
        if case .signal(let sig) = stop { throw LimitsInterrupted(signal: sig) }
        return done()
    }

    /// The granted QoS per filter (or failure codes), nil without a SUBACK in time.
    func subscribe(
        _ filters: [String], qos: Int, options: SubscriptionOptions = [],
        properties: MQTTProperties = MQTTProperties()
    ) throws(LimitsInterrupted) -> [Int32]? {
        guard isOpen else { return nil }
        let mid: Int32
        do { mid = try client.subscribe(filters, qos: qos, options: options, properties: properties) } catch {
            return nil
        }
        try wait { subacks[mid] != nil }
        return subacks.removeValue(forKey: mid)
    }

    func unsubscribe(_ filters: [String]) throws(LimitsInterrupted) {
        guard isOpen else { return }
        var done = false
        client.onUnsubscribe = { _ in done = true }
        do { try client.unsubscribe(filters) } catch { return }
        try wait { done }
    }

    func publish(
        _ topic: String, _ payload: [UInt8], qos: Int, retain: Bool = false,
        properties: MQTTProperties = MQTTProperties()
    ) throws(LimitsInterrupted) -> PublishOutcome {
        guard isOpen else { return .closed }
        let mid: Int32
        do {
            let prepared = properties.isEmpty ? nil : try PreparedProperties(properties)
            mid = try client.publish(topic: topic, payload: payload, qos: qos, retain: retain, properties: prepared)
        } catch {
            return .notSent(ErrorText.line(for: error))
        }
        try wait { acks[mid] != nil }
        if let reason = acks.removeValue(forKey: mid) { return .acknowledged(Int(reason)) }
        return isOpen ? .timedOut : .closed
    }

    /// The first message on `topic` that arrived after index `from`, waiting up to `seconds`.
    func message(
        on topic: String, after from: Int = 0, within seconds: Double? = nil
    ) throws(LimitsInterrupted) -> Message? {
        try wait(seconds) { messages.dropFirst(from).contains { $0.topic == topic } }
        return messages.dropFirst(from).first { $0.topic == topic }
    }

    /// Messages on `topic` that arrived after index `from`.
    func messages(on topic: String, after from: Int = 0) -> [Message] {
        messages.dropFirst(from).filter { $0.topic == topic }
    }

    func disconnect() {
        ClientSession.disconnect(client, on: loop)
        loop.remove(client)
    }
}

/// A signal ended `probe limits`.
struct LimitsInterrupted: Error {
    let signal: Int32
}
