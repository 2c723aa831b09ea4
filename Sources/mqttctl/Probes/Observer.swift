import Mosquitto

/// A witness connection: it subscribes to the topics a probe expects messages
/// on (wills, the take-over carry-over message) before the probe's own clients
/// connect, and notes when each message arrives. Copies the broker sends
/// because of the subscription itself (retained) are ignored: they are left
/// over from earlier runs.
final class Observer {
    let client: MQTTClient
    let topics: [String]
    private let context: ProbeContext
    private(set) var isReady = false
    private(set) var failure: CommandFailure?
    /// Monotonic arrival time of the first live message on each topic.
    private(set) var arrivals: [String: UInt64] = [:]
    var onReady: (() -> Void)?
    var onArrival: ((String) -> Void)?
    /// The first live message on a topic, with its MQTT 5 properties.
    var onMessageDetail: ((String, MQTTProperties) -> Void)?
    private var subackTimer: Int?
    private var stopping = false

    /// `endpoint`: another host and port than the probe's (another node of a cluster).
    init(
        context: ProbeContext, id: String, topics: [String], endpoint: (host: String, port: Int)? = nil
    ) throws(CommandFailure) {
        self.context = context
        self.topics = topics
        client = try context.makeClient(id: id) { options in
            if let endpoint {
                options.host = endpoint.host
                options.port = endpoint.port
            }
        }
    }

    func start() throws(CommandFailure) {
        client.onConnect = { [unowned self] _ in subscribe() }
        client.onSubscribe = { [unowned self] _, granted in subscribed(granted) }
        client.onMessage = { [unowned self] message in
            guard !message.retain else { return }
            let topic = message.topicString
            if arrivals[topic] == nil {
                arrivals[topic] = MonotonicClock.now()
                onMessageDetail?(topic, message.hasProperties ? message.properties() : MQTTProperties())
                onArrival?(topic)
            }
        }
        client.onClose = { [unowned self] _ in
            guard !stopping, failure == nil else { return }
            let cause = ClientSession.failure(for: client)
            failure = CommandFailure(
                cause.status, "observer connection (\(client.options.clientID ?? "")): \(cause.message)")
        }
        try context.connect(client)
    }

    /// Publishes (the carry-over message of the take-over probe), at most at the
    /// broker's Maximum QoS.
    func publish(_ topic: String, _ payload: String, qos: Int) {
        do {
            try client.publish(topic: topic, payload: Array(payload.utf8), qos: min(qos, maximumQoS), retain: false)
        } catch {
            failure = CommandFailure(error)
        }
    }

    func stop() {
        stopping = true
        if let subackTimer { context.loop.cancel(subackTimer) }
        client.disconnectIfOpen()
    }

    /// The broker's Maximum QoS (MQTT 5 CONNACK; 2 when absent).
    var maximumQoS: Int { client.connAck?.properties.maximumQoS ?? 2 }

    private func subscribe() {
        guard !topics.isEmpty else { return ready() }
        do {
            try client.subscribe(topics, qos: min(1, maximumQoS))
        } catch {
            failure = CommandFailure(error)
            return
        }
        let timeout = client.options.connectTimeout
        subackTimer = context.loop.schedule(after: timeout) { [unowned self] in
            guard !isReady, failure == nil else { return }
            failure = CommandFailure(
                .timeout,
                "no SUBACK for the observer's subscription within \(formatSeconds(timeout)) s (--connect-timeout)")
        }
    }

    private func subscribed(_ granted: [Int32]) {
        if let subackTimer { context.loop.cancel(subackTimer) }
        if let refused = granted.firstIndex(where: { $0 >= 0x80 }) {
            let topic = refused < topics.count ? topics[refused] : topics.joined(separator: ", ")
            failure = CommandFailure(
                .subscriptionRefused,
                "the broker refused the observer's subscription to '\(topic)' (needed to see the will; check the ACL or use other topics)"
            )
            return
        }
        ready()
    }

    private func ready() {
        isReady = true
        onReady?()
    }
}
