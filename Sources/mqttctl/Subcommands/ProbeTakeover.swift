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

            WHAT THE SPECIFICATION REQUIRES (and the probe checks)
            MQTT 3.1.1: the server MUST close A [MQTT-3.1.4-2]. A did not send DISCONNECT, so \
            its will MUST be published [MQTT-3.1.2-8] (§3.1.2.5), with clean or persistent \
            sessions alike. Session present is 1 only when A and B both use clean session 0 \
            [MQTT-3.2.2-2].
            MQTT 5: the server sends DISCONNECT 0x8E to A and MUST close it [MQTT-3.1.4-3]. The \
            close is the requirement; a missing 0x8E is reported as a note, and fails with \
            --strict. The will follows the session (§3.1.3.2.2): when the session ends (B uses \
            clean start, or A's session expiry is 0) the will is published at once, even with \
            a will delay, because the end of the session comes first; when the session goes on \
            (B clean start 0 and A's session expiry > 0), B connected before A's will delay \
            could pass, so the will MUST NOT be published [MQTT-3.1.3-9]. Session present is 1 \
            exactly when the session goes on.
            mosquitto 2.0.11 closes A without 0x8E (added in 2.0.15), never publishes a will \
            that has a will delay, and does not publish the will of a persistent MQTT 3.1.1 \
            session that B resumes: the probe reports those as they are.

            VERDICT: pass when A was closed within --max-wait (default 5 s), the will \
            matched the rule (waiting up to the will delay + 3 s + grace), session present \
            matched, and the subscription carried over exactly when the session went on; with \
            --strict also when A got 0x8E. Otherwise fail.

            JSON (--json): {"probe": "takeover", "host", "port", "protocol", "client_id", \
            "session" ("clean" or "persistent"), "clean_start", "new_clean_start", \
            "session_expiry" (MQTT 5), "will_delay_s", "old_closed", "closed_after_ms", \
            "connack_after_ms", "closed_by" ("disconnect" or "socket"), "disconnect_reason" \
            (reason code A received, or null), "will_expected", "will_published" (null without \
            a will), "will_after_close_ms", "session_present", "session_present_expected", \
            "subscription_carried_over" (null when the session cannot survive), "verdict" \
            ("pass" or "fail"), "failures": [...], "notes": [...], "pass"}.

            Exit status: 0 on pass; 10 on fail; 3 to 7 for connection failures, 9 when a \
            probe subscription is refused, 2 for usage errors, 130/143 on SIGINT/SIGTERM.

            Examples:
              mqttctl probe takeover --will-topic probe/gone
              mqttctl probe takeover -V 5 -c -x 300 --will-topic probe/gone --will-delay 5
              mqttctl probe takeover -V 5 --strict --json
            """
    )

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Connection") var keepAlive: KeepAliveOption
    @OptionGroup(title: "Probe") var probe: ProbeOptions
    @OptionGroup(title: "Will (of connection A)") var will: WillOptions

    @Flag(name: .customLong("new-clean"), help: "B connects with clean start even though A kept its session (-c or -x): the session ends.")
    var newClean = false

    func validate() throws {
        if newClean && !connection.disableCleanSession && connection.sessionExpiry == nil {
            throw ValidationError("--new-clean needs a session that A keeps (-c, or -x with MQTT 5)")
        }
    }

    func run() throws {
        let version = try connection.resolvedProtocol(needsV5: will.needsV5 || connection.sessionExpiry != nil)
        let setup = try ProbeSetup(connection: connection, version: version, json: probe.json, idSuffix: "to")
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
        if Topic.problemWithName(plan.carryTopic) != nil {
            throw CommandFailure.usage("the client id '\(setup.baseID)' cannot be part of a topic; use -i with another id")
        }
        let task = TakeoverProbe(plan: plan, context: setup.context)
        try ProbeRunner.run([task], context: setup.context)

        setup.print(probe.json ? ProbeReport.json(task).serialized() + "\n" : ProbeReport.text(task))
        let failed = task.findings.filter { $0.level == .fail }.map { "\($0.text) (\($0.rule.clause))" }
        try ProbeOutcome.finish(command: "probe takeover", passed: task.passed, inconclusive: false,
                                failed: failed.isEmpty ? ["the probe did not finish"] : failed)
    }
}

extension ProbeTakeover: DefaultsAccepting {
    static let defaultOwners: Set<Defaults.Owner> = [.connection,.keepAlive]
}
