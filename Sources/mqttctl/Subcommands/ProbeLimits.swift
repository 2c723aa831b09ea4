import ArgumentParser
import Mosquitto

struct ProbeLimits: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits",
        abstract:
            "Measure what the broker supports and enforces: QoS, retained, wildcards, shared subscriptions, sizes, MQTT 5 options.",
        discussion: """
            For MQTT 3.1.1 and, when the broker accepts it, MQTT 5 (-V picks one), one check \
            after the other on connections of its own:

            FEATURES (present or absent): qos0, qos1, qos2 (round trips to its own subscription, \
            with the granted and the delivered QoS), retain (a new subscriber gets a retained \
            message), wildcards (+ and #), shared ($share/...), sys ($SYS/# answers within 2 s).
            LIMITS (measured): topic-length (the longest topic accepted for publish and subscribe, \
            binary search up to 65535 bytes), payload-size (the largest payload, up to \
            --max-payload, default 1 MiB), client-id-length (up to 65535 bytes), \
            client-id-characters (which of space / + # : - _ . é 😀 are refused).
            RULES (each with its clause; a broken MUST is a FAIL): client-id-23 ([MQTT-3.1.3-5]: 23 \
            alphanumeric characters must be accepted); retain-flag (3.1.1 [MQTT-3.3.1-9]) or \
            retain-as-published (5: [MQTT-3.3.1-12], [MQTT-3.3.1-13]); MQTT 5: no-local \
            ([MQTT-3.8.3-3]), retain-handling 0/1/2 ([MQTT-3.3.1-9..11]), \
            subscription-identifiers ([MQTT-3.3.4-3]), message-expiry ([MQTT-3.3.2-5], a retained \
            message with expiry 1 s is not delivered 2 s later), receive-maximum ([MQTT-3.3.4-9], \
            a client with Receive Maximum 2 that acknowledges nothing gets at most 2 QoS 1 \
            messages); and whether the limits the MQTT 5 CONNACK announces are enforced: a \
            PUBLISH with a Topic Alias over Topic Alias Maximum (topic-alias-enforced), above \
            Maximum QoS (maximum-qos-enforced) or over Maximum Packet Size \
            (packet-size-enforced), when the broker announces one, is written around \
            libmosquitto and the broker MUST close the connection ([MQTT-4.13.1-1]) and SHOULD \
            send DISCONNECT with the reason code first (0x94, 0x9B, 0x95). The MQTT 5 CONNACK (every property, with its default) is reported as \
            'mqttctl conn' reports it. A check that must see something not happen waits half a \
            second for it; every other step (a SUBACK, an acknowledgement, a message) waits at \
            most --max-wait (default 2 s). The whole run takes seconds on a local broker.

            Clean: every topic lives under --topic-prefix/<random>, and every retained message \
            the probe creates is removed again.

            --require FEATURE,... (ids as above, 'all' for every feature and rule) turns them \
            into pass/fail for CI: exit 10 when one is absent or broken in a probed version. \
            Without it the command reports and exits 0.

            JSON (--json): {"probe": "limits", "host", "port", "transport", "websocket_path", "results": [{"protocol", \
            "connack" (the 'conn' document's connack and properties), "checks": [{"id", "kind" \
            ("feature", "limit" or "rule"), "title", "available" (null when not checked), \
            "value" (limits), "detail", "findings"}]}], "skipped": [{"protocol", "reason"}], \
            "required": [...], "missing": [{"protocol", "id"}], "elapsed_s", "pass"}. --junit \
            FILE writes a test case per check and version.

            Exit status: 0 when every required feature is present and every required rule holds \
            (always without --require); 10 otherwise; 3 to 6 for connection failures (when no \
            version could be probed); 2 for usage errors; 130/143 on SIGINT/SIGTERM.

            Examples:
              mqttctl probe limits -h broker.example
              mqttctl probe limits -V 5 --require qos2,retain,shared,no-local --junit limits.xml
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Connection") var transport: TransportOptions
    @OptionGroup(title: "Probe") var probe: ProbeOptions

    @Option(
        name: .customLong("require"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "Features and rules that must be present (comma-separated ids, or 'all'): exit 10 when one is not.",
            valueName: "ids"))
    var require: String?

    @Option(
        name: .customLong("max-payload"), parsing: .unconditional,
        help: ArgumentHelp("Largest payload to try, in bytes (default: 1 MiB).", valueName: "bytes"))
    var maxPayload: Int = 1 << 20

    static var knownIDs: [String] {
        LimitsProbe.features + [
            "retain-flag", "client-id-23", "topic-alias-enforced", "maximum-qos-enforced", "packet-size-enforced",
            "topic-length", "payload-size", "client-id-length", "client-id-characters",
        ]
    }

    var required: [String] {
        guard let require else { return [] }
        if require == "all" {
            return Self.knownIDs.filter {
                !["topic-length", "payload-size", "client-id-length", "client-id-characters"].contains($0)
            }
        }
        return require.split(separator: ",").map { String($0) }
    }

    func validate() throws {
        if connection.disableCleanSession || connection.sessionExpiry != nil {
            throw ValidationError("'probe limits' uses clean sessions; -c and -x do not apply")
        }
        for id in required where !Self.knownIDs.contains(id) {
            throw ValidationError("unknown --require '\(id)': use \(Self.knownIDs.joined(separator: ", ")), or all")
        }
        if !(0...268_435_455).contains(maxPayload) {
            throw ValidationError("invalid --max-payload \(maxPayload): use 0 to 268435455 bytes")
        }
    }

    func run() throws {
        let started = MonotonicClock.now()
        let startedAt = WallClock.now()
        let explicit = connection.protocolVersion
        let versions = ProbeSetup.versions(explicit)
        let loop = EventLoop()
        let progress = Progress.forCommand(json: probe.json)
        let setups = try versions.map { version throws(CommandFailure) in
            try ProbeSetup(
                connection: connection, transport: transport, version: version, json: probe.json, idSuffix: nil, loop: loop,
                progress: progress)
        }
        let (usable, skipped) = try ProbeSetup.accepted(setups, explicit: explicit)

        let runID = RunID.make()
        var results: [LimitsReport.VersionResult] = []
        for (setup, _) in usable {
            progress.show("probe limits: MQTT \(setup.version)…")
            let limits = LimitsProbe(
                setup: setup, prefix: "\(probe.topicPrefix)/\(runID)/limits/\(setup.version == .v5 ? "5" : "3")",
                maxPayload: maxPayload, strict: probe.strict, stepTimeout: probe.maxWait ?? 2)
            do {
                let (ack, found) = try limits.run()
                results.append(.init(setup: setup, connAck: ack, checks: found))
            } catch {
                progress.clear()
                throw CommandFailure(ExitStatus(signal: error.signal), "")
            }
        }
        progress.clear()
        var report = LimitsReport(
            endpoint: setups.first?.context.endpoint ?? "", host: setups.first?.options.host ?? "",
            port: setups.first?.options.port ?? 0, results: results, skipped: skipped, required: required,
            elapsed: MonotonicClock.seconds(started, MonotonicClock.now()))
        report.transport = setups.first?.options.transportName ?? "tcp"
        report.webSocketPath = setups.first?.options.webSocketPath
        let output = OutputBuffer()
        output.append(probe.json ? report.json.serialized() + "\n" : report.text)
        try output.finish()
        if let path = probe.junit { try report.junit(startedAt: startedAt).write(to: path) }
        if !report.missing.isEmpty {
            throw CommandFailure(
                .verdictFailed,
                "probe limits: required but not there: "
                    + report.missing.map { "\($0.id) (MQTT \($0.version))" }.joined(separator: ", "))
        }
    }
}

extension ProbeLimits {
    /// The defaulted option groups it includes (Defaults.declarations).
    static let defaultOwners: Defaults.Owners = [.connection, .transport]
}
