import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

struct Publish: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pub",
        _superCommandName: "mqttctl",  // when parsed alone: MQTTCtl.parseSubcommand
        abstract: "Publish messages (options as mosquitto_pub).",
        discussion: """
            The message comes from exactly one of -m, -f, -s, -l or -n. At QoS 1 and 2 the \
            command succeeds only once the broker has acknowledged every message; otherwise it \
            exits with status 8 and says how many were not acknowledged, those never sent \
            included. Up to -M messages are kept in flight at once (MQTT 5: at most the \
            broker's Receive Maximum).

            A message (a file, all of stdin, a line) may be at most 268435455 bytes, MQTT's \
            largest payload, or what an MQTT 5 broker's Maximum Packet Size leaves of it on the \
            topic. A longer one is refused as soon as reading passes the limit, so memory stays \
            within it whatever the input; with -l the lines before it are sent (and \
            acknowledged) first. That, an unreadable or closed stdin, and a file that cannot be \
            read are usage errors: status 2.

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

    @Option(
        name: [.short, .customLong("file")], parsing: .unconditional,
        help: ArgumentHelp("Send the content of a file as the message.", valueName: "path"))
    var file: String?

    @Flag(name: [.short, .customLong("stdin-file")], help: "Send all of stdin as one message.")
    var stdinFile = false

    @Flag(
        name: [.customShort("l"), .customLong("stdin-line")],
        help: "Send each line of stdin as a message (the newline is not sent).")
    var stdinLine = false

    @Flag(name: [.short, .customLong("null-message")], help: "Send an empty message.")
    var nullMessage = false

    // The numbers below are optional, their defaults written in the help and
    // applied by the properties after them: for an Int or Double option with a
    // default value, swift-argument-parser describes the default at every parse
    // (five protocol-conformance scans, 0.8 M instructions; bench/README.md).
    @Option(
        name: [.customShort("q"), .customLong("qos")], parsing: .unconditional,
        help: ArgumentHelp("Quality of service: 0, 1 or 2 (default: 0).", valueName: "qos"))
    var givenQoS: Int?
    var qos: Int { givenQoS ?? 0 }

    @Flag(name: [.short, .long], help: "Ask the broker to retain the message.")
    var retain = false

    @Option(
        name: .customLong("repeat"), parsing: .unconditional,
        help: ArgumentHelp("Publish the message this many times (default: 1).", valueName: "count"))
    var givenRepeatCount: Int?
    var repeatCount: Int { givenRepeatCount ?? 1 }

    @Option(
        name: .customLong("repeat-delay"), parsing: .unconditional,
        help: ArgumentHelp("Seconds between repeated messages (fractions allowed; default: 0).", valueName: "seconds"))
    var givenRepeatDelay: Double?
    var repeatDelay: Double { givenRepeatDelay ?? 0 }

    @Option(
        name: [.customShort("M"), .customLong("max-inflight")],
        parsing: .unconditional,
        help: ArgumentHelp(
            "Messages kept in flight (sent, not yet acknowledged) at once (default: 20).", valueName: "count"))
    var givenMaxInflight: Int?
    var maxInflight: Int { givenMaxInflight ?? 20 }

    @Option(
        name: .customLong("ack-timeout"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "Give up when no acknowledgement arrives for this many seconds while messages are outstanding (default: 30).",
            valueName: "seconds"))
    var givenAckTimeout: Double?
    var ackTimeout: Double { givenAckTimeout ?? 30 }

    func validate() throws {
        let sources = [message != nil, file != nil, stdinFile, stdinLine, nullMessage].filter { $0 }.count
        if sources == 0 {
            throw ValidationError(
                "no message given: use one of -m MESSAGE, -f FILE, -s (stdin), -l (stdin lines) or -n (empty)")
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
        try Seconds.check(repeatDelay, option: "--repeat-delay", allowZero: true, maximum: Seconds.oneDay)
        if !(1...65535).contains(maxInflight) {
            throw ValidationError("invalid -M \(maxInflight): use 1 to 65535")
        }
        try Seconds.check(ackTimeout, option: "--ack-timeout", maximum: Seconds.oneYear)
    }

    func run() throws {
        let parsed = try properties.parsed()
        try parsed.requireOnly([.connect, .publish, .disconnect, .will], in: "pub")
        let version = try connection.resolvedProtocol(
            needsV5: !parsed.isEmpty || will.needsV5 || connection.sessionExpiry != nil)
        var (options, urlTopic) = try connection.resolveConnection(
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
            try InputReading.requireStdin(for: "-l")
            var st = stat()
            if fstat(0, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                throw CommandFailure.usage("cannot read stdin: it is a directory")
            }
            source = .lines(LineReader(fd: 0))
        } else {
            let payload: Payload
            if let message {
                payload = Payload(Array(message.utf8))
            } else if let file {
                payload = try InputReading.readFile(file)
            } else if stdinFile {
                payload = try InputReading.readStdin()
                if payload.count == 0 {
                    throw CommandFailure.usage("stdin was empty; use -n to send an empty message")
                }
            } else {
                payload = Payload()
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
        let job = PublishJob(
            client: client, loop: loop, topic: topic, qos: qos, retain: retain, properties: prepared,
            propertyValues: parsed.publish, source: source, window: maxInflight, ackTimeout: ackTimeout)
        try ClientSession.connect(client, on: loop)
        try job.run(disconnectProperties: parsed.disconnect)
    }
}

func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int(seconds)) : String(seconds)
}

extension Publish {
    /// The defaulted option groups it includes (Defaults.declarations).
    static let defaultOwners: Defaults.Owners = [.connection, .keepAlive]
}
