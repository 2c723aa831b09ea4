import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        _superCommandName: "mqttctl",  // when parsed alone: MQTTCtl.parseSubcommand
        abstract: "Time real PINGREQ/PINGRESP round trips, like ping(8).",
        discussion: """
            Connects once, then sends an MQTT PINGREQ every --interval seconds and times the \
            broker's PINGRESP with the monotonic clock: the broker's own answer, with no topic \
            routing, ACL or subscriber involved (a publish loopback measures those too). \
            libmosquitto's automatic keep-alive pings are off, so every PINGRESP answers one of \
            ours; replies are matched in order (TCP keeps it), so a late reply is reported as \
            late for the request it belongs to. The keep-alive sent in CONNECT is -k, by default \
            60 s or twice the interval, whichever is larger; our PINGREQs keep the connection \
            alive.

            A reply that does not come within -W seconds is reported as "no reply": the broker \
            is unresponsive, or the connection is half-open (the other end is gone without a \
            FIN). The command never waits longer than -W for a reply. Without -C it runs until \
            interrupted: SIGINT stops sending, waits for the replies still in flight (a second \
            SIGINT: not even that) and prints the statistics, as ping(8) does.

            Output (as iputils ping):
              PING localhost:1883 (MQTT 3.1.1, client id mqttctl-ping-3fa2c1)
              PINGRESP from localhost:1883: seq=1 time=0.213 ms
              seq=2 no reply within 5 s (unresponsive broker or half-open connection)
              PINGRESP from localhost:1883: seq=2 time=5210.448 ms (late: after the 5 s timeout)
              --- localhost:1883 mqtt ping statistics ---
              3 sent, 2 received, 1 late, 33.3% loss, time 2004 ms
              rtt min/avg/max/stddev = 0.201/0.207/0.213/0.006 ms
            The statistics count only replies within -W; late replies are listed but are loss.

            The summary adds the nearest-rank percentiles p50/p95/p99 of the round trips.

            --publish also measures a round trip through the broker's routing: half an interval \
            after each PINGREQ it publishes the sequence number (at -q, default 0) to a topic of \
            its own (-t, default mqttctl/ping/<client id>) that the same connection subscribes \
            to, and times the message from its write to its arrival back. Both series are shown \
            side by side, with what routing costs at the median (publish p50 minus PINGRESP p50): \
            topic matching, ACL checks, queueing and delivery, which the PINGRESP skips.

            --json prints one JSON document at the end instead: {"host", "port", "transport", "websocket_path", "protocol", \
            "client_id", "keepalive", "interval_s", "timeout_s", "sent", "received", "late", \
            "loss_percent", "time_ms", "rtt_ms": {"min", "avg", "max", "stddev", "p50", "p95", \
            "p99"} (values null without replies), "replies": [{"seq", "rtt_ms", "late"}], \
            "unanswered": [seq...], "publish": {"topic", "qos", "sent", "received", "rtt_ms", \
            "replies", "routing_cost_ms": {"p50", "avg"}} (null without --publish)}. --junit FILE \
            also writes a JUnit XML report (a test case for the PINGREQs and, with --publish, \
            one for the publishes).

            Exit status: 0 when every PINGREQ got its PINGRESP within -W (also after SIGINT); \
            11 when one did not (with --publish: or a publish did not come back); 7 when the \
            connection was lost; 3 to 6 for connection failures, 2 for usage errors; 143 after \
            SIGTERM (statistics printed first); 1 when stdout cannot be written (a full disk, a \
            closed stdout), and 141, quietly, when its reader went away (| head).

            Examples:
              mqttctl ping -h broker.example                 # until Ctrl-C
              mqttctl ping -C 5 --interval 0.2 -W 1          # for scripts
              mqttctl ping -C 10 --json | jq .rtt_ms.avg
              mqttctl ping -C 20 --publish -q 1              # what routing costs
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Connection") var transport: TransportOptions

    @Option(
        name: [.short, .customLong("keepalive")],
        parsing: .unconditional,
        help: ArgumentHelp(
            "Keep-alive sent in CONNECT: 0 or 5 to 65535, at least the interval (default: 60 or 2 × interval).",
            valueName: "seconds"),
        transform: KeepAlive.value)
    var keepAlive: Int?

    @Option(
        name: [.customShort("C"), .customLong("count")], parsing: .unconditional,
        help: "Stop after this many PINGREQs (default: until interrupted).")
    var count: Int?

    @Option(
        name: .customLong("interval"), parsing: .unconditional,
        help: ArgumentHelp("Seconds between PINGREQs; fractions allowed (default: 1).", valueName: "seconds"))
    var interval: Double = 1

    @Option(
        name: [.customShort("W"), .customLong("timeout")],
        parsing: .unconditional,
        help: ArgumentHelp("Seconds to wait for each PINGRESP (default: 5).", valueName: "seconds"))
    var timeout: Double = 5

    @Flag(name: .customLong("json"), help: "Print one JSON document with the results instead of lines.")
    var json = false

    @Flag(
        name: .customLong("publish"),
        help:
            "Between the PINGREQs, also publish to a topic of our own and time its way back through the broker's routing."
    )
    var publish = false

    @Option(
        name: [.short, .customLong("qos")], parsing: .unconditional,
        help: "With --publish: the QoS of the publishes and the subscription: 0, 1 or 2 (default: 0).")
    var qos: Int = 0

    @Option(
        name: [.short, .customLong("topic")],
        parsing: .unconditional,
        help: ArgumentHelp("With --publish: the topic (default: mqttctl/ping/<client id>).", valueName: "topic"))
    var topic: String?

    @Option(
        name: .customLong("junit"), parsing: .unconditional,
        help: ArgumentHelp("Also write a JUnit XML report to FILE.", valueName: "file"))
    var junit: String?

    func validate() throws {
        if let count, count < 1 {
            throw ValidationError("invalid -C \(count): use 1 or more")
        }
        if !(interval >= 0.01) || interval > 86400 {
            throw ValidationError("invalid --interval \(interval): use 0.01 to 86400 seconds")
        }
        try Seconds.check(timeout, option: "-W", maximum: Seconds.oneDay)
        if !(0...2).contains(qos) {
            throw ValidationError("-q \(qos): QoS must be 0, 1 or 2")
        }
        if (topic != nil || qos != 0) && !publish {
            throw ValidationError("-t and -q apply to --publish")
        }
        if let topic, let problem = Topic.problemWithName(topic) {
            throw ValidationError("invalid -t: \(problem)")
        }
        if let keepAlive {
            if keepAlive != 0 && Double(keepAlive) < interval {
                throw ValidationError(
                    "-k \(keepAlive) is shorter than --interval \(formatSeconds(interval)): the broker would drop the connection between PINGREQs"
                )
            }
        }
    }

    /// The keep-alive we announce: the user's, or long enough that our own
    /// PINGREQs always come in time.
    var effectiveKeepAlive: Int {
        if let keepAlive { return keepAlive }
        return Int(min(65535, max(60, (2 * interval).rounded(.up))))
    }

    func run() throws {
        let version = try connection.resolvedProtocol(needsV5: connection.sessionExpiry != nil)
        var (options, _) = try connection.resolveConnection(
            transport: transport, keepAlive: effectiveKeepAlive, protocolVersion: version, will: nil, properties: nil)
        if options.clientID == nil { options.clientID = "mqttctl-ping-\(RunID.make())" }

        let loop = EventLoop()
        let client = try ClientSession.makeClient(options, debug: connection.debug)
        // libmosquitto must not send PINGREQs of its own: every PINGRESP is ours.
        client.keepAliveEnabled = false
        try ClientSession.connect(client, on: loop)

        let output = OutputBuffer()
        loop.beforeWaiting = { output.flush() }
        let endpoint = options.endpoint
        let clientID = client.connAck?.properties.assignedClientIdentifier ?? options.clientID ?? ""
        let startedAt = WallClock.now()
        let session = PingSession(client: client, loop: loop, count: count, interval: interval, timeout: timeout)
        var routing: PublishRoundTrips?
        if publish {
            let topic = topic ?? "mqttctl/ping/\(clientID)"
            if Topic.problemWithName(topic) != nil {
                throw CommandFailure.usage("the client id '\(clientID)' cannot be part of a topic; use -t")
            }
            let series = PublishRoundTrips(client: client, loop: loop, topic: topic, qos: qos, timeout: timeout)
            try series.subscribe()
            session.between = { seq in series.send(seq: seq) }
            routing = series
        }
        if let serverKeepAlive = client.connAck?.properties.serverKeepAlive, serverKeepAlive > 0,
            Double(serverKeepAlive) < interval
        {
            Diagnostics.warning(
                "the broker imposed a keep-alive of \(serverKeepAlive) s (Server Keep Alive), shorter than the interval: it may close the connection between PINGREQs"
            )
        }
        if !json {
            output.append("PING \(endpoint) (MQTT \(version), client id \(clientID))\n")
            session.onReply = { reply in
                let lateText = reply.late ? " (late: after the \(formatSeconds(timeout)) s timeout)" : ""
                output.append(
                    "PINGRESP from \(endpoint): seq=\(reply.seq) time=\(Numbers.fixed(reply.rtt, 3)) ms\(lateText)\n")
            }
            session.onTimeout = { seq, written in
                if written {
                    output.append(
                        "seq=\(seq) no reply within \(formatSeconds(timeout)) s (unresponsive broker or half-open connection)\n"
                    )
                } else {
                    output.append(
                        "seq=\(seq) PINGREQ could not be written within \(formatSeconds(timeout)) s (the connection is not taking data)\n"
                    )
                }
            }
            session.onUnexpectedReply = {
                output.append("PINGRESP from \(endpoint) that answers no PINGREQ of ours (ignored)\n")
            }
            routing?.onReply = { reply in
                let lateText = reply.late ? " (late: after the \(formatSeconds(timeout)) s timeout)" : ""
                output.append(
                    "PUBLISH back from \(endpoint): seq=\(reply.seq) time=\(Numbers.fixed(reply.rtt, 3)) ms\(lateText)\n"
                )
            }
            routing?.onTimeout = { seq in
                output.append("seq=\(seq) PUBLISH did not come back within \(formatSeconds(timeout)) s\n")
            }
        }
        session.start()

        // Runs until done, the connection closes, or a signal. The first SIGINT
        // stops sending and still waits for replies in flight; a second one ends it.
        var signal: Int32?
        while true {
            // With --publish: also the publish half an interval after the last PINGREQ.
            let stop = loop.run {
                (session.isDone && (routing.map { $0.sent >= session.sent && $0.isDone } ?? true))
                    || client.state == .closed || output.broken
            }
            guard case .signal(let sig) = stop else { break }
            if signal != nil || sig != SIGINT { signal = sig; break }
            signal = sig
            session.stopSending()
        }
        session.stopSending()
        let endedAt = MonotonicClock.now()
        let lost = client.state == .closed ? ClientSession.failure(for: client) : nil
        loop.beforeWaiting = nil
        ClientSession.disconnect(client, on: loop)

        let elapsed = session.firstSentAt.map { MonotonicClock.milliseconds($0, endedAt) } ?? 0
        if json {
            output.append(
                PingReport.jsonDocument(
                    session, publish: routing, endpoint: options, clientID: clientID, version: version,
                    keepAlive: effectiveKeepAlive, elapsed: elapsed
                ).serialized())
            output.append("\n")
        } else {
            output.append(PingReport.summary(session, endpoint: endpoint, elapsed: elapsed))
            if let routing { output.append(PingReport.publishSummary(routing, ping: session)) }
        }
        output.flush()
        if let junit {
            try PingReport.junit(
                session, publish: routing, endpoint: endpoint, timeout: timeout, elapsed: elapsed,
                startedAt: startedAt
            ).write(to: junit)
        }

        if output.closed { throw CommandFailure(.outputClosed, "") }  // `| head`: quietly, as SIGPIPE
        if let failed = output.failure {
            throw CommandFailure(
                .failure,
                "cannot write to stdout: \(StandardStreams.describe(errno: failed, fd: 1)) (after \(session.sent) PINGREQ\(session.sent == 1 ? "" : "s"))"
            )
        }
        if let lost {
            throw CommandFailure(
                lost.status, "\(lost.message) (after \(session.sent) PINGREQ\(session.sent == 1 ? "" : "s"))")
        }
        if let signal, signal != SIGINT {
            throw CommandFailure(ExitStatus(signal: signal), "")
        }
        let missing = session.sent - session.received
        if missing > 0 {
            throw CommandFailure(
                .noReply,
                "\(missing) of \(session.sent) PINGREQ\(session.sent == 1 ? "" : "s") got no PINGRESP within \(formatSeconds(timeout)) s (unresponsive broker or half-open connection)"
            )
        }
        if let routing, routing.received < routing.sent {
            throw CommandFailure(
                .noReply,
                "\(routing.sent - routing.received) of \(routing.sent) publishes to '\(routing.topic)' did not come back within \(formatSeconds(timeout)) s"
            )
        }
    }
}

extension Ping {
    /// The defaulted option groups it includes (Defaults.declarations).
    static let defaultOwners: Defaults.Owners = [.connection, .transport]
}
