import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

struct Subscribe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sub",
        _superCommandName: "mqttctl",  // when parsed alone: MQTTCtl.parseSubcommand
        abstract: "Subscribe and print messages (options as mosquitto_sub).",
        discussion: """
            Prints each message's payload on its own line (-v: topic and payload; -F: a \
            format; --json: one JSON object per line). Output is flushed as messages arrive. \
            When the broker goes away the command exits with status 7, unless --reconnect is \
            given (it retries a connection that had worked; a first connect that fails is an \
            error).

            Nothing lost: a message is acknowledged only after its output was written (write(2) \
            took it), so a persistent session (-c -i ID) keeps every QoS 1 message that was not. \
            When writing fails (a full disk, a closed stdout) the command ends with status 1 \
            and says how many messages were received and not written; -C and -W never count \
            them. When the reader of a pipe goes away (| head -1) it ends quietly with status \
            141, as a tool killed by SIGPIPE; what was not written was not acknowledged (bytes \
            still in the pipe when its reader exits go with the pipe).

            QoS 2: libmosquitto acknowledges receipt (PUBREC) before it hands a QoS 2 message \
            over (at PUBREL), and from then on the broker does not send it again. A QoS 2 \
            message whose output fails, or that is between PUBREC and PUBREL when the \
            connection is lost, is therefore lost, and the command says how many. SIGINT, \
            SIGTERM and -W wait up to 2 s for those releases and print what they bring, and \
            no QoS 2 message is acknowledged that -C would not print.

            -F FORMAT prints exactly as mosquitto_sub -F: %t topic, %p payload, %q QoS, %r retain, \
            %l payload length, %m message id, %x/%X payload in hex, %j/%J JSON, %I ISO-8601 time, \
            %U Unix time with nanoseconds, %A %C %D %E %F %P %R %S MQTT 5 properties, %% a percent \
            sign, with %[-][0][width][.precision]; @ followed by a strftime(3) letter (local time), \
            @N nanoseconds, @@ an at sign; \\n \\t \\r \\e \\a \\v \\0 \\\\ escapes. A newline \
            follows each message unless -N.

            --json prints {"topic", "payload" (with "encoding":"base64" when the payload is not \
            UTF-8), "qos", "retain", "mid", "received_at" (UTC, milliseconds), "properties" (MQTT 5)}.

            -C N hands exactly N messages over: at QoS 1 and 2 (MQTT 3.1.1 and 5) nothing \
            after the N-th is acknowledged, so a persistent session (-c) keeps the rest for the \
            next run.

            Examples:
              mqttctl sub -t 'sensors/#' -v
              mqttctl sub -t jobs/done -C 1 -W 30      # wait at most 30 s for one message
              mqttctl sub -t 'app/#' --json | jq .payload
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Connection") var transport: TransportOptions
    @OptionGroup(title: "Connection") var keepAlive: KeepAliveOption
    @OptionGroup(title: "Will") var will: WillOptions
    @OptionGroup(title: "MQTT 5 properties") var properties: PropertyOptions

    @Option(
        name: [.short, .customLong("topic")], parsing: .unconditionalSingleValue,
        help: "Topic filter to subscribe to (repeatable).")
    var topics: [String] = []

    @Option(
        name: [.customShort("T"), .customLong("filter-out")], parsing: .unconditionalSingleValue,
        help: "Do not print messages whose topic matches this filter (repeatable).")
    var filterOut: [String] = []

    @Option(name: [.short, .long], parsing: .unconditional, help: "Maximum QoS of the subscription: 0, 1 or 2.")
    var qos: Int = 0

    @Option(
        name: [.customShort("C"), .customLong("count")], parsing: .unconditional,
        help: "Exit after printing this many messages.")
    var count: Int?

    @Option(
        name: [.customShort("W"), .customLong("timeout")],
        parsing: .unconditional,
        help: ArgumentHelp("Exit after this many seconds (status 27, as mosquitto_sub -W).", valueName: "seconds"))
    var timeout: Double?

    @Flag(
        name: [.customShort("R"), .customLong("ignore-retained")],
        help: "Do not print stale (retained) messages. MQTT 5: also asks the broker not to send them.")
    var ignoreRetained = false

    @Flag(
        name: .customLong("retained-only"),
        help: "Print only retained messages; exit at the first message that is not retained.")
    var retainedOnly = false

    @Flag(
        name: [.customShort("E"), .customLong("exit-after-subscribe")],
        help: "Exit once the subscription is acknowledged.")
    var exitAfterSubscribe = false

    @Option(
        name: [.customShort("U"), .customLong("unsubscribe")], parsing: .unconditionalSingleValue,
        help: "Topic filter to unsubscribe from after subscribing (repeatable).")
    var unsubscribe: [String] = []

    @Flag(
        name: .customLong("remove-retained"),
        help: "Clear each retained message received (publish an empty retained message to its topic).")
    var removeRetained = false

    /// -v, -N, -F, --pretty, --json.
    @OptionGroup var output: OutputOptions

    @Option(
        name: .customLong("random-filter"), parsing: .unconditional,
        help: ArgumentHelp(
            "Print only this percentage of the messages, chosen at random (0.1 to 100); the others still count for -C.",
            valueName: "chance"),
        transform: Chance.parse)
    var randomFilter: Chance?

    @Option(
        name: [.customShort("M"), .customLong("max-inflight")],
        parsing: .unconditional,
        help: ArgumentHelp("QoS 1/2 messages sent (--remove-retained) kept in flight at once.", valueName: "count"))
    var maxInflight: Int = 20

    @Flag(name: .customLong("no-local"), help: "MQTT 5: do not receive our own publications.")
    var noLocal = false

    @Flag(name: .customLong("retain-as-published"), help: "MQTT 5: keep the retain flag as the publisher set it.")
    var retainAsPublished = false

    @Option(
        name: .customLong("retain-handling"),
        parsing: .unconditional,
        help: "MQTT 5: 0 send retained messages on subscribe, 1 only for a new subscription, 2 never.")
    var retainHandling: Int?

    @Flag(
        name: .customLong("reconnect"),
        help: "When the connection is lost, reconnect (backing off from 1 s to 30 s) instead of exiting.")
    var reconnect = false

    func validate() throws {
        if !(0...2).contains(qos) {
            throw ValidationError("-q \(qos): QoS must be 0, 1 or 2")
        }
        for filter in topics + filterOut + unsubscribe {
            if let problem = Topic.problemWithFilter(filter) {
                throw ValidationError("invalid topic filter: \(problem)")
            }
        }
        if let count, count < 1 {
            throw ValidationError("invalid -C \(count): use 1 or more (use -E to exit right after subscribing)")
        }
        if let timeout { try Seconds.check(timeout, option: "-W", maximum: Seconds.oneYear) }
        if let retainHandling, !(0...2).contains(retainHandling) {
            throw ValidationError("invalid --retain-handling \(retainHandling): use 0, 1 or 2")
        }
        if ignoreRetained && retainedOnly {
            throw ValidationError("-R and --retained-only contradict each other")
        }
        if !(1...65535).contains(maxInflight) {
            throw ValidationError("invalid -M \(maxInflight): use 1 to 65535")
        }
    }

    private var needsV5: Bool {
        noLocal || retainAsPublished || retainHandling != nil
    }

    func run() throws {
        let parsed = try properties.parsed()
        try parsed.requireOnly([.connect, .subscribe, .unsubscribe, .disconnect, .will], in: "sub")
        let version = try connection.resolvedProtocol(
            needsV5: !parsed.isEmpty || will.needsV5 || connection.sessionExpiry != nil || needsV5)
        var (options, urlTopic) = try connection.resolveConnection(
            transport: transport, keepAlive: keepAlive.keepAlive, protocolVersion: version, will: will, properties: parsed)
        options.maxInflight = maxInflight
        if version == .v5 && parsed.connect.first(MQTTProperties.receiveMaximum) == nil {
            // libmosquitto announces a Receive Maximum of 20 and drops the connection
            // (protocol error) on a 21st QoS 2 message in flight; mosquitto 2.0.11 sends
            // more than that when an acknowledgement frees a slot with messages queued,
            // and the QoS 2 messages already acknowledged (PUBREC) would be lost. The
            // broker's own limit (max_inflight_messages) still applies.
            options.receiveMaximum = 65535
        }
        var filters = topics
        if let urlTopic {
            if let problem = Topic.problemWithFilter(urlTopic) {
                throw CommandFailure.usage("invalid topic filter in -L: \(problem)")
            }
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

        let renderer = try output.renderer()

        let loop = EventLoop()
        let client = try ClientSession.makeClient(options, debug: connection.debug)
        let job = SubscribeJob(
            client: client, loop: loop, filters: filters, qos: qos,
            subscriptionOptions: subscriptionOptions, properties: parsed,
            renderer: renderer, settings: settings)
        try job.run()
    }
}

extension Subscribe {
    /// What the job is told to do, taken from the options once.
    var settings: SubscribeSettings {
        SubscribeSettings(
            count: count, timeout: timeout, filterOut: filterOut, ignoreRetained: ignoreRetained,
            retainedOnly: retainedOnly, removeRetained: removeRetained,
            exitAfterSubscribe: exitAfterSubscribe, unsubscribe: unsubscribe, reconnect: reconnect,
            randomFilter: randomFilter)
    }
}

extension Subscribe {
    /// The defaulted option groups it includes (Defaults.declarations).
    static let defaultOwners: Defaults.Owners = [.connection, .transport, .keepAlive]
}
