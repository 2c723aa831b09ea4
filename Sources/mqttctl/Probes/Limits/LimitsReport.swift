import Mosquitto

/// The `probe limits` report: text, JSON and JUnit.
struct LimitsReport {
    struct VersionResult {
        let setup: ProbeSetup
        let connAck: ConnAck?
        let checks: [LimitCheck]
        var version: ProtocolVersion { setup.version }
    }

    let endpoint: String
    let host: String
    let port: Int
    /// ConnectOptions.transportName, and the WebSocket path (nil over TCP).
    var transport = "tcp"
    var webSocketPath: String?
    let results: [VersionResult]
    let skipped: [ProbeReport.Skipped]
    let required: [String]
    let elapsed: Double

    /// Required features or rules that are absent or broken, per version.
    var missing: [(version: ProtocolVersion, id: String)] {
        results.flatMap { result in
            required.compactMap { id -> (ProtocolVersion, String)? in
                // A check that does not exist in this version (no-local in 3.1.1) is not required there.
                guard let check = result.checks.first(where: { $0.id == id }) else { return nil }
                return check.available == true && check.findings.passed ? nil : (result.version, id)
            }
        }
    }

    var pass: Bool { missing.isEmpty }

    static func word(_ check: LimitCheck) -> String {
        switch check.kind {
        case .feature: return check.available == true ? "yes" : check.available == false ? "no" : "-"
        case .rule: return check.findings.passed && check.available != false ? "pass" : "FAIL"
        case .limit: return check.value.map(String.init) ?? "-"
        }
    }

    // MARK: Text

    var text: String {
        var out =
            "PROBE limits \(endpoint): MQTT \((results.map(\.version) + skipped.map(\.version)).map(\.description).joined(separator: " and ")) in \(Numbers.fixed(elapsed, 1)) s\n"
        for result in results {
            out += "MQTT \(result.version)\n"
            if result.version == .v5, let ack = result.connAck {
                let sent = ack.properties.items.map { "\($0.name) \(ConnFacts.json($0.value).serialized())" }
                out +=
                    "  CONNACK: \(sent.isEmpty ? "no properties (every default applies)" : sent.joined(separator: ", "))\n"
            }
            let width = result.checks.map(\.title.count).max() ?? 0
            let wordWidth = max(4, result.checks.map { Self.word($0).count }.max() ?? 0)
            for check in result.checks {
                out +=
                    "  \(ProbeReport.pad(check.kind.rawValue, 7))  \(ProbeReport.pad(check.title, width))  \(ProbeReport.pad(Self.word(check), wordWidth))  \(check.detail)\n"
                for line in check.findings.reported.compactMap(\.reportLine) { out += "      \(line)\n" }
            }
        }
        for skip in skipped { out += "MQTT \(skip.version)\n  skipped: \(skip.reason)\n" }
        let checks = results.flatMap(\.checks)
        let present = checks.filter { $0.kind == .feature && $0.available == true }.count
        let absent = checks.filter { $0.kind == .feature && $0.available == false }.count
        let broken = checks.flatMap(\.findings).filter { $0.level == .fail }.count
        out += "--- \(present) features present, \(absent) absent; \(broken) MUST broken"
        if !required.isEmpty {
            out +=
                missing.isEmpty
                ? "; every required one there"
                : "; missing: \(missing.map { "\($0.id) (MQTT \($0.version))" }.joined(separator: ", "))"
        }
        return out + "\n"
    }

    // MARK: JSON

    var json: JSON {
        .object([
            ("probe", .string("limits")),
            ("host", .string(host)),
            ("port", .int(port)),
            ("transport", .string(transport)),
            ("websocket_path", JSON.optional(webSocketPath)),
            (
                "results",
                .array(
                    results.map { result in
                        .object([
                            ("protocol", .string(result.version.description)),
                            ("connack", result.connAck.map { connAckJSON($0, result) } ?? .null),
                            (
                                "checks",
                                .array(
                                    result.checks.map { check in
                                        .object([
                                            ("id", .string(check.id)),
                                            ("kind", .string(check.kind.rawValue)),
                                            ("title", .string(check.title)),
                                            ("available", JSON.optional(check.available)),
                                            ("value", JSON.optional(check.value)),
                                            ("detail", .string(check.detail)),
                                            ("findings", .array(check.findings.reported.map(\.json))),
                                        ])
                                    })
                            ),
                        ])
                    })
            ),
            (
                "skipped",
                .array(
                    skipped.map {
                        .object([("protocol", .string($0.version.description)), ("reason", .string($0.reason))])
                    })
            ),
            ("required", .array(required.map(JSON.string))),
            (
                "missing",
                .array(
                    missing.map { .object([("protocol", .string($0.version.description)), ("id", .string($0.id))]) })
            ),
            ("elapsed_s", JSON.rounded(elapsed)),
            ("pass", .bool(pass)),
        ])
    }

    private func connAckJSON(_ ack: ConnAck, _ result: VersionResult) -> JSON {
        let facts = ConnFacts(
            endpoint: endpoint, host: host, port: port, version: result.version, clientID: nil,
            keepAlive: result.setup.options.keepAlive, sessionExpiry: 0, tls: result.setup.options.tls != nil,
            transport: result.setup.options.transportName, webSocketPath: result.setup.options.webSocketPath, ack: ack,
            tcpConnect: nil, tlsHandshake: nil, connAck: nil, total: 0)
        guard case .object(let members) = facts.json else { return .null }
        return .object(members.filter { ["connack", "properties", "user_properties"].contains($0.0) })
    }

    // MARK: JUnit

    func junit(startedAt: WallClock) -> JUnitReport {
        let suites = results.map { result in
            let className = "mqttctl.probe.limits.mqtt\(result.version.description.filter { $0 != "." })"
            let cases = result.checks.map { check -> JUnitReport.Case in
                let isRequired = required.contains(check.id)
                var c = JUnitReport.Case.fromFindings(
                    name: check.title, className: className, time: 0, facts: [check.detail],
                    findings: check.findings)
                if case .passed = c.outcome, check.available == false {
                    c.outcome =
                        isRequired
                        ? .failed(message: "required but absent: \(check.id)", type: "required", details: check.detail)
                        : .skipped(message: "absent: \(check.detail)")
                }
                return c
            }
            return JUnitReport.Suite(name: "mqttctl probe limits MQTT \(result.version)", cases: cases)
        }
        return JUnitReport(
            name: "mqttctl probe limits", suites: suites, time: elapsed, timestamp: startedAt.isoSecondsUTC)
    }
}
