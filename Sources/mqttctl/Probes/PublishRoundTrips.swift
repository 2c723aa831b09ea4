import Mosquitto

/// `ping --publish`: between the PINGREQs, a PUBLISH to a topic of our own
/// that the same connection subscribes to, timed from its write to its
/// arrival back. Next to the PINGREQ round trip (the broker's own answer) it
/// shows what routing a message costs on this broker: topic matching, ACL,
/// queueing, the delivery. The payload carries the sequence number, so a
/// late arrival is matched to its publish.
final class PublishRoundTrips {
    struct Reply {
        let seq: Int
        let rtt: Double
        let late: Bool
    }

    let client: MQTTClient
    let loop: EventLoop
    let topic: String
    let qos: Int
    let timeout: Double
    private(set) var sent = 0
    private(set) var replies: [Reply] = []
    private var sentAt: [Int: UInt64] = [:]
    var onReply: ((Reply) -> Void)?
    var onTimeout: ((Int) -> Void)?

    init(client: MQTTClient, loop: EventLoop, topic: String, qos: Int, timeout: Double) {
        self.client = client
        self.loop = loop
        self.topic = topic
        self.qos = qos
        self.timeout = timeout
    }

    /// Subscribes to the topic and waits for the SUBACK.
    func subscribe() throws(CommandFailure) {
        var granted: [Int32]?
        client.onSubscribe = { _, codes in granted = codes }
        client.onMessage = { [unowned self] message in arrived(message) }
        do {
            try client.subscribe([topic], qos: qos)
        } catch {
            throw CommandFailure(error)
        }
        let deadline = MonotonicClock.after(seconds: client.options.connectTimeout)
        let stop = loop.run(deadline: deadline) { granted != nil || client.state == .closed }
        if case .signal(let sig) = stop { throw CommandFailure(ExitStatus(signal: sig), "") }
        guard let granted else {
            throw client.state == .closed
                ? ClientSession.failure(for: client)
                : CommandFailure(
                    .timeout, "no SUBACK for '\(topic)' within \(formatSeconds(client.options.connectTimeout)) s")
        }
        if granted.contains(where: { $0 >= 0x80 }) {
            throw CommandFailure(
                .subscriptionRefused,
                "the broker refused the subscription to '\(topic)' (--publish needs to receive its own messages)")
        }
    }

    /// Publishes number `seq` now.
    func send(seq: Int) {
        guard client.state == .connected else { return }
        let at = MonotonicClock.now()
        do {
            try client.publish(topic: topic, payload: Array(String(seq).utf8), qos: qos, retain: false)
        } catch {
            return
        }
        sent = max(sent, seq)
        sentAt[seq] = at
        loop.schedule(after: timeout) { [unowned self] in
            if sentAt[seq] != nil, !replies.contains(where: { $0.seq == seq }) { onTimeout?(seq) }
        }
    }

    private func arrived(_ message: ReceivedMessage) {
        let now = MonotonicClock.now()
        guard message.topicString == topic, let seq = Int(String(decoding: message.payload, as: UTF8.self)),
            let at = sentAt.removeValue(forKey: seq)
        else { return }
        let rtt = MonotonicClock.milliseconds(at, now)
        let reply = Reply(seq: seq, rtt: rtt, late: rtt > timeout * 1000)
        replies.append(reply)
        onReply?(reply)
    }

    var received: Int { replies.count { !$0.late } }
    var statistics: RTTStatistics? { RTTStatistics(replies.filter { !$0.late }.map(\.rtt)) }
    /// Every publish answered or given up on.
    var isDone: Bool {
        sentAt.isEmpty || sentAt.values.allSatisfy { MonotonicClock.seconds($0, MonotonicClock.now()) > timeout }
    }
}
