import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Measure how the broker enforces keep-alive and handles client take-over.",
        discussion: """
            Without a subcommand, runs every probe with its defaults, for MQTT 3.1.1 and, when \
            the broker accepts it, MQTT 5 (-V picks one): 'probe keepalive' (-k, default 5 s) \
            with a will and its negative control, and 'probe takeover' with a clean and with a \
            persistent session, each with a will. All of them run at once in one event loop, on \
            connections with their own client ids (mqttctl-<random>-<version>-...) and topics \
            (under --topic-prefix), so the whole report takes about as long as the slowest \
            probe (with -k 5 against mosquitto 2.0: about 12 s). See 'mqttctl probe keepalive \
            --help' and 'mqttctl probe takeover --help' for what is measured, the verdicts and \
            the specification behind them, and 'mqttctl probe all --help' for the options \
            (connection options, -k, --backoff, --max-wait, --grace, --topic-prefix, --strict, \
            --json).

            The report has one block per probe: what was measured, the verdict (pass, early, \
            late, never, inconclusive, refused, fail) and every finding that is not a pass, with \
            its level and clause ("FAIL (MUST, MQTT 5 [MQTT-3.1.2-22]): ..."; "warning (SHOULD, \
            ...)"; "note (unsettled, ...)"). While it waits, a status line on stderr (only on a \
            terminal, never with --json) shows what it waits for, the time elapsed and the limit.

            Every protocol version is first tried at once; one the broker does not accept (a \
            refusal, no CONNACK within --connect-timeout, an MQTT 3.1.1 CONNACK to an MQTT 5 \
            CONNECT) is skipped and said so, and the others are probed. Probe connections use \
            the broker's Maximum QoS when it is below 1.

            \(ProbeOutcome.rulesHelp)

            JSON (--json): {"probe": "all", "keepalive": [the 'probe keepalive' document per \
            protocol version], "takeover": [the 'probe takeover' document per version and \
            session], "skipped": [{"protocol", "reason"}], "elapsed_s", "inconclusive", "pass"}.

            Exit status: 0 when no MUST was broken (with --strict: no warning either) and every \
            verdict was reached; 10 when a rule failed; 12 when nothing failed but a verdict was \
            inconclusive; 3 to 7 for connection failures (when no version could be probed), 9 \
            when a probe subscription is refused, 2 for usage errors, 130/143 on SIGINT/SIGTERM.

            Examples:
              mqttctl probe -h broker.example
              mqttctl probe -V 5 --strict --json | jq '.takeover[] | {session, disconnect_reason}'
              mqttctl probe keepalive -k 5 -k 10 --will-topic probe/gone
              mqttctl probe takeover -V 5 -c --will-topic probe/gone
            """,
        subcommands: [
            ProbeAll.self, ProbeKeepAlive.self, ProbeTakeover.self, ProbeWill.self, ProbeSession.self, ProbeLimits.self,
        ],
        defaultSubcommand: ProbeAll.self
    )
}

/// `mqttctl probe` and `mqttctl probe all`: every probe at once.
struct ProbeAll: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "Run every probe at once, for MQTT 3.1.1 and 5 (the default of 'probe').",
        discussion: """
            What 'mqttctl probe' runs when no subcommand is given: 'probe keepalive' with a will \
            and its negative control, and 'probe takeover' with a clean and a persistent \
            session, for each protocol version, all at once. See 'mqttctl probe --help' for the \
            report, the JSON document and the exit status.
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Connection") var transport: TransportOptions
    @OptionGroup(title: "Keep-alive") var sweep: KeepAliveSweepOptions
    @OptionGroup(title: "Probe") var probe: ProbeOptions

    func validate() throws {
        if connection.disableCleanSession || connection.sessionExpiry != nil {
            throw ValidationError(
                "'probe' runs clean and persistent sessions itself; -c and -x apply to 'probe takeover'")
        }
    }

    func run() throws {
        let started = MonotonicClock.now()
        let startedAt = WallClock.now()
        let explicit = connection.protocolVersion
        let versions = ProbeSetup.versions(explicit)
        let runID = RunID.make()
        let loop = EventLoop()
        let progress = Progress.forCommand(json: probe.json)
        let setups = try versions.map { version throws(CommandFailure) in
            try ProbeSetup(
                connection: connection, transport: transport, version: version, json: probe.json, idSuffix: nil, loop: loop,
                progress: progress)
        }

        let (usable, skipped) = try ProbeSetup.accepted(setups, explicit: explicit)

        var tasks: [ProbeTask] = []
        var keepAliveProbes: [KeepAliveProbe] = []
        var takeoverProbes: [TakeoverProbe] = []
        for (setup, ack) in usable {
            let version = setup.version
            let base = "\(setup.baseID)-\(version == .v5 ? "5" : "3")"
            let topics = "\(probe.topicPrefix)/\(runID)/\(version == .v5 ? "5" : "3")"
            // At most the QoS the broker allows (a will above it would be refused).
            let qos = min(1, ack.properties.maximumQoS ?? 2)
            let will = Will(topic: "", payload: Array("mqttctl probe: connection gone".utf8), qos: qos)
            func withTopic(_ topic: String) -> Will { var w = will; w.topic = topic; return w }

            var keepAlivePlan = KeepAlivePlan(
                protocolVersion: version,
                subjects: KeepAlivePlan.subjects(
                    keepAlives: sweep.values, samples: sweep.samples, spread: sweep.spread,
                    id: { k, i in "\(base)-k\(k)" + (sweep.samples > 1 ? "-s\(i + 1)" : "") },
                    willTopic: { k, i in "\(topics)/k\(k)" + (sweep.samples > 1 ? "/s\(i + 1)" : "") + "/will" }),
                will: will,
                control: KeepAlivePlan.Control(clientID: "\(base)-ctl", willTopic: "\(topics)/control/will"),
                observerID: "\(base)-obs-k", backoff: sweep.backoff, grace: probe.grace, maxWait: probe.maxWait)
            keepAlivePlan.strict = probe.strict
            let keepAlive = KeepAliveProbe(plan: keepAlivePlan, context: setup.context)
            keepAliveProbes.append(keepAlive)
            tasks.append(keepAlive)

            for persistent in [false, true] {
                let name = persistent ? "persistent" : "clean"
                let id = "\(base)-t\(persistent ? "p" : "c")"
                var plan = TakeoverPlan(
                    protocolVersion: version, clientID: id, observerID: "\(id)-obs",
                    cleanStart: !persistent, sessionExpiry: persistent && version == .v5 ? 300 : nil,
                    newCleanStart: false, will: withTopic("\(topics)/\(name)/will"),
                    carryTopic: "\(topics)/\(name)/carry", keepAlive: 60, strict: probe.strict, grace: probe.grace,
                    closeWait: probe.maxWait ?? TakeoverPlan.defaultCloseWait, sessionName: name)
                plan.waitCap = probe.maxWait ?? TakeoverPlan.defaultWaitCap
                let takeover = TakeoverProbe(plan: plan, context: setup.context)
                takeoverProbes.append(takeover)
                tasks.append(takeover)
            }
        }

        if let context = usable.first?.setup.context {
            try ProbeRunner.run(tasks, context: context)
        }
        let elapsed = MonotonicClock.seconds(started, MonotonicClock.now())
        let passed = keepAliveProbes.allSatisfy(\.passed) && takeoverProbes.allSatisfy(\.passed)
        let failed =
            keepAliveProbes.filter { !$0.passed && !$0.inconclusive }.map {
                "keep-alive MQTT \($0.plan.protocolVersion)"
            }
            + takeoverProbes.filter { !$0.passed }.map {
                "take-over MQTT \($0.plan.protocolVersion) \($0.plan.sessionName)"
            }
        let inconclusive = !passed && failed.isEmpty
        let endpoint = setups.first?.context.endpoint ?? ""
        let output = OutputBuffer()
        if probe.json {
            output.append(
                ProbeReport.json(
                    keepAlive: keepAliveProbes, takeover: takeoverProbes, skipped: skipped,
                    elapsed: elapsed, pass: passed, inconclusive: inconclusive
                ).serialized() + "\n")
        } else {
            output.append(
                ProbeReport.text(
                    endpoint: endpoint, versions: versions, keepAlive: keepAliveProbes,
                    takeover: takeoverProbes, skipped: skipped, elapsed: elapsed))
        }
        try output.finish()
        if let path = probe.junit {
            try ProbeReport.junit(
                keepAlive: keepAliveProbes, takeover: takeoverProbes, skipped: skipped, name: "mqttctl probe",
                elapsed: elapsed, startedAt: startedAt
            ).write(to: path)
        }
        let undecided = keepAliveProbes.filter(\.inconclusive).map { "keep-alive MQTT \($0.plan.protocolVersion)" }
        try ProbeOutcome.finish(
            command: "probe", passed: passed, inconclusive: inconclusive,
            failed: inconclusive ? undecided : failed)
    }
}

extension ProbeAll {
    /// The defaulted option groups it includes (Defaults.declarations).
    static let defaultOwners: Defaults.Owners = [.connection, .transport]
}
