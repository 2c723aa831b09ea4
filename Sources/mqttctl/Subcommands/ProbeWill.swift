import ArgumentParser
import Mosquitto

struct ProbeWill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "will",
        abstract:
            "Time the will for every way a connection ends: socket closed, keep-alive, take-over, DISCONNECT 0x04, 0x00.",
        discussion: """
            For MQTT 3.1.1 and, when the broker accepts it, MQTT 5 (-V picks one), all at once: \
            one connection with a will per way a connection ends, and an observer subscribed \
            beforehand that times each will from the end of its connection:
              socket closed             closed without DISCONNECT
              keep-alive expiry         silent until the broker drops it (keep-alive 5 s)
              take-over                 another connection with the id and clean start 1
              DISCONNECT 0x04           Disconnect with Will Message (MQTT 5)
              delay over session expiry a will delay longer than the session expiry (MQTT 5)
              DISCONNECT 0x00           the negative control: no will
            MQTT 5 wills carry --will-delay (default 2 s), a content type and a user property, \
            and the connections a session expiry (-x, default the delay + 10 s).

            RULES (each finding names its clause): the will MUST be published after an abnormal \
            end and after 0x04, and MUST NOT after 0x00 ([MQTT-3.1.2-8], [MQTT-3.1.2-10]); in \
            MQTT 5 it is due when the will delay has passed or the session ends, whichever is \
            first — at once on a take-over with clean start 1, at the session expiry when that \
            is shorter than the delay — never before ([MQTT-3.1.2-8]: a whole-second broker \
            clock may take a second off), and SHOULD come promptly then (§3.1.2.5: later than \
            --grace warns); its user properties MUST arrive as sent ([MQTT-3.1.3-10]). Every \
            wait is bounded (the due time + 3 s + grace, at most --max-wait or 300 s).

            JSON (--json): {"probe": "will", "results": [{"protocol", "cases": [{"ending", \
            "client_id", "will_topic", "will_delay_s", "session_expiry_s", "due_s" (null for \
            0x00), "will_published", "will_after_end_s", "findings", "pass"}], "pass"}], \
            "skipped", "elapsed_s", "pass"}; --junit FILE writes a case per ending and version.

            Exit status: 0 when no MUST was broken (with --strict: no warning either); 10 \
            otherwise; 3 to 7 for connection failures; 2 for usage errors; 130/143 on signals.

            Examples:
              mqttctl probe will -h broker.example
              mqttctl probe will -V 5 --will-delay 5 -x 60 --json
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Connection") var transport: TransportOptions
    @OptionGroup(title: "Probe") var probe: ProbeOptions

    @Option(
        name: .customLong("will-delay"), parsing: .unconditional,
        help: ArgumentHelp("MQTT 5 will delay interval of the wills (default: 2).", valueName: "seconds"))
    var willDelay: UInt32 = 2

    @Option(
        name: .customLong("will-qos"), parsing: .unconditional,
        help: "QoS of the wills: 0, 1 or 2 (default: 1, at most the broker's Maximum QoS).")
    var willQoS: Int = 1

    func validate() throws {
        if !(0...2).contains(willQoS) { throw ValidationError("--will-qos \(willQoS): QoS must be 0, 1 or 2") }
        if willDelay > 86400 { throw ValidationError("invalid --will-delay \(willDelay): use 0 to 86400 seconds") }
        if connection.disableCleanSession || connection.id != nil {
            throw ValidationError("'probe will' sets its connections' client ids and sessions itself: no -c or -i")
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
        var tasks: [WillProbe] = []
        let (usable, skipped) = try ProbeSetup.accepted(setups, explicit: explicit)
        for (setup, ack) in usable {
            let v = setup.version == .v5 ? "5" : "3"
            let plan = WillProbe.Plan(
                version: setup.version, baseID: "\(setup.baseID)-\(v)",
                topicRoot: "\(probe.topicPrefix)/\(runID)/\(v)/will",
                willDelay: willDelay, sessionExpiry: setup.options.sessionExpiry ?? (willDelay + 10),
                qos: min(willQoS, ack.properties.maximumQoS ?? 2), grace: probe.grace, strict: probe.strict,
                waitCap: probe.maxWait ?? TakeoverPlan.defaultWaitCap)
            tasks.append(WillProbe(plan: plan, context: setup.context))
        }
        if let context = setups.first?.context { try ProbeRunner.run(tasks, context: context) }
        let elapsed = MonotonicClock.seconds(started, MonotonicClock.now())
        let report = WillReport(
            endpoint: setups.first?.context.endpoint ?? "", probes: tasks, skipped: skipped, elapsed: elapsed)
        let output = OutputBuffer()
        output.append(probe.json ? report.json.serialized() + "\n" : report.text)
        try output.finish()
        if let path = probe.junit { try report.junit(startedAt: startedAt).write(to: path) }
        let failed = tasks.flatMap { task in
            task.cases.filter { !$0.findings.passed }.map { "MQTT \(task.plan.version) \($0.ending.rawValue)" }
        }
        try ProbeOutcome.finish(
            command: "probe will", passed: tasks.allSatisfy(\.passed), inconclusive: false, failed: failed)
    }
}

extension ProbeWill {
    /// The defaulted option groups it includes (Defaults.declarations).
    static let defaultOwners: Defaults.Owners = [.connection, .transport]
}

/// The `probe will` report: text, JSON, JUnit.
struct WillReport {
    let endpoint: String
    let probes: [WillProbe]
    let skipped: [ProbeReport.Skipped]
    let elapsed: Double

    var text: String {
        var out =
            "PROBE will \(endpoint): \(probes.map(\.cases.count).reduce(0, +)) endings at once in \(Numbers.fixed(elapsed, 1)) s\n"
        var rows: [ProbeReport.Row] = []
        for probe in probes {
            out += "MQTT \(probe.plan.version)\n"
            let versionRows = probe.cases.map { c in
                let due =
                    c.due(probe.plan.version).map { "due \(Numbers.short($0)) s after the end" } ?? "must not come"
                let seen =
                    c.willAfterEnd.map { "published \(Numbers.fixed($0, 3)) s after the end" }
                    ?? (c.endedAt == nil
                        ? "the connection did not end" : "not published within \(Numbers.short(c.window)) s")
                let delay = probe.plan.version == .v5 ? " (will delay \(c.delay) s, session expiry \(c.expiry) s)" : ""
                return ProbeReport.Row(
                    label: c.ending.rawValue, verdict: c.findings.passed ? "pass" : "fail",
                    lines: ["\(seen); \(due)\(delay)"] + c.findings.reported.compactMap(\.reportLine),
                    passed: c.findings.passed, warnings: c.findings.warnings)
            }
            out += ProbeReport.render(versionRows, indent: "  ")
            rows += versionRows
        }
        for skip in skipped { out += "MQTT \(skip.version)\n  skipped: \(skip.reason)\n" }
        return out + ProbeReport.footer(rows)
    }

    var json: JSON {
        .object([
            ("probe", .string("will")),
            (
                "results",
                .array(
                    probes.map { probe in
                        .object([
                            ("protocol", .string(probe.plan.version.description)),
                            (
                                "cases",
                                .array(
                                    probe.cases.map { c in
                                        .object([
                                            ("ending", .string(c.ending.rawValue)),
                                            ("client_id", .string(c.clientID)),
                                            ("will_topic", .string(c.topic)),
                                            ("will_delay_s", probe.plan.version == .v5 ? .int(Int(c.delay)) : .null),
                                            (
                                                "session_expiry_s",
                                                probe.plan.version == .v5 ? .int(Int(c.expiry)) : .null
                                            ),
                                            ("due_s", c.due(probe.plan.version).map { JSON.rounded($0) } ?? .null),
                                            ("will_published", .bool(c.willAt != nil)),
                                            ("will_after_end_s", c.willAfterEnd.map { JSON.rounded($0) } ?? .null),
                                            ("findings", .array(c.findings.reported.map(\.json))),
                                            ("pass", .bool(c.findings.passed)),
                                        ])
                                    })
                            ),
                            ("pass", .bool(probe.passed)),
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
            ("pass", .bool(!probes.isEmpty && probes.allSatisfy(\.passed))),
        ])
    }

    func junit(startedAt: WallClock) -> JUnitReport {
        let suites = probes.map { probe in
            JUnitReport.Suite(
                name: "mqttctl probe will MQTT \(probe.plan.version)",
                cases: probe.cases.map { c in
                    .fromFindings(
                        name: c.ending.rawValue, className: ProbeReport.className("probe.will", probe.plan.version),
                        time: c.window,
                        facts: [
                            c.willAfterEnd.map { "published \(Numbers.fixed($0, 3)) s after the end" }
                                ?? "not published"
                        ],
                        findings: c.findings)
                })
        }
        return JUnitReport(
            name: "mqttctl probe will", suites: suites, time: elapsed, timestamp: startedAt.isoSecondsUTC)
    }
}
