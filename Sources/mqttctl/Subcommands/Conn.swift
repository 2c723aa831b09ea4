import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

struct Conn: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conn",
        _superCommandName: "mqttctl",  // when parsed alone: MQTTCtl.parseSubcommand
        abstract:
            "Connect once and report what the broker said: the CONNACK, every MQTT 5 property, how long each step took.",
        discussion: """
            Connects with the usual connection, TLS, will, credential and -D connect options and \
            reports the broker's CONNACK: its reason (code and text), session present, and for \
            MQTT 5 every CONNACK property (§3.2.2.3) — Session Expiry Interval, Receive Maximum, \
            Maximum QoS, Retain Available, Maximum Packet Size, Assigned Client Identifier, Topic \
            Alias Maximum, Reason String, Wildcard / Subscription Identifier / Shared Subscription \
            Available, Server Keep Alive, Response Information, Server Reference, Authentication \
            Method and Data, User Properties — with what an absent one means; plus how long the \
            TCP connect, the TLS handshake and the CONNACK (after CONNECT) took, from the \
            monotonic clock. A refused CONNACK is reported too, then the command fails with the \
            refusal's status.

            --stay keeps the connection open (sending a PINGREQ every keep-alive, the broker's \
            Server Keep Alive if it set one) until the broker ends it, -W seconds pass, or \
            SIGINT, and reports how it ended: a DISCONNECT with its reason code, reason string \
            and user properties (a take-over shows as 0x8E), a close (FIN or reset), or no \
            PINGRESP within a keep-alive period. Nothing is acknowledged while it stays: a \
            persistent session's queued messages stay with the broker.

            JSON (--json): {"command": "conn", "host", "port", "protocol", "transport" ("tcp", \
            "tls", "websocket" or "websocket-tls"), "websocket_path" (null over TCP), "client_id", \
            "keepalive", "connack": {"code", "reason", "accepted", "session_present"}, \
            "timing_ms": {"tcp_connect" (null over WebSocket), "tls_handshake" (null without TLS \
            or over WebSocket), \
            "websocket_upgrade" (over WebSocket: name lookup, TCP, TLS and the HTTP upgrade; else \
            null), "connack", "total"}, "properties": {KEY: {"value" (null when absent), "default" (the \
            specification's, null where it is "none"), "effective"}} for every property above \
            (keys session_expiry_interval, receive_maximum, maximum_qos, retain_available, \
            maximum_packet_size, assigned_client_identifier, topic_alias_maximum, reason_string, \
            wildcard_subscription_available, subscription_identifiers_available, \
            shared_subscription_available, server_keep_alive, response_information, \
            server_reference, authentication_method, authentication_data; null for MQTT 3.1.1), \
            "user_properties": [{"key", "value"}], "stay": {"after_s", "pings_sent", \
            "ping_responses", "closed_by" ("disconnect", "fin", "reset", "error", "no_pingresp" or \
            "client"), "disconnect_reason", "disconnect_reason_string", \
            "disconnect_user_properties", "websocket_close_code", "websocket_close_reason" (the \
            close frame that ended it over WebSocket, else null), "stopped"} or null}.

            Exit status: 0 when the broker accepted the connection (with --stay: and it was still \
            open when -W passed or SIGINT came); 4 or 5 when it refused (the report is printed \
            first); 7 when, with --stay, the broker ended the connection; 11 when a PINGRESP did \
            not come; 3 and 6 for connection and TLS failures; 2 for usage errors; 143 on SIGTERM.

            Examples:
              mqttctl conn -h broker.example -V 5
              mqttctl conn -V 5 --json | jq '.properties.maximum_qos.effective'
              mqttctl conn -i sensor-7 -c --stay          # is this id taken over by someone?
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Connection") var transport: TransportOptions
    @OptionGroup(title: "Connection") var keepAliveOption: KeepAliveOption
    @OptionGroup(title: "Will") var will: WillOptions
    @OptionGroup(title: "MQTT 5 properties") var properties: PropertyOptions

    @Flag(name: .customLong("stay"), help: "Stay connected and report how the connection ends.")
    var stay = false

    @Option(
        name: [.customShort("W"), .customLong("timeout")],
        parsing: .unconditional,
        help: ArgumentHelp("With --stay: disconnect cleanly after this many seconds.", valueName: "seconds"))
    var timeout: Double?

    @Flag(name: .customLong("json"), help: "Print one JSON document.")
    var json = false

    @Option(
        name: .customLong("junit"), parsing: .unconditional,
        help: ArgumentHelp("Also write a JUnit XML report to FILE.", valueName: "file"))
    var junit: String?

    func validate() throws {
        if let timeout, !(timeout > 0) || timeout > 31_536_000 {
            throw ValidationError("invalid -W \(timeout): use a number of seconds above 0")
        }
        if timeout != nil && !stay {
            throw ValidationError("-W applies to --stay")
        }
    }

    func run() throws {
        let parsed = try properties.parsed()
        try parsed.requireOnly([.connect, .will], in: "conn")
        let version = try connection.resolvedProtocol(
            needsV5: !parsed.isEmpty || will.needsV5 || connection.sessionExpiry != nil)
        var (options, _) = try connection.resolveConnection(
            transport: transport, keepAlive: keepAliveOption.keepAlive, protocolVersion: version,
            will: will, properties: parsed)
        options.tcpNoDelay = true
        options.quickAck = true
        let startedAt = WallClock.now()
        let loop = EventLoop()
        let client = try ClientSession.makeClient(options, debug: connection.debug)
        // Our own PINGREQs with --stay; none of libmosquitto's.
        client.keepAliveEnabled = false
        var refusal: CommandFailure?
        do {
            try ClientSession.connect(client, on: loop)
        } catch {
            // A CONNACK that refused us is a report too; any other failure is just the error.
            guard client.connAck != nil else { throw error }
            refusal = error
        }
        guard let ack = client.connAck else { throw ClientSession.failure(for: client) }
        var facts = ConnFacts(
            endpoint: options.endpoint, host: options.host, port: options.port, version: version,
            clientID: ack.properties.assignedClientIdentifier ?? options.clientID, keepAlive: options.keepAlive,
            sessionExpiry: options.sessionExpiry ?? 0, tls: options.tls != nil, transport: options.transportName,
            webSocketPath: options.webSocketPath, ack: ack,
            // Over WebSocket the connect is the upgrade's (websocket_upgrade).
            tcpConnect: options.transport.isWebSocket
                ? nil : client.tcpConnectedAt.map { MonotonicClock.milliseconds(client.connectStartedAt, $0) },
            tlsHandshake: client.tlsHandshakeFinishedAt.flatMap { tls in
                client.tcpConnectedAt.map { MonotonicClock.milliseconds($0, tls) }
            },
            connAck: (client.tlsHandshakeFinishedAt ?? client.tcpConnectedAt).map {
                MonotonicClock.milliseconds($0, ack.receivedAt)
            },
            total: MonotonicClock.milliseconds(client.connectStartedAt, ack.receivedAt))
        facts.webSocketUpgrade = client.webSocketUpgradedAt.map {
            MonotonicClock.milliseconds(client.connectStartedAt, $0)
        }

        var ending: CommandFailure?
        if refusal == nil && stay {
            let keepAlive = ack.properties.serverKeepAlive ?? options.keepAlive
            let result = StaySession(client: client, loop: loop, keepAlive: keepAlive, timeout: timeout).run()
            facts.stay = (result.seconds, result.pings, result.pingResponses, result.end)
            ending = result.failure
        } else if refusal == nil {
            ClientSession.disconnect(client, on: loop)
        }

        let output = OutputBuffer()
        output.append(json ? facts.json.serialized() + "\n" : facts.text)
        try output.finish()
        if let junit { try facts.junit(startedAt: startedAt).write(to: junit) }
        if let failure = refusal ?? ending { throw failure }
    }
}

extension Conn {
    /// The defaulted option groups it includes (Defaults.declarations).
    static let defaultOwners: Defaults.Owners = [.connection, .transport, .keepAlive]
}

/// `conn --stay`: the connection stays open, quiet but for a PINGREQ every
/// keep-alive, and we read how the broker ends it ourselves (`watchForEnd`).
struct StaySession {
    let client: MQTTClient
    let loop: EventLoop
    let keepAlive: Int
    let timeout: Double?

    struct Result {
        let seconds: Double
        let pings: Int
        let pingResponses: Int
        let end: ConnFacts.End
        let failure: CommandFailure?
    }

    func run() -> Result {
        let started = MonotonicClock.now()
        var pings = 0
        var responses = 0
        var awaiting: UInt64?
        var missed = false
        client.watchForEnd()
        client.onWatchedPacket = { type in
            if type == 13 {
                responses += 1
                awaiting = nil
            }
        }
        func schedulePing() {
            guard keepAlive > 0 else { return }
            loop.schedule(after: Double(keepAlive)) {
                guard client.state == .connected else { return }
                if awaiting != nil {
                    // A whole keep-alive period without the PINGRESP.
                    missed = true
                    return
                }
                if client.sendPingRequest() {
                    pings += 1
                    awaiting = MonotonicClock.now()
                }
                schedulePing()
            }
        }
        schedulePing()
        let deadline = timeout.map { MonotonicClock.after(seconds: $0) } ?? .max
        let stop = loop.run(deadline: deadline) { client.state == .closed || missed }
        let seconds = MonotonicClock.seconds(started, MonotonicClock.now())
        if client.state == .closed, let end = ConnectionEnd(client.closeReason) {
            return Result(
                seconds: seconds, pings: pings, pingResponses: responses, end: .broker(end),
                failure: CommandFailure(
                    .connectionLost, "the broker ended the connection after \(Numbers.fixed(seconds, 3)) s: \(end.text)"
                ))
        }
        ClientSession.disconnect(client, on: loop)
        if missed {
            return Result(
                seconds: seconds, pings: pings, pingResponses: responses,
                end: .noPingResponse(after: Double(keepAlive)),
                failure: CommandFailure(
                    .noReply,
                    "no PINGRESP within \(keepAlive) s of a PINGREQ (unresponsive broker or half-open connection)"))
        }
        switch stop {
        case .signal(let sig) where sig != SIGINT:
            return Result(
                seconds: seconds, pings: pings, pingResponses: responses,
                end: .stopped("terminated (SIGTERM); disconnected cleanly"),
                failure: CommandFailure(ExitStatus(signal: sig), ""))
        case .signal:
            return Result(
                seconds: seconds, pings: pings, pingResponses: responses,
                end: .stopped("interrupted (SIGINT); the connection was still open, disconnected cleanly"), failure: nil
            )
        default:
            return Result(
                seconds: seconds, pings: pings, pingResponses: responses,
                end: .stopped("still open after -W \(Numbers.short(timeout ?? 0)) s; disconnected cleanly"),
                failure: nil)
        }
    }
}
