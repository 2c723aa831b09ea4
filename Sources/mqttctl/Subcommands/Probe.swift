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
            probe (with -k 5 against mosquitto 2.0: about 15 s). See 'mqttctl probe keepalive \
            --help' and 'mqttctl probe takeover --help' for what is measured, the verdicts and \
            the specification behind them, and 'mqttctl probe all --help' for the options \
            (connection options, -k, --backoff, --max-wait, --grace, --topic-prefix, --strict, \
            --json).

            The report has one line per probe: what was measured and the verdict (pass, early, \
            late, never, inconclusive, refused, fail). While it waits, a status line on stderr \
            (only on a terminal, never with --json) shows what it waits for, the time elapsed \
            and the limit.

            JSON (--json): {"probe": "all", "keepalive": [the 'probe keepalive' document per \
            protocol version], "takeover": [the 'probe takeover' document per version and \
            session], "skipped": [{"protocol", "reason"}] (MQTT 5 when the broker refuses it), \
            "elapsed_s", "pass"}.

            Exit status: 0 when every verdict passes; 10 when one does not; 3 to 7 for \
            connection failures, 9 when a probe subscription is refused, 2 for usage errors, \
            130/143 on SIGINT/SIGTERM.

            Examples:
              mqttctl probe -h broker.example
              mqttctl probe -V 5 --strict --json | jq '.takeover[] | {session, disconnect_reason}'
              mqttctl probe keepalive -k 5 -k 10 --will-topic probe/gone
              mqttctl probe takeover -V 5 -c --will-topic probe/gone
            """,
        subcommands: [ProbeAll.self, ProbeKeepAlive.self, ProbeTakeover.self],
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
    @OptionGroup(title: "Keep-alive") var sweep: KeepAliveSweepOptions
    @OptionGroup(title: "Probe") var probe: ProbeOptions

    @Flag(name: .customLong("strict"), help: "MQTT 5 take-over: fail when the old connection gets no DISCONNECT 0x8E.")
    var strict = false

    func validate() throws {
        if connection.disableCleanSession || connection.sessionExpiry != nil {
            throw ValidationError("'probe' runs clean and persistent sessions itself; -c and -x apply to 'probe takeover'")
        }
    }

    func run() throws {
        let started = MonotonicClock.now()
        let versions: [ProtocolVersion]
        var explicit = false
        if let chosen = connection.protocolVersion.flatMap(ProtocolVersion.init(argument:)) {
            versions = [chosen]
            explicit = true
        } else {
            versions = [.v311, .v5]
        }
        let runID = RunID.make()
        var tasks: [ProbeTask] = []
        var keepAliveProbes: [KeepAliveProbe] = []
        var takeoverProbes: [TakeoverProbe] = []
        var skipped: [ProbeReport.Skipped] = []
        var contexts: [ProbeContext] = []
        let loop = EventLoop()
        let progress = Progress.forCommand(json: probe.json)

        for (index, version) in versions.enumerated() {
            let setup = try ProbeSetup(connection: connection, version: version, json: probe.json,
                                       idSuffix: nil, loop: loop, progress: progress)
            // The first version must work (its failure is the command's); a later
            // MQTT 5 that the broker turns away is skipped and said so.
            do {
                try setup.checkConnect(id: "\(setup.baseID)-\(version.rawValue)-chk")
            } catch {
                if index == 0 || explicit || error.status == .interrupted || error.status == .terminated { throw error }
                skipped.append(ProbeReport.Skipped(version: version, reason: "the broker did not accept MQTT \(version): \(error.message)"))
                continue
            }
            let base = "\(setup.baseID)-\(version == .v5 ? "5" : "3")"
            let topics = "\(probe.topicPrefix)/\(runID)/\(version == .v5 ? "5" : "3")"
            let will = Will(topic: "", payload: Array("mqttctl probe: connection gone".utf8), qos: 1)
            func withTopic(_ topic: String) -> Will { var w = will; w.topic = topic; return w }

            let keepAlive = KeepAliveProbe(plan: KeepAlivePlan(
                protocolVersion: version,
                subjects: sweep.values.map { KeepAlivePlan.Subject(keepAlive: $0, clientID: "\(base)-k\($0)", willTopic: "\(topics)/k\($0)/will") },
                will: will,
                control: KeepAlivePlan.Control(clientID: "\(base)-ctl", willTopic: "\(topics)/control/will"),
                observerID: "\(base)-obs-k", backoff: sweep.backoff, grace: probe.grace, maxWait: probe.maxWait),
                context: setup.context)
            keepAliveProbes.append(keepAlive)
            tasks.append(keepAlive)

            for persistent in [false, true] {
                let name = persistent ? "persistent" : "clean"
                let id = "\(base)-t\(persistent ? "p" : "c")"
                let takeover = TakeoverProbe(plan: TakeoverPlan(
                    protocolVersion: version, clientID: id, observerID: "\(id)-obs",
                    cleanStart: !persistent, sessionExpiry: persistent && version == .v5 ? 300 : nil,
                    newCleanStart: false, will: withTopic("\(topics)/\(name)/will"),
                    carryTopic: "\(topics)/\(name)/carry", keepAlive: 60, strict: strict, grace: probe.grace,
                    closeWait: probe.maxWait ?? TakeoverPlan.defaultCloseWait, sessionName: name),
                    context: setup.context)
                takeoverProbes.append(takeover)
                tasks.append(takeover)
            }
            contexts.append(setup.context)
        }

        if let context = contexts.first {
            try ProbeRunner.run(tasks, context: context)
        }
        let elapsed = MonotonicClock.seconds(started, MonotonicClock.now())
        let passed = tasks.allSatisfy { task in
            (task as? KeepAliveProbe)?.passed ?? (task as? TakeoverProbe)?.passed ?? false
        }
        let base = contexts.first?.base ?? ConnectOptions()
        let output = OutputBuffer()
        if probe.json {
            output.append(ProbeReport.json(keepAlive: keepAliveProbes, takeover: takeoverProbes, skipped: skipped,
                                           elapsed: elapsed, pass: passed).serialized() + "\n")
        } else {
            output.append(ProbeReport.text(endpoint: base.endpoint, versions: versions, keepAlive: keepAliveProbes,
                                           takeover: takeoverProbes, skipped: skipped, elapsed: elapsed))
        }
        output.flush()
        if !passed {
            let failed = keepAliveProbes.filter { !$0.passed }.map { "keep-alive MQTT \($0.plan.protocolVersion)" }
                + takeoverProbes.filter { !$0.passed }.map { "take-over MQTT \($0.plan.protocolVersion) \($0.plan.sessionName)" }
            throw CommandFailure(.verdictFailed, "probe did not pass: \(failed.joined(separator: ", "))")
        }
    }
}

/// The set-up every probe command shares: connection settings from the
/// options, a client id to build the probe's ids on, the loop and progress.
struct ProbeSetup {
    let options: ConnectOptions
    let baseID: String
    let userGaveID: Bool
    let context: ProbeContext

    /// `idSuffix`: appended to a made-up base id ("to" gives mqttctl-3fa2c1-to).
    init(connection: ConnectionOptions, version: ProtocolVersion, json: Bool, idSuffix: String?,
         loop: EventLoop = EventLoop(), progress: Progress? = nil) throws(CommandFailure) {
        var connection = connection
        userGaveID = connection.id != nil || connection.idPrefix != nil
        if !userGaveID {
            connection.id = "mqttctl-\(RunID.make())" + (idSuffix.map { "-\($0)" } ?? "")
        }
        (options, _) = try connection.makeConnectOptions(keepAlive: 60, protocolVersion: version, will: nil, properties: nil)
        baseID = options.clientID ?? "mqttctl"
        var base = options
        base.will = nil
        context = ProbeContext(loop: loop, base: base, debug: connection.debug,
                               progress: progress ?? Progress.forCommand(json: json), quiet: json)
    }

    /// Connects and disconnects once: fails the way a connection fails.
    func checkConnect(id: String) throws(CommandFailure) {
        let client = try context.makeClient(id: id)
        try ClientSession.connect(client, on: context.loop)
        ClientSession.disconnect(client, on: context.loop)
        context.loop.remove(client)
    }

    /// Writes the report to stdout.
    func print(_ text: String) {
        let output = OutputBuffer()
        output.append(text)
        output.flush()
    }
}

extension ProbeAll: DefaultsAccepting {
    static let defaultOwners: Set<Defaults.Owner> = [.connection]
}
