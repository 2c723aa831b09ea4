import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

/// `mqttctl rr`: MQTT 5 request/response, as mosquitto_rr: subscribe to the
/// response topic, publish the request with a Response Topic and Correlation
/// Data, print the response(s). The job is `sub`'s (`SubscribeJob`), so a
/// response is acknowledged only once it was written; rr adds the request and
/// the correlation check.
struct Request: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rr",
        _superCommandName: "mqttctl",  // when parsed alone: MQTTCtl.parseSubcommand
        abstract: "Publish a request and print the response (MQTT 5 request/response, options as mosquitto_rr).",
        discussion: """
            Subscribes to the response topic (-e), then publishes the request (-t, with exactly one \
            of -m, -f, -s or -n) with that Response Topic and Correlation Data, and prints the \
            response as sub prints messages (-v, -N, -F, --pretty, --json). MQTT 5 is the default \
            (-V 5); a broker that speaks only MQTT 3.1.1 is refused with status 4 and a line \
            saying so.

            The correlation data is generated (32 hex digits) unless -D publish correlation-data \
            gives it; only messages on the response topic that carry it are responses. Others \
            are ignored, counted, and reported in a warning at the end. --no-correlation (and -V \
            311, which has no properties) sends none and takes any message on the response topic, \
            as mosquitto_rr does. A responder copies the request's correlation data into its \
            response: mqttctl sub -V 5 -t req -F '%R %D %p' | while read -r topic id body; do \
            mqttctl pub -V 5 -t "$topic" -D publish correlation-data "$id" -m "re: $body"; done

            -C N waits for N responses (default 1); -W gives up after that many seconds with \
            status 27. --rtt prints each response's round-trip time on stderr; --json adds it as \
            "rtt_ms". A response is acknowledged only once it was written, as with sub; a request \
            the broker rejects (MQTT 5 PUBACK >= 0x80) ends with status 8.

            Examples:
              mqttctl rr -t service/time -e replies/me -m now
              mqttctl rr -t jobs/run -e jobs/status/42 -m start -C 3 -W 60 --json
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Connection") var transport: TransportOptions
    @OptionGroup(title: "Connection") var keepAlive: KeepAliveOption
    @OptionGroup(title: "Will") var will: WillOptions
    @OptionGroup(title: "MQTT 5 properties") var properties: PropertyOptions

    @Option(
        name: [.short, .long], parsing: .unconditional, help: "Topic to publish the request to (or the topic of -L).")
    var topic: String?

    @Option(
        name: [.customShort("e"), .customLong("response-topic")], parsing: .unconditional,
        help: "Response topic: subscribed to first, and sent as the request's Response Topic.")
    var responseTopic: String?

    @Option(name: [.short, .customLong("message")], parsing: .unconditional, help: "Request payload.")
    var message: String?

    @Option(
        name: [.short, .customLong("file")], parsing: .unconditional,
        help: ArgumentHelp("Send the content of a file as the request.", valueName: "path"))
    var file: String?

    @Flag(name: [.short, .customLong("stdin-file")], help: "Send all of stdin as the request.")
    var stdinFile = false

    @Flag(name: [.short, .customLong("null-message")], help: "Send an empty request.")
    var nullMessage = false

    @Option(
        name: [.short, .long], parsing: .unconditional, help: "QoS of the request and of the subscription: 0, 1 or 2.")
    var qos: Int = 0

    @Flag(name: [.short, .long], help: "Ask the broker to retain the request.")
    var retain = false

    @Option(
        name: [.customShort("C"), .customLong("count")], parsing: .unconditional,
        help: "Wait for this many responses (default 1).")
    var count: Int = 1

    @Option(
        name: [.customShort("W"), .customLong("timeout")],
        parsing: .unconditional,
        help: ArgumentHelp("Give up after this many seconds (status 27, as mosquitto_rr -W).", valueName: "seconds"))
    var timeout: Double?

    @Flag(
        name: [.customShort("R"), .customLong("ignore-retained")],
        help: "Take no retained message as a response (MQTT 5: the broker sends none).")
    var ignoreRetained = false

    @Flag(name: .customLong("retain-as-published"), help: "MQTT 5: keep the retain flag of responses as published.")
    var retainAsPublished = false

    /// -v, -N, -F, --pretty, --json: as sub prints messages.
    @OptionGroup var output: OutputOptions

    @Option(
        name: [.customShort("M"), .customLong("max-inflight")],
        parsing: .unconditional, help: ArgumentHelp("QoS 1/2 messages kept in flight at once.", valueName: "count"))
    var maxInflight: Int = 20

    @Flag(
        name: .customLong("no-correlation"),
        help: "Send no Correlation Data and take any message on the response topic (as mosquitto_rr).")
    var noCorrelation = false

    @Flag(
        name: .customLong("rtt"),
        help: "Print each response's round-trip time (request published to response received) on stderr.")
    var rtt = false

    func validate() throws {
        let sources = [message != nil, file != nil, stdinFile, nullMessage].filter { $0 }.count
        if sources == 0 {
            throw ValidationError("no request given: use one of -m MESSAGE, -f FILE, -s (stdin) or -n (empty)")
        }
        if sources > 1 {
            throw ValidationError("only one of -m, -f, -s and -n can be used")
        }
        if !(0...2).contains(qos) {
            throw ValidationError("-q \(qos): QoS must be 0, 1 or 2")
        }
        if let topic, let problem = Topic.problemWithName(topic) {
            throw ValidationError("invalid topic: \(problem)")
        }
        guard let responseTopic else {
            throw ValidationError("no response topic given: use -e TOPIC (the topic the responder answers on)")
        }
        if let problem = Topic.problemWithName(responseTopic) {
            throw ValidationError("invalid response topic (-e): \(problem)")
        }
        if count < 1 {
            throw ValidationError("invalid -C \(count): use 1 or more")
        }
        if let timeout { try Seconds.check(timeout, option: "-W", maximum: Seconds.oneYear) }
        if !(1...65535).contains(maxInflight) {
            throw ValidationError("invalid -M \(maxInflight): use 1 to 65535")
        }
    }

    func run() throws {
        var parsed = try properties.parsed()
        try parsed.requireOnly([.connect, .publish, .subscribe, .disconnect, .will], in: "rr")
        let version = try connection.resolvedProtocol(
            default: .v5, needsV5: !parsed.isEmpty || will.needsV5 || retainAsPublished)
        let responseTopic = responseTopic ?? ""
        var (options, urlTopic) = try connection.resolveConnection(
            transport: transport, keepAlive: keepAlive.keepAlive, protocolVersion: version, will: will, properties: parsed)
        options.maxInflight = maxInflight
        if version == .v5 && parsed.connect.first(MQTTProperties.receiveMaximum) == nil {
            options.receiveMaximum = 65535  // as sub (see Subscribe.run)
        }
        guard let topic = topic ?? urlTopic else {
            throw CommandFailure.usage("no request topic given: use -t TOPIC (or a topic in the -L URL)")
        }
        if let problem = Topic.problemWithName(topic) {
            throw CommandFailure.usage("invalid topic: \(problem)")
        }

        // The request's properties: Response Topic and Correlation Data (MQTT 5).
        var correlation: [UInt8]?
        if version == .v5 {
            if parsed.publish.first(MQTTProperties.responseTopic) != nil {
                throw CommandFailure.usage("-D publish response-topic: the response topic is -e")
            }
            var publish = parsed.publish
            publish.append(MQTTProperties.responseTopic, .string(responseTopic))
            if case .binary(let given)? = publish.first(MQTTProperties.correlationData) {
                correlation = noCorrelation ? nil : given
            } else if !noCorrelation {
                let generated = Array(Self.correlationID().utf8)
                publish.append(MQTTProperties.correlationData, .binary(generated))
                correlation = generated
            }
            parsed[.publish] = publish
        }

        let payload: Payload
        if let message {
            payload = Payload(Array(message.utf8))
        } else if let file {
            payload = try InputReading.readFile(file)
        } else if stdinFile {
            payload = try InputReading.readStdin()
            if payload.count == 0 {
                throw CommandFailure.usage("stdin was empty; use -n to send an empty request")
            }
        } else {
            payload = Payload()
        }
        let prepared: PreparedProperties?
        do {
            prepared = parsed.publish.isEmpty ? nil : try PreparedProperties(parsed.publish)
        } catch {
            throw CommandFailure(error)
        }

        var subscriptionOptions: SubscriptionOptions = []
        if retainAsPublished { subscriptionOptions.insert(.retainAsPublished) }
        if ignoreRetained && version == .v5 { subscriptionOptions.insert(.sendRetainedNever) }

        let exchange = Exchange(
            topic: topic, responseTopic: responseTopic, count: count, timeout: timeout,
            correlation: correlation, showRTT: rtt)
        let renderer = try output.renderer(json: {
            let jsonRenderer = JSONRenderer()
            jsonRenderer.trailer = { output in
                output.append(",\"rtt_ms\":" as StaticString)
                output.append(formatMilliseconds(exchange.lastRTT))
            }
            return jsonRenderer
        })

        let loop = EventLoop()
        let client = try ClientSession.makeClient(options, debug: connection.debug)
        var subscribeParsed = parsed
        subscribeParsed[.publish] = MQTTProperties()
        let job = SubscribeJob(
            client: client, loop: loop, filters: [responseTopic], qos: qos,
            subscriptionOptions: subscriptionOptions, properties: subscribeParsed,
            renderer: renderer,
            settings: SubscribeSettings(count: count, timeout: timeout, ignoreRetained: ignoreRetained))
        exchange.attach(to: job, client: client, payload: payload, qos: qos, retain: retain, properties: prepared)
        do {
            try job.run()
        } catch let failure as CommandFailure {
            exchange.reportIgnored()
            throw Self.explained(failure, client: client, version: version)
        }
        exchange.reportIgnored()
    }

    /// 32 random hex digits.
    static func correlationID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in HexText.padded(generator.next() as UInt64, width: 16) }.joined()
    }

    /// A refusal by a broker without MQTT 5 says what rr needs.
    static func explained(_ failure: CommandFailure, client: MQTTClient, version: ProtocolVersion) -> CommandFailure {
        guard version == .v5, case .failed(let error)? = client.closeReason else { return failure }
        switch error.cause {
        case .answeredAsMQTT311?, .connAckRefused(code: 0x84, _, _)?: break  // 0x84: Unsupported Protocol Version
        default: return failure
        }
        return CommandFailure(
            failure.status,
            failure.message
                + "; rr needs MQTT 5 for request/response (Response Topic, Correlation Data): with -V 311 it publishes the plain request and takes the first message on the response topic"
        )
    }
}

extension Request {
    /// The defaulted option groups it includes (Defaults.declarations).
    static let defaultOwners: Defaults.Owners = [.connection, .transport, .keepAlive]
}

/// One request and its responses: publishes once subscribed, checks the
/// correlation, times the round trip.
final class Exchange {
    let topic: String
    let responseTopic: String
    let count: Int
    let timeout: Double?
    let correlation: [UInt8]?
    let showRTT: Bool
    private(set) var requestMid: Int32?
    private var sentAt: UInt64 = 0
    private(set) var lastRTT: Double = 0
    private var responses = 0
    private var ignored = 0

    init(topic: String, responseTopic: String, count: Int, timeout: Double?, correlation: [UInt8]?, showRTT: Bool) {
        self.topic = topic
        self.responseTopic = responseTopic
        self.count = count
        self.timeout = timeout
        self.correlation = correlation
        self.showRTT = showRTT
    }

    func attach(
        to job: SubscribeJob, client: MQTTClient, payload: Payload, qos: Int, retain: Bool,
        properties: PreparedProperties?
    ) {
        job.onSubscribed = { [unowned self, unowned job] in
            guard requestMid == nil else { return }
            sentAt = MonotonicClock.now()
            let published: Result<Int32, MQTTError> = payload.withUnsafeBytes { bytes in
                do throws(MQTTError) {
                    return .success(
                        try client.publish(
                            topic: topic, payload: bytes, qos: qos, retain: retain, properties: properties))
                } catch {
                    return .failure(error)
                }
            }
            switch published {
            case .success(let mid):
                requestMid = mid
            case .failure(let error):
                job.fail(
                    CommandFailure(
                        error.kind == .connectionLost ? .connectionLost : .notAcknowledged,
                        "cannot publish the request to '\(topic)': \(ErrorText.line(for: error))"))
            }
        }
        job.accepts = { [unowned self] message in
            guard requestMid != nil, let correlation else { return requestMid != nil }
            if case .binary(let data)? = message.properties().first(MQTTProperties.correlationData), data == correlation
            {
                return true
            }
            ignored += 1
            return false
        }
        job.willPrint = { [unowned self] _ in
            responses += 1
            lastRTT = MonotonicClock.seconds(sentAt, MonotonicClock.now())
            if showRTT {
                Diagnostics.note(
                    "response \(responses) on '\(responseTopic)': \(formatMilliseconds(lastRTT)) ms after the request")
            }
        }
        job.publishCompleted = { [unowned self, unowned job] mid, reason in
            guard mid == requestMid else { return false }
            if reason >= 0x80 {
                job.fail(
                    CommandFailure(
                        .notAcknowledged,
                        "the broker rejected the request to '\(topic)': \(ReasonCode.describe(Int(reason)))"))
            }
            return true
        }
        job.timeoutMessage = { [unowned self] printed in
            let waited = formatSeconds(timeout ?? 0)
            if requestMid == nil { return "timed out after \(waited) s (-W) before the request was sent" }
            return
                "no\(printed == 0 ? "" : " more") response on '\(responseTopic)' within \(waited) s (-W): \(printed) of \(count) received"
        }
    }

    /// A warning for the messages on the response topic that were not responses.
    func reportIgnored() {
        guard ignored > 0 else { return }
        Diagnostics.warning(
            "\(ignored) message\(ignored == 1 ? "" : "s") on '\(responseTopic)' did not carry this request's correlation data and \(ignored == 1 ? "was" : "were") ignored (a responder must copy it; --no-correlation takes any message)"
        )
    }
}

/// "0.412": milliseconds with three decimals.
func formatMilliseconds(_ seconds: Double) -> String {
    let micro = Int((seconds * 1_000_000).rounded())
    let fraction = String(micro % 1000)
    return "\(micro / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
}
