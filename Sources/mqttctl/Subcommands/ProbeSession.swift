import ArgumentParser
import Mosquitto

struct ProbeSession: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session",
        abstract:
            "Leave and resume persistent sessions: kept before their expiry, with queued messages and subscriptions; gone after it.",
        discussion: """
            For MQTT 3.1.1 and, when the broker accepts it, MQTT 5 (-V picks one): sessions \
            subscribe at QoS 1, leave with a normal DISCONNECT, get a QoS 1 message each while \
            away, and are resumed with clean start 0. MQTT 5 sessions have a session expiry E \
            (-x, default 3 s): one is resumed at E/2 and must be there — session present 1, the \
            queued message delivered, the subscription restored without SUBSCRIBE (MUST, \
            [MQTT-3.1.2-23], [MQTT-3.1.2-5]) — and others one second apart at E-1, E, E+1 and \
            E+2 s, which measures when the broker ends an expired session to the second; one \
            still present after E + --grace warns (§3.1.2.11.2: the deletion may be delayed, a \
            non-normative comment). MQTT 3.1.1 sessions do not expire: one is resumed after a \
            second (MUST, [MQTT-3.1.2-4]). Every session is removed afterwards (a clean \
            connection with its id). The run takes about E + 3 s.

            JSON (--json): {"probe": "session", "results": [{"protocol", "session_expiry_s", \
            "resumes": [{"after_s", "session_present", "queued_delivered", \
            "subscription_restored", "reconnect_ms"}], "ended_between_s": [kept, gone], \
            "findings", "pass"}], "skipped", "elapsed_s", "pass"}; --junit FILE as the other probes.

            Exit status: 0 when no MUST was broken (with --strict: no warning either); 10 \
            otherwise; 3 to 7 for connection failures; 2 for usage errors; 130/143 on signals.

            Examples:
              mqttctl probe session -h broker.example
              mqttctl probe session -V 5 -x 10 --json
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Connection") var transport: TransportOptions
    @OptionGroup(title: "Probe") var probe: ProbeOptions

    func validate() throws {
        if connection.disableCleanSession || connection.id != nil {
            throw ValidationError("'probe session' sets its sessions and client ids itself: no -c or -i")
        }
    }

    func run() throws {
        let started = MonotonicClock.now()
        let startedAt = WallClock.now()
        let explicit = connection.protocolVersion
        let versions = ProbeSetup.versions(explicit)
        let loop = EventLoop()
        let progress = Progress.forCommand(json: probe.json)
        let setups = try ProbeSetup.perVersion(
            versions, connection: connection, transport: transport, json: probe.json, loop: loop, progress: progress)
        let runID = RunID.make()
        var results: [SessionReport.Result] = []
        let (usable, skipped) = try ProbeSetup.accepted(setups, explicit: explicit)
        for (setup, _) in usable {
            let expiry = min(setup.options.sessionExpiry ?? 3, 3600)
            let session = SessionProbe(
                setup: setup, prefix: "\(probe.topicPrefix)/\(runID)/\(setup.version == .v5 ? "5" : "3")/session",
                expiry: max(expiry, 2), grace: probe.grace, strict: probe.strict, stepTimeout: probe.maxWait ?? 2)
            progress.show("probe session: MQTT \(setup.version), about \(Int(session.offsets.max() ?? 0) + 2) s…")
            do {
                let (resumes, findings, failure) = try session.run()
                if let failure { throw CommandFailure(.failure, "probe session (MQTT \(setup.version)): \(failure)") }
                results.append(
                    .init(version: setup.version, expiry: session.expiry, resumes: resumes, findings: findings))
            } catch let interrupted as LimitsInterrupted {
                progress.clear()
                throw CommandFailure(ExitStatus(signal: interrupted.signal), "")
            }
        }
        progress.clear()
        let report = SessionReport(
            endpoint: setups.first?.context.endpoint ?? "", results: results, skipped: skipped,
            elapsed: MonotonicClock.seconds(started, MonotonicClock.now()))
        let output = OutputBuffer()
        output.append(probe.json ? report.json.serialized() + "\n" : report.text)
        try output.finish()
        if let path = probe.junit { try report.junit(startedAt: startedAt).write(to: path) }
        let failed = results.filter { !$0.findings.passed }.map { "MQTT \($0.version)" }
        try ProbeOutcome.finish(command: "probe session", passed: failed.isEmpty, inconclusive: false, failed: failed)
    }
}

extension ProbeSession {
    /// The defaulted option groups it includes (Defaults.declarations).
    static let defaultOwners: Defaults.Owners = [.connection, .transport]
}

/// The `probe session` report.
struct SessionReport {
    struct Result {
        let version: ProtocolVersion
        let expiry: UInt32
        let resumes: [SessionProbe.Resume]
        let findings: [Finding]
    }

    let endpoint: String
    let results: [Result]
    let skipped: [ProbeReport.Skipped]
    let elapsed: Double

    static func describe(_ r: SessionProbe.Resume) -> String {
        var parts = ["session present \(r.sessionPresent.map { $0 ? "1" : "0" } ?? "-")"]
        parts.append(r.queuedDelivered == true ? "queued message delivered" : "queued message not delivered")
        if let restored = r.subscriptionRestored {
            parts.append(restored ? "subscription restored" : "subscription NOT restored")
        }
        if let ms = r.reconnectMilliseconds { parts.append("CONNACK in \(Numbers.fixed(ms, 3)) ms") }
        return "resumed after \(Numbers.short(r.after)) s: " + parts.joined(separator: ", ")
    }

    var text: String {
        var out = "PROBE session \(endpoint) in \(Numbers.fixed(elapsed, 1)) s\n"
        var rows: [ProbeReport.Row] = []
        for result in results {
            out += "MQTT \(result.version)\(result.version == .v5 ? " (session expiry \(result.expiry) s)" : "")\n"
            var lines = result.resumes.map(Self.describe)
            if result.version == .v5 {
                let (kept, gone) = SessionProbe.endedBetween(result.resumes)
                if let kept, let gone {
                    lines.append(
                        "the session ended between \(Numbers.short(kept)) and \(Numbers.short(gone)) s after the DISCONNECT"
                    )
                }
            }
            lines += result.findings.reported.compactMap(\.reportLine)
            let row = ProbeReport.Row(
                label: "session", verdict: result.findings.passed ? "pass" : "fail", lines: lines,
                passed: result.findings.passed, warnings: result.findings.warnings)
            out += ProbeReport.render([row], indent: "  ")
            rows.append(row)
        }
        for skip in skipped { out += "MQTT \(skip.version)\n  skipped: \(skip.reason)\n" }
        return out + ProbeReport.footer(rows)
    }

    var json: JSON {
        .object([
            ("probe", .string("session")),
            (
                "results",
                .array(
                    results.map { result in
                        let (kept, gone) = SessionProbe.endedBetween(result.resumes)
                        return .object([
                            ("protocol", .string(result.version.description)),
                            ("session_expiry_s", result.version == .v5 ? .int(Int(result.expiry)) : .null),
                            (
                                "resumes",
                                .array(
                                    result.resumes.map { r in
                                        .object([
                                            ("after_s", JSON.rounded(r.after)),
                                            ("session_present", JSON.optional(r.sessionPresent)),
                                            ("queued_delivered", JSON.optional(r.queuedDelivered)),
                                            ("subscription_restored", JSON.optional(r.subscriptionRestored)),
                                            ("reconnect_ms", r.reconnectMilliseconds.map { JSON.rounded($0) } ?? .null),
                                        ])
                                    })
                            ),
                            (
                                "ended_between_s",
                                result.version == .v5
                                    ? .array([
                                        kept.map { JSON.rounded($0) } ?? .null, gone.map { JSON.rounded($0) } ?? .null,
                                    ]) : .null
                            ),
                            ("findings", .array(result.findings.reported.map(\.json))),
                            ("pass", .bool(result.findings.passed)),
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
            ("elapsed_s", JSON.rounded(elapsed)),
            ("pass", .bool(!results.isEmpty && results.allSatisfy { $0.findings.passed })),
        ])
    }

    func junit(startedAt: WallClock) -> JUnitReport {
        let suites = results.map { result in
            JUnitReport.Suite(
                name: "mqttctl probe session MQTT \(result.version)",
                cases: [
                    .fromFindings(
                        name: "session", className: ProbeReport.className("probe.session", result.version),
                        time: elapsed,
                        facts: result.resumes.map(Self.describe), findings: result.findings)
                ])
        }
        return JUnitReport(
            name: "mqttctl probe session", suites: suites, time: elapsed, timestamp: startedAt.isoSecondsUTC)
    }
}
