import Mosquitto

/// What `mqttctl conn` learned: the broker's CONNACK with every MQTT 5
/// property (and what an absent one means), how long each step of connecting
/// took, and, with --stay, how the connection ended.
struct ConnFacts {
    /// One CONNACK property as reported: its value, or nil with the specification's default.
    struct Property {
        let key: String
        let identifier: Int
        /// What an absent property means, in words ("65535", "the client's 60 s").
        let absentMeans: String
        /// The default as a JSON value (null where the default is "none" or the client's own).
        let defaultValue: JSON
    }

    /// How a --stay ended.
    enum End {
        /// The broker ended it (DISCONNECT, FIN, reset).
        case broker(ConnectionEnd)
        /// No PINGRESP came within the keep-alive after a PINGREQ.
        case noPingResponse(after: Double)
        /// We stopped: --timeout passed, or a signal.
        case stopped(String)
    }

    let endpoint: String
    let host: String
    let port: Int
    let version: ProtocolVersion
    let clientID: String?
    let keepAlive: Int
    let sessionExpiry: UInt32
    let tls: Bool
    /// "tcp", "tls", "websocket" or "websocket-tls" (ConnectOptions.transportName).
    let transport: String
    /// The WebSocket path (nil over TCP).
    let webSocketPath: String?
    let ack: ConnAck
    /// Milliseconds.
    let tcpConnect: Double?
    let tlsHandshake: Double?
    /// Over WebSocket: from the start to the completed upgrade (name lookup, TCP, TLS, HTTP).
    var webSocketUpgrade: Double?
    let connAck: Double?
    let total: Double
    var stay: (seconds: Double, pings: Int, pingResponses: Int, end: End)?

    /// The CONNACK properties of MQTT 5 (§3.2.2.3), in the order the specification lists them.
    var properties: [Property] {
        [
            Property(
                key: "session_expiry_interval", identifier: 0x11, absentMeans: "the client's \(sessionExpiry) s",
                defaultValue: .int(Int(sessionExpiry))),
            Property(key: "receive_maximum", identifier: 0x21, absentMeans: "65535", defaultValue: .int(65535)),
            Property(key: "maximum_qos", identifier: 0x24, absentMeans: "2", defaultValue: .int(2)),
            Property(key: "retain_available", identifier: 0x25, absentMeans: "1, available", defaultValue: .int(1)),
            Property(
                key: "maximum_packet_size", identifier: 0x27, absentMeans: "no limit but MQTT's own",
                defaultValue: .null),
            Property(
                key: "assigned_client_identifier", identifier: 0x12, absentMeans: "none, the client's id stands",
                defaultValue: .null),
            Property(
                key: "topic_alias_maximum", identifier: 0x22, absentMeans: "0, no topic aliases", defaultValue: .int(0)),
            Property(key: "reason_string", identifier: 0x1F, absentMeans: "none", defaultValue: .null),
            Property(
                key: "wildcard_subscription_available", identifier: 0x28, absentMeans: "1, available",
                defaultValue: .int(1)),
            Property(
                key: "subscription_identifiers_available", identifier: 0x29, absentMeans: "1, available",
                defaultValue: .int(1)),
            Property(
                key: "shared_subscription_available", identifier: 0x2A, absentMeans: "1, available",
                defaultValue: .int(1)),
            Property(
                key: "server_keep_alive", identifier: 0x13, absentMeans: "the client's \(keepAlive) s",
                defaultValue: .int(keepAlive)),
            Property(key: "response_information", identifier: 0x1A, absentMeans: "none", defaultValue: .null),
            Property(key: "server_reference", identifier: 0x1C, absentMeans: "none", defaultValue: .null),
            Property(key: "authentication_method", identifier: 0x15, absentMeans: "none", defaultValue: .null),
            Property(key: "authentication_data", identifier: 0x16, absentMeans: "none", defaultValue: .null),
        ]
    }

    var userProperties: [(String, String)] {
        ack.properties.all(MQTTProperties.userProperty).compactMap {
            if case .pair(let k, let v) = $0 { return (k, v) }
            return nil
        }
    }

    /// "0x00 Success" / "return code 5 (not authorised)".
    var reason: String {
        if version == .v5 { return "\(ReasonCode.name(ack.code)) (0x\(ReasonCode.hex2(ack.code)))" }
        return ack.code == 0 ? "accepted (return code 0)" : "refused (return code \(ack.code))"
    }

    // MARK: JSON

    static func json(_ value: MQTTProperties.Value) -> JSON {
        switch value {
        case .byte(let v): return .int(Int(v))
        case .uint16(let v): return .int(Int(v))
        case .uint32(let v), .varint(let v): return .int(Int(v))
        case .string(let s): return .string(s)
        case .binary(let b): return .string(b.map { ReasonCode.hex2(Int($0)) }.joined())
        case .pair(let k, let v): return .object([("key", .string(k)), ("value", .string(v))])
        }
    }

    var json: JSON {
        var members: [(String, JSON)] = [
            ("command", .string("conn")),
            ("host", .string(host)),
            ("port", .int(port)),
            ("protocol", .string(version.description)),
            ("transport", .string(transport)),
            ("websocket_path", JSON.optional(webSocketPath)),
            ("client_id", JSON.optional(clientID)),
            ("keepalive", .int(keepAlive)),
            (
                "connack",
                .object([
                    ("code", .int(ack.code)),
                    ("reason", .string(reason)),
                    ("accepted", .bool(ack.code == 0)),
                    ("session_present", .bool(ack.sessionPresent)),
                ])
            ),
            (
                "timing_ms",
                .object([
                    ("tcp_connect", tcpConnect.map { JSON.rounded($0) } ?? .null),
                    ("tls_handshake", tlsHandshake.map { JSON.rounded($0) } ?? .null),
                    ("websocket_upgrade", webSocketUpgrade.map { JSON.rounded($0) } ?? .null),
                    ("connack", connAck.map { JSON.rounded($0) } ?? .null),
                    ("total", JSON.rounded(total)),
                ])
            ),
        ]
        if version == .v5 {
            members.append(
                (
                    "properties",
                    .object(
                        properties.map { p in
                            let value = ack.properties.first(p.identifier).map(Self.json) ?? .null
                            return (
                                p.key,
                                .object([
                                    ("value", value), ("default", p.defaultValue),
                                    ("effective", value == .null ? p.defaultValue : value),
                                ])
                            )
                        })
                ))
            members.append(
                (
                    "user_properties",
                    .array(userProperties.map { .object([("key", .string($0.0)), ("value", .string($0.1))]) })
                ))
        } else {
            members.append(("properties", .null))
            members.append(("user_properties", .null))
        }
        if let stay {
            var end: [(String, JSON)] = [
                ("after_s", JSON.rounded(stay.seconds)), ("pings_sent", .int(stay.pings)),
                ("ping_responses", .int(stay.pingResponses)),
            ]
            switch stay.end {
            case .broker(let connectionEnd):
                end += [
                    ("closed_by", .string(connectionEnd.kind)),
                    ("disconnect_reason", JSON.optional(connectionEnd.reasonCode)),
                ]
                end += connectionEnd.jsonDetails
            case .noPingResponse:
                end += [("closed_by", .string("no_pingresp")), ("disconnect_reason", .null)]
            case .stopped(let why):
                end += [("closed_by", .string("client")), ("disconnect_reason", .null), ("stopped", .string(why))]
            }
            members.append(("stay", .object(end)))
        } else {
            members.append(("stay", .null))
        }
        return .object(members)
    }

    // MARK: Text

    var text: String {
        var out =
            "CONNACK from \(endpoint) (MQTT \(version)\(clientID.map { ", client id \($0)" } ?? "")): \(reason), session present \(ack.sessionPresent ? 1 : 0)\n"
        func ms(_ value: Double?) -> String { value.map { "\(Numbers.fixed($0, 3)) ms" } ?? "-" }
        if webSocketPath != nil {
            out +=
                "  time: WebSocket upgrade (name lookup, TCP\(tls ? ", TLS" : "") and HTTP) \(ms(webSocketUpgrade)), CONNACK \(ms(connAck)) after CONNECT; total \(ms(total))\n"
        } else {
            out +=
                "  time: connect (name lookup and TCP) \(ms(tcpConnect)), TLS handshake \(tls ? ms(tlsHandshake) : "- (no TLS)"), CONNACK \(ms(connAck)) after CONNECT; total \(ms(total))\n"
        }
        if version == .v5 {
            let width = properties.map(\.key.count).max() ?? 0
            for p in properties {
                let name = String(p.key.map { $0 == "_" ? " " : $0 })
                let label = ProbeReport.pad(name, width)
                if let value = ack.properties.first(p.identifier) {
                    out += "  \(label)  \(Self.json(value).serialized())\n"
                } else {
                    out += "  \(label)  - (absent: \(p.absentMeans))\n"
                }
            }
            for (k, v) in userProperties { out += "  user property  \(k) = \(v)\n" }
        }
        if let stay {
            out +=
                "stayed \(Numbers.fixed(stay.seconds, 3)) s (\(stay.pings) PINGREQ, \(stay.pingResponses) PINGRESP): "
            switch stay.end {
            case .broker(let end): out += "ended by the broker: \(end.text)\n"
            case .noPingResponse(let after):
                out +=
                    "no PINGRESP within \(Numbers.short(after)) s of a PINGREQ (unresponsive broker or half-open connection)\n"
            case .stopped(let why): out += "\(why)\n"
            }
        }
        return out
    }

    // MARK: JUnit

    func junit(startedAt: WallClock) -> JUnitReport {
        let className = "mqttctl.conn.mqtt\(version.description.filter { $0 != "." })"
        var cases = [
            JUnitReport.Case(
                name: "CONNACK", className: className, time: total / 1000,
                outcome: ack.code == 0
                    ? .passed : .failed(message: "refused: \(reason)", type: "CONNACK", details: text),
                output: text)
        ]
        if let stay {
            let outcome: JUnitReport.Case.Outcome
            switch stay.end {
            case .broker(let end):
                outcome = .failed(
                    message: "the broker ended the connection: \(end.text)", type: "connection", details: text)
            case .noPingResponse(let after):
                outcome = .failed(
                    message: "no PINGRESP within \(Numbers.short(after)) s", type: "keep-alive", details: text)
            case .stopped: outcome = .passed
            }
            cases.append(
                JUnitReport.Case(
                    name: "stay connected", className: className, time: stay.seconds, outcome: outcome, output: ""))
        }
        return JUnitReport(
            name: "mqttctl conn", suites: [JUnitReport.Suite(name: "mqttctl conn \(endpoint)", cases: cases)],
            time: (total / 1000) + (stay?.seconds ?? 0), timestamp: startedAt.isoSecondsUTC)
    }
}
