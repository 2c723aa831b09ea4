import ArgumentParser
import Mosquitto

struct ProbeTakeover: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "takeover",
        abstract: "Measure what the broker does when a second connection takes over a client id.",
        discussion: """
            Connection A connects (client id -i, or a made-up one; its will from --will-topic; \
            its session from -c/-x), then connection B connects with the same id. The probe \
            reports whether and how fast A was closed (from B's CONNECT, monotonic clock), \
            whether A received DISCONNECT 0x8E (Session taken over, MQTT 5) or just a closed \
            socket, whether A's will was published (an observer subscribed beforehand watches \
            its topic) and whether that matches the specification, B's session-present flag, \
            and, when A's session can outlive it, whether A's subscription carried over to B: A \
            subscribes to TOPIC-PREFIX/<id>/carry, the observer publishes there after the \
            take-over, and B must receive it without subscribing. Nothing reconnects (two \
            clients that share an id and reconnect kick each other forever). Afterwards a clean \
            connection with the same id removes any session left behind.

            WHAT THE SPECIFICATION REQUIRES (and the probe checks, with each finding's clause and level)
            Close: the server MUST close A: [MQTT-3.1.4-2] (3.1.1), [MQTT-3.1.4-3] (5). MQTT 5 \
            describes a DISCONNECT 0x8E (Session taken over) before the close but binds only the \
            close with its MUST (and §3.14 makes every DISCONNECT a MAY): a missing 0x8E is a \
            warning, a failure with --strict.
            Will, MQTT 3.1.1: A sent no DISCONNECT, so its will MUST be published \
            [MQTT-3.1.2-8], with clean or persistent sessions alike.
            Will, MQTT 5, by A's session expiry (SE), B's clean start (CS) and the will delay (WD):
              SE any, B CS 1, WD any: published, the session ends (MUST, [MQTT-3.1.2-8] "...or \
            the Session ends")
              SE > 0, B CS 0, WD 0: published at A's close (MUST, [MQTT-3.1.2-8] as both \
            non-normative comments explain it: §3.1.3.2.2 "If the Will Delay is 0 the Will \
            Message is sent at the close of the existing Network Connection")
              SE > 0, B CS 0, WD > 0: not published (MUST NOT, [MQTT-3.1.3-9])
              SE 0, B CS 0, WD 0: published, the session ends with A's connection (MUST)
              SE 0, B CS 0, WD > 0: unsettled: §3.1.3.2.2 and the exception of \
            [MQTT-3.1.2-8] say not published, the §3.1.4 comment says published; a note that \
            quotes both, never a failure
            A will that is published SHOULD come promptly (§3.1.2.5): later than --grace warns.
            Session present: 0 after B's clean start (MUST, [MQTT-3.2.2-1] in 3.1.1, \
            [MQTT-3.2.2-2] in 5); 1 when B resumes a session A kept (MUST, [MQTT-3.2.2-2] in \
            3.1.1, [MQTT-3.2.2-3] in 5); 0 when A's session expiry was 0 (non-normative, the \
            §3.1.4 comment). The subscription carries over exactly when the session goes on \
            ([MQTT-3.1.2-4] in 3.1.1, [MQTT-3.1.2-5] in 5) and not when it ends.
            mosquitto 2.0.11 closes A without 0x8E (added in 2.0.15), never publishes a will \
            that has a will delay, and drops the will of a session that B resumes (3.1.1 and \
            MQTT 5): the probe reports those as they are. ejabberd 23.01 passes every check.

            HOW IT IS MEASURED
            A's connection goes quiet once its subscription is acknowledged, and from then on \
            the probe reads what the broker sends A itself: a DISCONNECT with its reason code, \
            reason string and user properties (libmosquitto would drop those), or a bare close \
            (FIN or reset). Probe connections acknowledge every read at once and send without \
            delay, so the times (B's CONNECT to A's close; A's close to the will) are the \
            broker's, not a delayed ACK's. Every wait is bounded: A's close by --max-wait \
            (default 5 s), the will window (its delay + 3 s + grace) by --max-wait or 300 s.

            \(ProbeOutcome.rulesHelp)

            JSON (--json): {"probe": "takeover", "host", "port", "transport", "websocket_path", "protocol", "client_id", \
            "session" ("clean" or "persistent"), "clean_start", "new_clean_start", \
            "session_expiry" (MQTT 5), "will_delay_s", "strict", "old_closed", \
            "closed_after_ms", "connack_after_ms", "closed_by" ("disconnect", "fin", "reset" or \
            "error"), "disconnect_reason" (reason code A received, or null), \
            "disconnect_reason_string", "disconnect_user_properties", "websocket_close_code", \
            "websocket_close_reason" (over WebSocket, or null), "will_expected" (null \
            without a will, or when unsettled), "will_rule" (the basis of the will rule), \
            "will_published" (null without a will), "will_after_close_ms" (negative: the will \
            arrived before we saw A's close), "session_present", "session_present_expected", \
            "subscription_carried_over" (null when the session cannot survive), "verdict" \
            ("pass" or "fail"), "findings", "failures": [the failed findings' texts], \
            "notes": [...], "pass"}.

            Exit status: 0 when no MUST was broken (with --strict: no warning either); 10 when \
            one was; 3 to 7 for connection failures, 9 when a probe subscription is refused, 2 \
            for usage errors, 130/143 on SIGINT/SIGTERM.

            ACROSS CLUSTER NODES
            --b-host/--b-port connect B to another node than A (and the observer there too, or \
            to --observer-host/--observer-port): a cluster must take the session over across \
            nodes by the same rules. Against two independent brokers A is not closed, and the \
            report says plainly that they are not one cluster.

            MATRIX
            --matrix runs every variant at once, for MQTT 3.1.1 and 5 (-V picks one), each with \
            its own client id, will and topics, and prints a table per version: clean; \
            persistent; clean to persistent (A clean, B resumes nothing); persistent to clean \
            (B's clean start ends A's session); B with a will of its own (it MUST NOT be \
            published: B is connected, [MQTT-3.1.2-8]); A silent with a message in flight (A \
            holds a QoS 1 message unacknowledged when B takes over, the half-open case the \
            take-over exists for: a session that goes on MUST resend it to B, [MQTT-4.4.0-1]); \
            MQTT 5 also B with another session expiry than A's, and a persistent session with \
            a will delay of 2 s. The JSON is {"probe": "takeover-matrix", "takeover": [the \
            document above per variant, with "b_will_published" and "inflight_redelivered"], \
            "skipped", "elapsed_s", "pass"}.

            Examples:
              mqttctl probe takeover --will-topic probe/gone
              mqttctl probe takeover --matrix
              mqttctl probe takeover -V 5 -c -x 300 --will-topic probe/gone --will-delay 5
              mqttctl probe takeover -V 5 --strict --json
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Connection") var transport: TransportOptions
    @OptionGroup(title: "Connection") var keepAlive: KeepAliveOption
    @OptionGroup(title: "Probe") var probe: ProbeOptions
    @OptionGroup(title: "Will (of connection A)") var will: WillOptions

    @Flag(
        name: .customLong("new-clean"),
        help: "B connects with clean start even though A kept its session (-c or -x): the session ends.")
    var newClean = false

    @Option(
        name: .customLong("b-host"), parsing: .unconditional,
        help: ArgumentHelp("Connect B to this host (another node of a cluster; default: A's).", valueName: "host"))
    var bHost: String?

    @Option(
        name: .customLong("b-port"), parsing: .unconditional,
        help: ArgumentHelp("Connect B to this port (default: A's).", valueName: "port"),
        transform: Port.value)
    var bPort: Int?

    @Option(
        name: .customLong("observer-host"), parsing: .unconditional,
        help: ArgumentHelp("Connect the will observer to this host (default: B's).", valueName: "host"))
    var observerHost: String?

    @Option(
        name: .customLong("observer-port"), parsing: .unconditional,
        help: ArgumentHelp("Connect the will observer to this port (default: B's).", valueName: "port"),
        transform: Port.value)
    var observerPort: Int?

    @Flag(
        name: .customLong("matrix"),
        help:
            "Run every take-over variant at once (clean, persistent, clean to persistent, persistent to clean, B with a will, A silent with a message in flight; MQTT 5 also B with another session expiry and a delayed will), as a table per protocol version (both unless -V)."
    )
    var matrix = false

    func validate() throws {
        if matrix
            && (newClean || connection.disableCleanSession || connection.sessionExpiry != nil || will.topic != nil
                || connection.id != nil)
        {
            throw ValidationError(
                "--matrix sets the sessions, wills and client ids of its variants itself: no -c, -x, -i, --new-clean or --will-*"
            )
        }
        if newClean && !connection.disableCleanSession && connection.sessionExpiry == nil {
            throw ValidationError("--new-clean needs a session that A keeps (-c, or -x with MQTT 5)")
        }
    }

    func run() throws {
        if matrix { return try runMatrix() }
        let version = try connection.resolvedProtocol(needsV5: will.needsV5 || connection.sessionExpiry != nil)
        let setup = try ProbeSetup(connection: connection, transport: transport, version: version, json: probe.json, idSuffix: "to")
        let template = try will.makeWill(protocolVersion: version, properties: nil)
        var plan = TakeoverPlan(
            protocolVersion: version, clientID: setup.baseID, observerID: "\(setup.baseID)-obs",
            cleanStart: setup.options.cleanSession, sessionExpiry: setup.options.sessionExpiry,
            newCleanStart: newClean, will: template,
            carryTopic: "\(probe.topicPrefix)/\(setup.baseID)/carry", keepAlive: keepAlive.keepAlive,
            strict: probe.strict, grace: probe.grace, closeWait: probe.maxWait ?? TakeoverPlan.defaultCloseWait,
            sessionName: "clean")
        plan.waitCap = probe.maxWait ?? TakeoverPlan.defaultWaitCap
        plan.sessionName = plan.aSessionSurvives ? "persistent" : "clean"
        if bHost != nil || bPort != nil {
            plan.bEndpoint = (bHost ?? setup.options.host, bPort ?? setup.options.port)
        }
        if observerHost != nil || observerPort != nil || plan.bEndpoint != nil {
            let b = plan.bEndpoint ?? (setup.options.host, setup.options.port)
            plan.observerEndpoint = (observerHost ?? b.host, observerPort ?? b.port)
        }
        if Topic.problemWithName(plan.carryTopic) != nil {
            throw CommandFailure.usage(
                "the client id '\(setup.baseID)' cannot be part of a topic; use -i with another id")
        }
        let task = TakeoverProbe(plan: plan, context: setup.context)
        let startedAt = WallClock.now()
        try ProbeRunner.run([task], context: setup.context)

        try setup.print(probe.json ? ProbeReport.json(task).serialized() + "\n" : ProbeReport.text(task))
        if let path = probe.junit {
            try ProbeReport.junit(
                keepAlive: [], takeover: [task], skipped: [], name: "mqttctl probe takeover",
                elapsed: task.elapsed, startedAt: startedAt
            ).write(to: path)
        }
        let failed = task.findings.filter { $0.level == .fail }.map { "\($0.text) (\($0.rule.clause))" }
        try ProbeOutcome.finish(
            command: "probe takeover", passed: task.passed, inconclusive: false,
            failed: failed.isEmpty ? ["the probe did not finish"] : failed)
    }
}

extension ProbeTakeover {
    /// --matrix: every variant for each version the broker accepts, all at once.
    func runMatrix() throws {
        let started = MonotonicClock.now()
        let startedAt = WallClock.now()
        let explicit = connection.protocolVersion
        let versions = ProbeSetup.versions(explicit)
        let loop = EventLoop()
        let progress = Progress.forCommand(json: probe.json)
        let setups = try versions.map { version throws(CommandFailure) in
            try ProbeSetup(
                connection: connection, transport: transport, version: version, json: probe.json, idSuffix: "tm", loop: loop,
                progress: progress)
        }
        var tasks: [TakeoverProbe] = []
        let runID = RunID.make()
        let (usable, skipped) = try ProbeSetup.accepted(setups, explicit: explicit)
        for (setup, ack) in usable {
            let plans = TakeoverVariants.plans(
                setup.version, base: "\(setup.baseID)-\(setup.version == .v5 ? "5" : "3")",
                topics: "\(probe.topicPrefix)/\(runID)/\(setup.version == .v5 ? "5" : "3")",
                willQoS: min(1, ack.properties.maximumQoS ?? 2), probe: probe, keepAlive: keepAlive.keepAlive)
            tasks += plans.map { TakeoverProbe(plan: $0, context: setup.context) }
        }
        if let context = setups.first?.context, !tasks.isEmpty { try ProbeRunner.run(tasks, context: context) }
        let elapsed = MonotonicClock.seconds(started, MonotonicClock.now())
        let passed = !tasks.isEmpty && tasks.allSatisfy(\.passed)
        let output = OutputBuffer()
        if probe.json {
            output.append(
                JSON.object([
                    ("probe", .string("takeover-matrix")),
                    ("takeover", .array(tasks.map { ProbeReport.json($0) })),
                    (
                        "skipped",
                        .array(
                            skipped.map {
                                .object([("protocol", .string($0.version.description)), ("reason", .string($0.reason))])
                            })
                    ),
                    ("elapsed_s", JSON.rounded(elapsed)),
                    ("pass", .bool(passed)),
                ]).serialized() + "\n")
        } else {
            output.append(
                ProbeReport.matrixText(
                    endpoint: setups.first?.context.endpoint ?? "", probes: tasks, skipped: skipped, elapsed: elapsed))
        }
        try output.finish()
        if let path = probe.junit {
            try ProbeReport.junit(
                keepAlive: [], takeover: tasks, skipped: skipped, name: "mqttctl probe takeover --matrix",
                elapsed: elapsed, startedAt: startedAt
            ).write(to: path)
        }
        let failed = tasks.filter { !$0.passed }.map { "MQTT \($0.plan.protocolVersion) \($0.plan.sessionName)" }
        try ProbeOutcome.finish(command: "probe takeover --matrix", passed: passed, inconclusive: false, failed: failed)
    }
}

extension ProbeTakeover {
    /// The defaulted option groups it includes (Defaults.declarations).
    static let defaultOwners: Defaults.Owners = [.connection, .transport, .keepAlive]
}
