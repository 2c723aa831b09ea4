import Mosquitto

/// What `mqttctl ping` prints at the end: the iputils-style statistics, or
/// the --json document (a documented contract: keys are only ever added).
enum PingReport {
    static func lossPercent(_ session: PingSession) -> Double {
        session.sent == 0 ? 0 : Double(session.sent - session.received) * 100 / Double(session.sent)
    }

    static func summary(_ session: PingSession, endpoint: String, elapsed: Double) -> String {
        var text = "--- \(endpoint) mqtt ping statistics ---\n"
        text += "\(session.sent) sent, \(session.received) received, "
        if session.late > 0 { text += "\(session.late) late, " }
        text += "\(Numbers.short(lossPercent(session), 1))% loss, time \(Numbers.fixed(elapsed, 0)) ms\n"
        if let stats = session.statistics {
            text +=
                "rtt min/avg/max/stddev = \(Numbers.fixed(stats.min, 3))/\(Numbers.fixed(stats.avg, 3))/\(Numbers.fixed(stats.max, 3))/\(Numbers.fixed(stats.stddev, 3)) ms\n"
            text +=
                "rtt p50/p95/p99 = \(Numbers.fixed(stats.p50, 3))/\(Numbers.fixed(stats.p95, 3))/\(Numbers.fixed(stats.p99, 3)) ms\n"
        }
        return text
    }

    /// The `--publish` lines of the summary: its own statistics and what routing costs.
    static func publishSummary(_ publish: PublishRoundTrips, ping session: PingSession) -> String {
        var text =
            "publish (QoS \(publish.qos) to '\(publish.topic)' and back): \(publish.sent) sent, \(publish.received) received\n"
        if let stats = publish.statistics {
            text += "publish rtt \(stats.text)\n"
            if let ping = session.statistics {
                text +=
                    "routing costs \(signed(stats.p50 - ping.p50)) ms at the median (publish p50 \(Numbers.fixed(stats.p50, 3)) ms vs PINGRESP p50 \(Numbers.fixed(ping.p50, 3)) ms)\n"
            }
        }
        return text
    }

    static func signed(_ value: Double) -> String {
        (value >= 0 ? "+" : "") + Numbers.fixed(value, 3)
    }

    static func publishJSON(_ publish: PublishRoundTrips?, ping session: PingSession) -> JSON {
        guard let publish else { return .null }
        let difference: JSON = {
            guard let p = publish.statistics, let q = session.statistics else { return .null }
            return .object([("p50", JSON.rounded(p.p50 - q.p50)), ("avg", JSON.rounded(p.avg - q.avg))])
        }()
        return .object([
            ("topic", .string(publish.topic)),
            ("qos", .int(publish.qos)),
            ("sent", .int(publish.sent)),
            ("received", .int(publish.received)),
            ("rtt_ms", RTTStatistics.json(publish.statistics)),
            (
                "replies",
                .array(
                    publish.replies.map {
                        .object([("seq", .int($0.seq)), ("rtt_ms", JSON.rounded($0.rtt)), ("late", .bool($0.late))])
                    })
            ),
            ("routing_cost_ms", difference),
        ])
    }

    static func junit(
        _ session: PingSession, publish: PublishRoundTrips?, endpoint: String, timeout: Double, elapsed: Double,
        startedAt: WallClock
    ) -> JUnitReport {
        let missing = session.sent - session.received
        var output = summary(session, endpoint: endpoint, elapsed: elapsed)
        if let publish { output += publishSummary(publish, ping: session) }
        var cases = [
            JUnitReport.Case(
                name: "PINGREQ/PINGRESP", className: "mqttctl.ping", time: elapsed / 1000,
                outcome: missing > 0
                    ? .failed(
                        message:
                            "\(missing) of \(session.sent) PINGREQs got no PINGRESP within \(formatSeconds(timeout)) s",
                        type: "no reply", details: output) : .passed,
                output: output)
        ]
        if let publish {
            let lost = publish.sent - publish.received
            cases.append(
                JUnitReport.Case(
                    name: "PUBLISH round trip", className: "mqttctl.ping", time: elapsed / 1000,
                    outcome: lost > 0
                        ? .failed(
                            message:
                                "\(lost) of \(publish.sent) publishes did not come back within \(formatSeconds(timeout)) s",
                            type: "no reply", details: output) : .passed,
                    output: ""))
        }
        return JUnitReport(
            name: "mqttctl ping", suites: [JUnitReport.Suite(name: "mqttctl ping \(endpoint)", cases: cases)],
            time: elapsed / 1000, timestamp: startedAt.isoSecondsUTC)
    }

    static func jsonDocument(
        _ session: PingSession, publish: PublishRoundTrips?, endpoint options: ConnectOptions, clientID: String,
        version: ProtocolVersion, keepAlive: Int, elapsed: Double
    ) -> JSON {
        let rtt = RTTStatistics.json(session.statistics)
        return .object([
            ("host", .string(options.host)),
            ("port", .int(options.port)),
            ("transport", .string(options.transportName)),
            ("websocket_path", JSON.optional(options.webSocketPath)),
            ("protocol", .string(version.description)),
            ("client_id", .string(clientID)),
            ("keepalive", .int(keepAlive)),
            ("interval_s", JSON.rounded(session.interval)),
            ("timeout_s", JSON.rounded(session.timeout)),
            ("sent", .int(session.sent)),
            ("received", .int(session.received)),
            ("late", .int(session.late)),
            ("loss_percent", JSON.rounded(lossPercent(session), decimals: 1)),
            ("time_ms", JSON.rounded(elapsed)),
            ("rtt_ms", rtt),
            (
                "replies",
                .array(
                    session.replies.map { reply in
                        .object([
                            ("seq", .int(reply.seq)), ("rtt_ms", JSON.rounded(reply.rtt)), ("late", .bool(reply.late)),
                        ])
                    })
            ),
            ("unanswered", .array(session.unanswered.map(JSON.int))),
            ("publish", publishJSON(publish, ping: session)),
        ])
    }
}
