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
    @OptionGroup(title: "Connection") var transport: TransportOptions
    @OptionGroup(title: "Connection") var keepAlive: KeepAliveOption
    @OptionGroup(title: "Will") var will: WillOptions
    @OptionGroup(title: "MQTT 5 properties") var properties: PropertyOptions

    @OptionGroup var options: PublishOptions

    func run() throws {
        try Publish.publish(
            options, connection: connection, transport: transport, keepAlive: keepAlive.keepAlive, will: will,
            properties: properties)
    }

    /// The publish itself, for `Publish` and for `QuickPublish`, which has no
    /// transport, will or property options (nil: none given).
    static func publish(
        _ options: PublishOptions, connection: ConnectionOptions, transport: TransportOptions?, keepAlive: Int,
        will: WillOptions?, properties: PropertyOptions?
    ) throws {
        let parsed = try properties?.parsed() ?? ParsedProperties()
        try parsed.requireOnly([.connect, .publish, .disconnect, .will], in: "pub")
        let version = try connection.resolvedProtocol(
            needsV5: !parsed.isEmpty || will?.needsV5 == true || connection.sessionExpiry != nil)
        var (settings, urlTopic) = try connection.resolveConnection(
            transport: transport, keepAlive: keepAlive, protocolVersion: version, will: will, properties: parsed)
        settings.maxInflight = options.maxInflight
        guard let topic = options.topic ?? urlTopic else {
            throw CommandFailure.usage("no topic given: use -t TOPIC (or a topic in the -L URL)")
        }
        if let problem = Topic.problemWithName(topic) {
            throw CommandFailure.usage("invalid topic: \(problem)")
        }

        // Load a fixed payload before connecting, so that bad input never costs a connection.
        let source: PublishJob.Source
        if options.stdinLine {
            try InputReading.requireStdin(for: "-l")
            var st = stat()
            if fstat(0, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                throw CommandFailure.usage("cannot read stdin: it is a directory")
            }
            source = .lines(LineReader(fd: 0))
        } else {
            let payload: Payload
            if let message = options.message {
                payload = Payload(Array(message.utf8))
            } else if let file = options.file {
                payload = try InputReading.readFile(file)
            } else if options.stdinFile {
                payload = try InputReading.readStdin()
                if payload.count == 0 {
                    throw CommandFailure.usage("stdin was empty; use -n to send an empty message")
                }
            } else {
                payload = Payload()
            }
            source = .fixed(payload, count: options.repeatCount, delay: options.repeatDelay)
        }

        let prepared: PreparedProperties?
        do {
            prepared = parsed.publish.isEmpty ? nil : try PreparedProperties(parsed.publish)
        } catch {
            throw CommandFailure(error)
        }

        let loop = EventLoop()
        let client = try ClientSession.makeClient(settings, debug: connection.debug)
        let job = PublishJob(
            client: client, loop: loop, topic: topic, qos: options.qos, retain: options.retain, properties: prepared,
            propertyValues: parsed.publish, source: source, window: options.maxInflight, ackTimeout: options.ackTimeout)
        try ClientSession.connect(client, on: loop)
        try job.run(disconnectProperties: parsed.disconnect)
    }
}

func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int(seconds)) : String(seconds)
}

extension Publish {
    /// The defaulted option groups it includes (Defaults.declarations).
    static let defaultOwners: Defaults.Owners = [.connection, .transport, .keepAlive]
}
