import ArgumentParser
import Mosquitto

struct ProbeKeepAlive: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keepalive",
        abstract: "Measure when and how the broker drops a client that goes silent.",
        discussion: """
            For each -k value (all at once, each on its own connection and client id) the probe \
            connects with that keep-alive, reads CONNACK and then goes fully silent: no packet of \
            any kind leaves the connection, not even an acknowledgement. It measures, with the \
            monotonic clock, the time from the last byte we wrote (the CONNECT) to the broker \
            closing the connection, and whether an MQTT 5 DISCONNECT with a reason code (0x8D \
            Keep Alive timeout) came first or the socket simply closed.

            The effective keep-alive K is what the broker enforces: its Server Keep Alive when \
            the MQTT 5 CONNACK carries one (a broker with max_keepalive 10 turns -k 60 into 10), \
            else -k. MQTT says a server that hears nothing for 1.5 × K MUST close the connection; \
            a client may be silent for K. So the limit is K × --backoff × 2 (default backoff 0.75: \
            1.5 × K) plus --grace (default 1 s, for brokers that count whole seconds).

            VERDICTS (what happened) AND WHAT THEY MEAN
              pass          dropped after at least K s and at most the limit (K=0: not dropped)
              early         dropped before K s (K=0: dropped at all): a warning, since a server \
            "is permitted to disconnect a Client ... at any time" (3.1.1 §3.1.2.10; MQTT 5: \
            "Setting Keep Alive does not guarantee that the Client will remain connected", \
            non-normative); a failure with --strict
              late          dropped after the limit: fails, [MQTT-3.1.2-24] (3.1.1) / \
            [MQTT-3.1.2-22] (5): "...within one and a half times the Keep Alive time period, it \
            MUST disconnect the Network Connection"
              never         not dropped, and we watched past the limit: fails, same clause
              inconclusive  not dropped, but --max-wait ended before the limit: nothing is \
            proven (exit 12 when nothing failed). When CONNACK already shows that no drop can be \
            judged within --max-wait (a Server Keep Alive of 65535 for K=0, as mosquitto gives \
            MQTT 5 clients), the probe says so at once instead of waiting.
              refused       the broker did not accept this keep-alive (a CONNACK refusal, or a \
            close without CONNACK): the server MAY check the CONNECT ([MQTT-3.1.4-2]): a \
            warning, a failure with --strict
            --max-wait defaults to twice the limit, at most 300 s, and 20 s for K=0 (or as long \
            as the sweep's other values are watched). Brokers that check keep-alive on a coarse \
            timer drop late: mosquitto 2.0 checks every 6 s and drops between ⌊1.5 K⌋ and ⌊1.5 K⌋ \
            + 7 s, so "late" for small K against it is a true finding, not a fault of the probe.

            HOW THE END IS SEEN
            After CONNACK the probe reads the broker's bytes itself (libmosquitto drops what a \
            DISCONNECT carries): an MQTT 5 DISCONNECT with its reason code, reason string and user \
            properties (ejabberd: 0x8D "Idle connection"), or a bare close, told apart as an \
            orderly FIN or a reset (RST). Probe connections acknowledge every read at once \
            (TCP_QUICKACK) and send without delay (TCP_NODELAY), so a delayed ACK of ours cannot \
            hold back the broker's next packet: the times are the broker's.

            SAMPLES
            Some brokers check keep-alive on a timer (mosquitto 2.0 about every 5 s), so one \
            sample per K says little. --samples N starts N silent clients per K, one after the \
            other over --spread seconds (default K, at most 10), each judged on its own, and \
            reports the min / median / max drop time, the check period they imply (the spread of \
            the drop times: a lower bound) and the worst sample's verdict.

            WILL
            With --will-topic every silent client gets a will (one -k: on that topic; several: \
            on TOPIC/k<K>), and an observer connection, subscribed before the silent clients \
            connect, reports whether each will arrived and how long after the drop (waiting up \
            to the will delay + 5 s + grace, never longer than --max-wait or 300 s). The broker \
            MUST publish it after a keep-alive drop ([MQTT-3.1.2-8]): a missing will fails. \
            MQTT 5 also times it: the session of these connections (session expiry 0) ends with \
            the connection, so the will is due at once, even with a will delay, and "SHOULD [be \
            published] promptly" (§3.1.2.5): one later than --grace warns. A negative control \
            connects with a will on TOPIC/control and disconnects cleanly; that will MUST NOT \
            appear ([MQTT-3.1.2-10]).

            \(ProbeOutcome.rulesHelp)

            JSON (--json): {"probe": "keepalive", "host", "port", "transport", "websocket_path", "protocol", "backoff", \
            "grace_s", "strict", "results": [{"client_id", "keepalive", "effective_keepalive", \
            "server_keepalive" (null when absent), "connack_code", "refusal" (why it was not \
            accepted, or null), "dropped", "dropped_after_s" (null when not dropped), "ratio" \
            (dropped_after_s / effective K), "expected_min_s", "expected_limit_s" (null for \
            K=0), "watched_s", "max_wait_s", "closed_by" ("disconnect", "fin", "reset" or \
            "error"), "disconnect_reason" (MQTT 5 reason code or null), \
            "disconnect_reason_string", "disconnect_user_properties" ([{"key", "value"}] or \
            null), "websocket_close_code", "websocket_close_reason" (the close frame that ended \
            it over WebSocket, else null), "will_topic", "will_published" (null without a will or a drop), \
            "will_after_drop_s", "will_watched_s", "verdict", "findings", "pass", "sample", \
            "started_after_s"}], "negative_control": {"client_id", "will_topic", \
            "will_published", "findings", "pass"} or null, "samples": [{"keepalive", "count", \
            "dropped", "min_s", "median_s", "max_s", "implied_check_period_s", \
            "worst_verdict"}] (keep-alives with --samples 2 or more), "notes": [...], "elapsed_s", "inconclusive", "pass"}. Times in \
            seconds with millisecond precision, from the monotonic clock; drop times include \
            one network round trip.

            Exit status: 0 when no MUST was broken (with --strict: no warning either) and every \
            verdict was reached; 10 when a rule failed; 12 when nothing failed but a verdict was \
            inconclusive; 3 to 7 for connection failures (the observer's included), 9 when the \
            will observer's subscription is refused, 2 for usage errors, 130/143 on \
            SIGINT/SIGTERM (every connection is closed with DISCONNECT first, so no will is \
            published).

            Examples:
              mqttctl probe keepalive -k 5 -k 10 -k 30
              mqttctl probe keepalive -V 5 -k 60 --will-topic probe/gone --json
              mqttctl probe keepalive -k 10 --backoff 1 --grace 0      # limit exactly 2 × K
              mqttctl probe keepalive -k 0 -k 5 --strict               # a refused K fails too
              mqttctl probe keepalive -k 5 --samples 5                 # the broker's keep-alive clock
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Connection") var transport: TransportOptions
    @OptionGroup(title: "Keep-alive") var sweep: KeepAliveSweepOptions
    @OptionGroup(title: "Probe") var probe: ProbeOptions
    @OptionGroup(title: "Will") var will: WillOptions

    func validate() throws {
        if connection.disableCleanSession || connection.sessionExpiry != nil {
            throw ValidationError("probe keepalive uses clean sessions; -c and -x apply to 'probe takeover'")
        }
    }

    func run() throws {
        let version = try connection.resolvedProtocol(needsV5: will.needsV5)
        let setup = try ProbeSetup(connection: connection, transport: transport, version: version, json: probe.json, idSuffix: nil)
        let template = try will.makeWill(protocolVersion: version, properties: nil)
        let values = sweep.values
        let samples = sweep.samples
        let single = values.count == 1 && samples == 1
        let subjects = KeepAlivePlan.subjects(
            keepAlives: values, samples: samples, spread: sweep.spread,
            id: { k, i in
                single && setup.userGaveID ? setup.baseID : "\(setup.baseID)-k\(k)" + (samples > 1 ? "-s\(i + 1)" : "")
            },
            willTopic: { k, i in
                template.map { single ? $0.topic : "\($0.topic)/k\(k)" + (samples > 1 ? "/s\(i + 1)" : "") }
            })
        var plan = KeepAlivePlan(
            protocolVersion: version, subjects: subjects, will: template,
            control: template.map {
                KeepAlivePlan.Control(clientID: "\(setup.baseID)-ctl", willTopic: "\($0.topic)/control")
            },
            observerID: "\(setup.baseID)-obs", backoff: sweep.backoff, grace: probe.grace, maxWait: probe.maxWait)
        plan.strict = probe.strict
        let task = KeepAliveProbe(plan: plan, context: setup.context)
        let started = MonotonicClock.now()
        let startedAt = WallClock.now()
        try ProbeRunner.run([task], context: setup.context)
        let elapsed = MonotonicClock.seconds(started, MonotonicClock.now())

        try setup.print(
            probe.json ? ProbeReport.json(task, elapsed: elapsed).serialized() + "\n" : ProbeReport.text(task))
        if let path = probe.junit {
            try ProbeReport.junit(
                keepAlive: [task], takeover: [], skipped: [], name: "mqttctl probe keepalive",
                elapsed: elapsed, startedAt: startedAt
            ).write(to: path)
        }
        let failed =
            task.subjects.filter { !$0.passed }.map { subject in
                let sample = sweep.samples > 1 ? " #\(subject.plan.sample + 1)" : ""
                return
                    "K=\(subject.plan.keepAlive) s\(sample): \(subject.verdict?.rawValue ?? "-")\(subject.willPublished == false ? ", no will" : "")"
            }
            + (task.control?.passed(version: version, strict: plan.strict) == false
                ? ["negative control: will published after a clean DISCONNECT"] : [])
        try ProbeOutcome.finish(
            command: "probe keepalive", passed: task.passed, inconclusive: task.inconclusive, failed: failed)
    }
}

extension ProbeKeepAlive {
    /// The defaulted option groups it includes (Defaults.declarations).
    static let defaultOwners: Defaults.Owners = [.connection, .transport]
}
