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
            text += "rtt min/avg/max/stddev = \(Numbers.fixed(stats.min, 3))/\(Numbers.fixed(stats.avg, 3))/\(Numbers.fixed(stats.max, 3))/\(Numbers.fixed(stats.stddev, 3)) ms\n"
        }
        return text
    }

    static func jsonDocument(_ session: PingSession, endpoint options: ConnectOptions, clientID: String,
                             version: ProtocolVersion, keepAlive: Int, elapsed: Double) -> JSON {
        let stats = session.statistics
        let rtt: JSON = .object([
            ("min", stats.map { JSON.rounded($0.min) } ?? .null),
            ("avg", stats.map { JSON.rounded($0.avg) } ?? .null),
            ("max", stats.map { JSON.rounded($0.max) } ?? .null),
            ("stddev", stats.map { JSON.rounded($0.stddev) } ?? .null),
        ])
        return .object([
            ("host", .string(options.host)),
            ("port", .int(options.port)),
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
            ("replies", .array(session.replies.map { reply in
                .object([("seq", .int(reply.seq)), ("rtt_ms", JSON.rounded(reply.rtt)), ("late", .bool(reply.late))])
            })),
            ("unanswered", .array(session.unanswered.map(JSON.int))),
        ])
    }
}
