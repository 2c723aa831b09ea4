import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

/// What a `SubscribeJob` is told to do, as a value: `sub` makes it from its
/// options (`Subscribe.settings`), `rr` from its own (one response topic, no
/// filtering, no reconnect).
struct SubscribeSettings: Equatable {
    /// -C: stop after this many messages.
    var count: Int?
    /// -W: give up after this many seconds.
    var timeout: Double?
    /// -T: filters whose messages are not printed.
    var filterOut: [String] = []
    /// -R: skip retained messages.
    var ignoreRetained = false
    /// --retained-only: print retained messages, stop at the first live one.
    var retainedOnly = false
    /// --remove-retained: clear each retained message received.
    var removeRetained = false
    /// -E: stop once subscribed.
    var exitAfterSubscribe = false
    /// -U: filters to unsubscribe from.
    var unsubscribe: [String] = []
    /// --reconnect: connect again when the connection is lost.
    var reconnect = false
    /// --random-filter: print each message with this chance.
    var randomFilter: Chance?
}

/// One run of `sub`: subscribes on every CONNACK (so a reconnect restores the
/// subscriptions), prints messages, and decides when and how to stop. Which
/// acknowledgements may leave, and when, is `Acknowledgements`' business.
/// `rr` runs the same job with its hooks: it publishes the request once
/// subscribed and takes only the messages that answer it.
final class SubscribeJob {
    /// Called once the subscription is acknowledged (rr: publish the request).
    var onSubscribed: (() -> Void)?
    /// Whether a message is one to print (rr: the correlation matches); false
    /// drops it as -T would.
    var accepts: ((ReceivedMessage) -> Bool)?
    /// Called right before a message is rendered (rr: its round-trip time).
    var willPrint: ((ReceivedMessage) -> Void)?
    /// A QoS 1/2 completion that is not a removal's (rr: the request); true when handled.
    var publishCompleted: ((_ mid: Int32, _ reasonCode: Int32) -> Bool)?
    /// The -W message, given the count printed (rr says "responses").
    var timeoutMessage: ((Int) -> String)?
    /// A failure decided by a hook (rr: the request was rejected).
    func fail(_ failure: CommandFailure) {
        if self.failure == nil { self.failure = failure }
    }

    let client: MQTTClient
    let loop: EventLoop
    let filters: [String]
    let qos: Int
    let subscriptionOptions: SubscriptionOptions
    let properties: ParsedProperties
    let renderer: MessageRenderer
    let settings: SubscribeSettings
    let output = OutputBuffer()
    let acks: Acknowledgements

    /// We decided to stop: count reached, -E, --retained-only.
    private var finished = false
    /// The run is over (deadline, signal, failure): the connection is ended on purpose.
    private var stopping = false
    private var failure: CommandFailure?
    /// Messages that arrived after stdout failed, and of them those at QoS 0 or 2
    /// (which the broker will not send again).
    private var arrivedAfterOutputFailed = 0
    private var arrivedAfterOutputFailedGone = 0
    private var hasConnected = false
    private var unsubscribePending = false
    private var reconnectDelay = 1.0
    private var reconnecting = false

    init(
        client: MQTTClient, loop: EventLoop, filters: [String], qos: Int, subscriptionOptions: SubscriptionOptions,
        properties: ParsedProperties, renderer: MessageRenderer, settings: SubscribeSettings
    ) {
        self.client = client
        self.loop = loop
        self.filters = filters
        self.qos = qos
        self.subscriptionOptions = subscriptionOptions
        self.properties = properties
        self.renderer = renderer
        self.settings = settings
        acks = Acknowledgements(client: client, output: output, limit: settings.count, tracksQoS2: qos == 2)
    }

    func run() throws {
        client.onConnect = { [unowned self] _ in
            hasConnected = true
            subscribeNow()
        }
        client.onSubscribe = { [unowned self] _, granted in subscriptionAcknowledged(granted) }
        client.onUnsubscribe = { [unowned self] _ in
            unsubscribePending = false
            if settings.exitAfterSubscribe { finish() }
        }
        client.onMessage = { [unowned self] message in received(message) }
        client.onPublishComplete = { [unowned self] mid, reason in
            if let publishCompleted, publishCompleted(mid, reason) { return }
            acks.removalAcknowledged()
            if finished && acks.removalsInFlight == 0 { client.disconnect(properties: properties.disconnect) }
        }
        client.onClose = { [unowned self] reason in connectionClosed(reason) }
        loop.beforeWaiting = { [unowned self] in
            if !acks.batchEnded() { abortUnwritable() }
        }

        let deadline = settings.timeout.map { MonotonicClock.after(seconds: $0) } ?? .max
        try ClientSession.connect(client, on: loop)

        let stop = loop.run(deadline: deadline) { [unowned self] in
            if failure != nil || output.broken { return true }
            if finished { return client.state == .closed }
            return client.state == .closed && !reconnecting
        }
        stopping = true
        if let outputFailure = outputFailure() {
            endConnection(grace: false)
            throw outputFailure
        }
        switch stop {
        case .signal(let sig):
            endConnection(grace: true)
            throw outputFailure() ?? CommandFailure(ExitStatus(signal: sig), lostQoS2Text(prefix: "stopped"))
        case .deadline:
            endConnection(grace: true)
            if let outputFailure = outputFailure() { throw outputFailure }
            if finished { return }
            let count = acks.printed
            if let timeoutMessage { throw CommandFailure(.timeout, timeoutMessage(count) + lostQoS2Text(prefix: "")) }
            throw CommandFailure(
                .timeout,
                "timed out after \(formatSeconds(settings.timeout ?? 0)) s (-W) with \(count) message\(count == 1 ? "" : "s") received"
                    + lostQoS2Text(prefix: ""))
        case .finished:
            break
        }
        if let failure {
            endConnection(grace: false)
            throw failure
        }
        if finished { return }
        let lost = ClientSession.failure(for: client)
        throw CommandFailure(lost.status, lost.message + lostQoS2Text(prefix: ""))
    }

    private func subscribeNow() {
        do {
            try client.subscribe(filters, qos: qos, options: subscriptionOptions, properties: properties.subscribe)
            if !settings.unsubscribe.isEmpty {
                unsubscribePending = true
                try client.unsubscribe(settings.unsubscribe, properties: properties.unsubscribe)
            }
        } catch {
            failure = CommandFailure(error)
        }
    }

    private func subscriptionAcknowledged(_ granted: [Int32]) {
        reconnectDelay = 1
        for (i, code) in granted.enumerated() where code >= 0x80 {
            let filter = i < filters.count ? filters[i] : filters.joined(separator: ", ")
            let reason = client.options.protocolVersion == .v5 ? ReasonCode.describe(Int(code)) : "failure (0x80)"
            failure = CommandFailure(
                .subscriptionRefused, "the broker refused the subscription to '\(filter)': \(reason)")
            return
        }
        if settings.exitAfterSubscribe && !unsubscribePending { finish() }
        onSubscribed?()
    }

    private func received(_ message: ReceivedMessage) {
        // Not printed, so never acknowledged: the queue is held once we stop.
        guard !finished else { return }
        if stopping && !(message.qos == 2 && acks.isCommitted(message.mid)) { return }
        if output.broken {
            arrivedAfterOutputFailed += 1
            if message.qos != 1 { arrivedAfterOutputFailedGone += 1 }
            return
        }
        for filter in settings.filterOut where Topic.matches(filter: filter, topic: message.topic) {
            return
        }
        if let accepts, !accepts(message) { return }
        if settings.ignoreRetained && message.retain { return }
        if settings.retainedOnly && !message.retain {
            finish()
            return
        }
        guard acks.mayPrint(qos: message.qos, mid: message.mid) else { return }
        if settings.removeRetained && message.retain && !message.payload.isEmpty {
            do {
                try client.publish(
                    topic: message.topicString, payload: UnsafeRawBufferPointer(start: nil, count: 0),
                    qos: 1, retain: true)
                acks.didQueueRemoval(topic: message.topicString)
            } catch {
                failure = CommandFailure(error)
                return
            }
        }
        if let chance = settings.randomFilter, !chance.admits() {
            // Dropped by --random-filter: handed over all the same (it counts for -C, as in mosquitto_sub).
            acks.didPrint(qos: message.qos, mid: message.mid)
            if let count = settings.count, acks.printed >= count { finish() }
            return
        }
        willPrint?(message)
        renderer.render(message, into: output)
        acks.didPrint(qos: message.qos, mid: message.mid)
        if let count = settings.count, acks.printed >= count { finish() }
    }

    /// Stops taking messages: the message just printed is the last one
    /// acknowledged, so with -C N exactly N leave the broker's queue and a
    /// persistent session keeps the rest. Removals (--remove-retained) in flight
    /// get their acknowledgement first (at most 5 s).
    private func finish() {
        guard !finished else { return }
        finished = true
        acks.stop()
        guard acks.release() else {
            abortUnwritable()
            return
        }
        if output.broken { return }  // reported as the output failure
        if acks.removalsInFlight == 0 {
            client.disconnect(properties: properties.disconnect)
        } else {
            loop.schedule(after: 5) { [unowned self] in client.disconnect(properties: properties.disconnect) }
        }
    }

    /// Ends the connection on purpose. With `grace`, QoS 2 messages already
    /// acknowledged to the broker (PUBREC) get 2 s for their PUBREL: they are
    /// ours and get printed rather than lost. Then the acknowledgements of what
    /// was written and DISCONNECT; nothing else of libmosquitto's queue goes.
    private func endConnection(grace: Bool) {
        guard client.state == .connected else { return }
        acks.stop()
        if grace && !acks.committed.isEmpty && !output.broken {
            _ = loop.run(deadline: MonotonicClock.after(seconds: 2)) { [unowned self] in
                acks.committed.isEmpty || client.state == .closed || output.broken
            }
        }
        guard client.state == .connected else { return }
        guard acks.release() else {
            abortUnwritable()
            return
        }
        ClientSession.disconnect(client, on: loop, properties: properties.disconnect)
    }

    /// Acknowledgements could not be written around libmosquitto's queue (its
    /// last packet is half-written and the socket takes nothing): end abruptly.
    /// Nothing unacknowledged is lost (the broker sends it again, so messages
    /// printed may come twice), and the exit status says so.
    private func abortUnwritable() {
        let error = MQTTError(
            .connectionLost,
            "the connection to \(client.options.endpoint) stopped taking data; the last acknowledgements could not be sent (the broker will send those messages again)"
        )
        if failure == nil { failure = CommandFailure(error) }
        client.abort(error)
    }

    private func connectionClosed(_ reason: CloseReason) {
        // Only a connection that worked and went away on its own is worth another try.
        guard hasConnected, settings.reconnect, !finished, !stopping, failure == nil, !output.broken else { return }
        switch reason {
        case .requested:
            return
        case .failed(let error)
        where error.kind == .notAuthorized || error.kind == .refused || error.kind == .interrupted:
            // A refusal will not go away by retrying, and a signal means stop.
            reconnecting = false
            return
        default:
            break
        }
        reconnecting = true
        let delay = reconnectDelay
        reconnectDelay = min(reconnectDelay * 2, 30)
        Diagnostics.warning("\(ClientSession.failure(for: client).message); reconnecting in \(formatSeconds(delay)) s")
        loop.schedule(after: delay) { [unowned self] in
            acks.reconnected()
            // On failure the client closes again and this function schedules the next try.
            if (try? client.reconnect()) != nil { reconnecting = false }
        }
    }

    /// The failure to report when stdout could not be written; nil if it could.
    private func outputFailure() -> CommandFailure? {
        guard output.broken else { return nil }
        if output.closed {
            // The reader went away (`| head -1`): quiet, as a tool killed by SIGPIPE.
            return CommandFailure(.outputClosed, "")
        }
        let reason = StandardStreams.describe(errno: output.failure ?? EIO, fd: 1)
        let count = acks.unwritten + arrivedAfterOutputFailed
        let gone = acks.unwrittenAndGone + arrivedAfterOutputFailedGone
        var text = "cannot write to stdout: \(reason)"
        if count > 0 {
            text += "; \(count) message\(count == 1 ? " was" : "s were") received and not written"
            if gone == 0 {
                text += ", and not acknowledged (a persistent session keeps \(count == 1 ? "it" : "them"))"
            } else if gone < count {
                text +=
                    ": \(count - gone) not acknowledged (a persistent session keeps them), \(gone) at QoS 0 or 2 lost"
            } else {
                text += " and \(count == 1 ? "is" : "are") lost (QoS 0 or 2)"
            }
        } else {
            text += "; every message received before was written"
        }
        return CommandFailure(.failure, text + lostQoS2Text(prefix: ""))
    }

    /// "; 2 QoS 2 messages ... are lost", when the broker counts messages as
    /// delivered (PUBREC went out) that libmosquitto never handed over.
    private func lostQoS2Text(prefix: String) -> String {
        let n = acks.committed.count
        guard n > 0 else { return "" }
        let text =
            "\(n) QoS 2 message\(n == 1 ? "" : "s") acknowledged to the broker (PUBREC) but not yet released by it (PUBREL) \(n == 1 ? "is" : "are") lost"
        return prefix.isEmpty ? "; " + text : "\(prefix): " + text
    }
}
