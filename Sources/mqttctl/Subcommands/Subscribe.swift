import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

struct Subscribe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sub",
        abstract: "Subscribe and print messages (options as mosquitto_sub).",
        discussion: """
            Prints each message's payload on its own line (-v: topic and payload; -F: a \
            format; --json: one JSON object per line). Output is flushed as messages arrive; \
            a closed pipe ends the command quietly with status 0. When the broker goes away \
            the command exits with status 7, unless --reconnect is given.

            -F FORMAT prints exactly as mosquitto_sub -F: %t topic, %p payload, %q QoS, %r retain, \
            %l payload length, %m message id, %x/%X payload in hex, %j/%J JSON, %I ISO-8601 time, \
            %U Unix time with nanoseconds, %A %C %D %E %F %P %R %S MQTT 5 properties, %% a percent \
            sign, with %[-][0][width][.precision]; @ followed by a strftime(3) letter (local time), \
            @N nanoseconds, @@ an at sign; \\n \\t \\r \\e \\a \\v \\0 \\\\ escapes. A newline \
            follows each message unless -N.

            --json prints {"topic", "payload" (with "encoding":"base64" when the payload is not \
            UTF-8), "qos", "retain", "mid", "received_at" (UTC, milliseconds), "properties" (MQTT 5)}.

            -C N hands exactly N messages over: at QoS 1 and 2 nothing after the N-th is \
            acknowledged, so a persistent session (-c) keeps the rest for the next run. (With \
            MQTT 3.1.1 at QoS 2, libmosquitto acknowledges messages in flight beyond the N-th \
            before they can be printed; use -V 5, where mqttctl asks the broker for one \
            message in flight at a time.)

            Examples:
              mqttctl sub -t 'sensors/#' -v
              mqttctl sub -t jobs/done -C 1 -W 30      # wait at most 30 s for one message
              mqttctl sub -t 'app/#' --json | jq .payload
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Connection") var keepAlive: KeepAliveOption
    @OptionGroup(title: "Will") var will: WillOptions
    @OptionGroup(title: "MQTT 5 properties") var properties: PropertyOptions

    @Option(name: [.short, .customLong("topic")], help: "Topic filter to subscribe to (repeatable).")
    var topics: [String] = []

    @Option(name: [.customShort("T"), .customLong("filter-out")], help: "Do not print messages whose topic matches this filter (repeatable).")
    var filterOut: [String] = []

    @Option(name: [.short, .long], help: "Maximum QoS of the subscription: 0, 1 or 2.")
    var qos: Int = 0

    @Option(name: [.customShort("C"), .customLong("count")], help: "Exit after printing this many messages.")
    var count: Int?

    @Option(name: [.customShort("W"), .customLong("timeout")],
            help: ArgumentHelp("Exit after this many seconds (status 27, as mosquitto_sub -W).", valueName: "seconds"))
    var timeout: Double?

    @Flag(name: [.customShort("R"), .customLong("ignore-retained")],
          help: "Do not print stale (retained) messages. MQTT 5: also asks the broker not to send them.")
    var ignoreRetained = false

    @Flag(name: .customLong("retained-only"), help: "Print only retained messages; exit at the first message that is not retained.")
    var retainedOnly = false

    @Flag(name: [.customShort("E"), .customLong("exit-after-subscribe")], help: "Exit once the subscription is acknowledged.")
    var exitAfterSubscribe = false

    @Option(name: [.customShort("U"), .customLong("unsubscribe")], help: "Topic filter to unsubscribe from after subscribing (repeatable).")
    var unsubscribe: [String] = []

    @Flag(name: .customLong("remove-retained"), help: "Clear each retained message received (publish an empty retained message to its topic).")
    var removeRetained = false

    @Flag(name: [.short, .long], help: "Print the topic before the payload.")
    var verbose = false

    @Flag(name: [.customShort("N"), .customLong("no-eol")], help: "Do not print a newline after each payload.")
    var noEndOfLine = false

    @Option(name: [.customShort("F"), .customLong("format")], help: "Output format (see below); overrides -v.")
    var format: String?

    @Flag(name: .customLong("json"), help: "Print one JSON object per message and line.")
    var json = false

    @Flag(name: .customLong("no-local"), help: "MQTT 5: do not receive our own publications.")
    var noLocal = false

    @Flag(name: .customLong("retain-as-published"), help: "MQTT 5: keep the retain flag as the publisher set it.")
    var retainAsPublished = false

    @Option(name: .customLong("retain-handling"),
            help: "MQTT 5: 0 send retained messages on subscribe, 1 only for a new subscription, 2 never.")
    var retainHandling: Int?

    @Flag(name: .customLong("reconnect"), help: "When the connection is lost, reconnect (backing off from 1 s to 30 s) instead of exiting.")
    var reconnect = false

    func validate() throws {
        if !(0...2).contains(qos) {
            throw ValidationError("invalid QoS \(qos): use 0, 1 or 2")
        }
        for filter in topics + filterOut + unsubscribe {
            if let problem = Topic.problemWithFilter(filter) {
                throw ValidationError("invalid topic filter: \(problem)")
            }
        }
        if let count, count < 1 {
            throw ValidationError("invalid -C \(count): use 1 or more (use -E to exit right after subscribing)")
        }
        if let timeout, !(timeout > 0) || timeout > 31_536_000 {
            throw ValidationError("invalid -W \(timeout): use a number of seconds above 0")
        }
        if let retainHandling, !(0...2).contains(retainHandling) {
            throw ValidationError("invalid --retain-handling \(retainHandling): use 0, 1 or 2")
        }
        if ignoreRetained && retainedOnly {
            throw ValidationError("-R and --retained-only contradict each other")
        }
        if json && format != nil {
            throw ValidationError("--json and -F cannot be used together")
        }
        if let format { _ = try FormatRenderer(format: format) }
    }

    private var needsV5: Bool {
        noLocal || retainAsPublished || retainHandling != nil
    }

    func run() throws {
        let parsed = try properties.parsed()
        try parsed.requireOnly([.connect, .subscribe, .unsubscribe, .disconnect, .will], in: "sub")
        let version = try connection.resolvedProtocol(
            needsV5: !parsed.isEmpty || will.needsV5 || connection.sessionExpiry != nil || needsV5)
        var (options, urlTopic) = try connection.makeConnectOptions(
            keepAlive: keepAlive.keepAlive, protocolVersion: version, will: will, properties: parsed)
        if count != nil && qos == 2 && version == .v5 {
            // libmosquitto sends PUBREC as soon as a QoS 2 message arrives but hands it
            // over only at PUBREL; a message PUBREC'd after the N-th would be the
            // broker's no longer and never printed. One in flight at a time prevents that.
            options.receiveMaximum = 1
        }
        var filters = topics
        if let urlTopic {
            if let problem = Topic.problemWithFilter(urlTopic) { throw CommandFailure.usage("invalid topic filter in -L: \(problem)") }
            filters.append(urlTopic)
        }
        if filters.isEmpty {
            throw CommandFailure.usage("no topic given: use -t FILTER (repeatable), or a topic in the -L URL")
        }

        var subscriptionOptions: SubscriptionOptions = []
        if noLocal { subscriptionOptions.insert(.noLocal) }
        if retainAsPublished { subscriptionOptions.insert(.retainAsPublished) }
        switch retainHandling ?? (ignoreRetained && version == .v5 ? 2 : 0) {
        case 1: subscriptionOptions.insert(.sendRetainedIfNew)
        case 2: subscriptionOptions.insert(.sendRetainedNever)
        default: break
        }

        let renderer: MessageRenderer
        if json {
            renderer = JSONRenderer()
        } else if let format {
            renderer = try FormatRenderer(format: format, endOfLine: !noEndOfLine)
        } else {
            renderer = PlainRenderer(verbose: verbose, endOfLine: !noEndOfLine)
        }

        let loop = EventLoop()
        let client = try ClientSession.makeClient(options, debug: connection.debug)
        let job = SubscribeJob(client: client, loop: loop, filters: filters, qos: qos,
                               subscriptionOptions: subscriptionOptions, properties: parsed,
                               renderer: renderer, settings: self)
        try job.run()
    }
}

/// One run of `sub`: subscribes on every CONNACK (so a reconnect restores the
/// subscriptions), prints messages, and decides when and how to stop.
final class SubscribeJob {
    let client: MQTTClient
    let loop: EventLoop
    let filters: [String]
    let qos: Int
    let subscriptionOptions: SubscriptionOptions
    let properties: ParsedProperties
    let renderer: MessageRenderer
    let settings: Subscribe
    let output = OutputBuffer()

    private var printed = 0
    /// We decided to stop (count reached, -E, --retained-only, closed pipe).
    private var finished = false
    private var failure: CommandFailure?
    private var subscribed = false
    private var unsubscribePending = false
    private var pendingRemovals = 0
    private var reconnectDelay = 1.0
    private var reconnecting = false

    init(client: MQTTClient, loop: EventLoop, filters: [String], qos: Int, subscriptionOptions: SubscriptionOptions,
         properties: ParsedProperties, renderer: MessageRenderer, settings: Subscribe) {
        self.client = client
        self.loop = loop
        self.filters = filters
        self.qos = qos
        self.subscriptionOptions = subscriptionOptions
        self.properties = properties
        self.renderer = renderer
        self.settings = settings
    }

    func run() throws {
        client.onConnect = { [unowned self] _ in subscribeNow() }
        client.onSubscribe = { [unowned self] _, granted in subscriptionAcknowledged(granted) }
        client.onUnsubscribe = { [unowned self] _ in
            unsubscribePending = false
            if settings.exitAfterSubscribe { finish() }
        }
        client.onMessage = { [unowned self] message in received(message) }
        client.onPublishComplete = { [unowned self] _, _ in
            pendingRemovals -= 1
            if finished && pendingRemovals == 0 { client.disconnect(properties: properties.disconnect) }
        }
        client.onClose = { [unowned self] reason in connectionClosed(reason) }
        loop.beforeWaiting = { [unowned self] in output.flush() }

        let deadline = settings.timeout.map { MonotonicClock.after(seconds: $0) } ?? .max
        try ClientSession.connect(client, on: loop)

        let stop = loop.run(deadline: deadline) { [unowned self] in
            if failure != nil { return true }
            if finished { return client.state == .closed }
            return client.state == .closed && !reconnecting
        }
        output.flush()

        switch stop {
        case .signal(let sig):
            ClientSession.disconnect(client, on: loop, properties: properties.disconnect)
            throw CommandFailure(ExitStatus(signal: sig), "")
        case .deadline:
            ClientSession.disconnect(client, on: loop, properties: properties.disconnect)
            if finished { return }
            throw CommandFailure(.timeout, "timed out after \(formatSeconds(settings.timeout ?? 0)) s (-W) with \(printed) message\(printed == 1 ? "" : "s") received")
        case .finished:
            break
        }
        if let failure {
            ClientSession.disconnect(client, on: loop, properties: properties.disconnect)
            throw failure
        }
        if finished { return }
        throw ClientSession.failure(for: client)
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
            failure = CommandFailure(.subscriptionRefused, "the broker refused the subscription to '\(filter)': \(reason)")
            return
        }
        subscribed = true
        if settings.exitAfterSubscribe && !unsubscribePending { finish() }
    }

    private func received(_ message: ReceivedMessage) {
        guard !finished else { return }
        for filter in settings.filterOut where Topic.matches(filter: filter, topic: message.topic) {
            return
        }
        if settings.ignoreRetained && message.retain { return }
        if settings.retainedOnly && !message.retain {
            finish(insideMessage: true)
            return
        }
        if settings.removeRetained && message.retain && !message.payload.isEmpty {
            do {
                try client.publish(topic: message.topicString, payload: UnsafeRawBufferPointer(start: nil, count: 0),
                                   qos: 1, retain: true)
                pendingRemovals += 1
            } catch {
                failure = CommandFailure(error)
                return
            }
        }
        renderer.render(message, into: output)
        printed += 1
        if output.closed {
            finish(insideMessage: true)
        } else if let failed = output.failure {
            failure = CommandFailure(.failure, "cannot write to stdout: \(String(cString: strerror(failed)))")
        } else if let count = settings.count, printed >= count {
            finish(insideMessage: true)
        }
    }

    /// Stops taking messages. Called from inside the message callback, it makes
    /// that message the last one acknowledged (`stopAfterThisMessage`): with -C N
    /// exactly N messages leave the broker's queue, the rest stay in a persistent
    /// session. With --remove-retained the removals' acknowledgements are awaited first.
    private func finish(insideMessage: Bool = false) {
        guard !finished else { return }
        finished = true
        output.flush()
        guard pendingRemovals == 0 else { return }  // onPublishComplete disconnects
        if insideMessage {
            client.stopAfterThisMessage(disconnectProperties: properties.disconnect)
        } else {
            client.disconnect(properties: properties.disconnect)
        }
    }

    private func connectionClosed(_ reason: CloseReason) {
        guard !finished, settings.reconnect else { return }
        if case .failed(let error) = reason {
            // A refusal will not go away by retrying, and a signal means stop.
            if error.kind == .notAuthorized || error.kind == .refused || error.kind == .interrupted {
                reconnecting = false
                return
            }
        }
        reconnecting = true
        let delay = reconnectDelay
        reconnectDelay = min(reconnectDelay * 2, 30)
        Diagnostics.warning("\(ClientSession.failure(for: client).message); reconnecting in \(formatSeconds(delay)) s")
        loop.schedule(after: delay) { [unowned self] in
            // On failure the client closes again and this function schedules the next try.
            if (try? client.reconnect()) != nil { reconnecting = false }
        }
    }
}

extension Subscribe: DefaultsAccepting {
    static let defaultOwners: Set<Defaults.Owner> = [.connection,.keepAlive]
}
