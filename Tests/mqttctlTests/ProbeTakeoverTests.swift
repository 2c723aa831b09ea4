import Foundation
import Testing

/// `mqttctl probe takeover` against the real mosquitto 2.0.11 (what it really
/// does: close without 0x8E, wills per its own rules, sessions) and against the
/// scripted peer (DISCONNECT 0x8E, a broker that does not close the old connection).
@Suite struct ProbeTakeoverTests {
    static let keys = [
        "old_closed", "closed_after_ms", "disconnect_reason", "will_published", "session_present",
        "verdict", "pass", "will_expected", "session_present_expected", "subscription_carried_over",
    ]

    func takeover(_ port: Int, _ arguments: [String], timeout: Double = 60) async throws -> (RunResult, [String: Any]) {
        let result = try await runAsync(["probe", "takeover", "-p", "\(port)", "--json"] + arguments, timeout: timeout)
        let document = try jsonDocument(result)
        #expect(document.hasKeys(Self.keys), "\(document)")
        return (result, document)
    }

    // MARK: mosquitto 2.0.11

    /// MQTT 3.1.1, clean session: the old connection is closed (no packet: 3.1.1
    /// has no server DISCONNECT) and its will is published.
    @Test func mqtt311CleanSession() async throws {
        let broker = try TestBroker.standard()
        let (result, d) = try await takeover(broker.port, ["-V", "311", "--will-topic", uniqueTopic()])
        #expect(result.status == 0, "\(result)")
        #expect(d.bool("old_closed") == true)
        #expect((d.number("closed_after_ms") ?? -1) >= 0 && (d.number("closed_after_ms") ?? 1e9) < 5000, "\(d)")
        #expect(d.string("closed_by") == "fin")
        #expect(d.isNull("disconnect_reason"))
        #expect(d.bool("will_expected") == true)
        #expect(d.bool("will_published") == true)
        #expect(d.bool("session_present") == false)
        #expect(d.isNull("subscription_carried_over"))
        #expect(d.string("verdict") == "pass")
    }

    /// MQTT 3.1.1, persistent session: the session and A's subscription carry
    /// over to B, but mosquitto 2.0.11 discards the will, while 3.1.1 requires it
    /// ([MQTT-3.1.2-8]): a true finding, reported as a failed verdict.
    @Test func mqtt311PersistentSessionLosesTheWillOnMosquitto() async throws {
        let broker = try TestBroker.standard()
        let (result, d) = try await takeover(broker.port, ["-V", "311", "-c", "--will-topic", uniqueTopic()])
        #expect(result.status == 10, "\(result)")
        #expect(d.bool("old_closed") == true)
        #expect(d.bool("session_present") == true)
        #expect(d.bool("subscription_carried_over") == true)
        #expect(d.bool("will_expected") == true)
        #expect(d.bool("will_published") == false)
        #expect(d.string("verdict") == "fail")
        #expect((d["failures"] as? [String])?.first?.contains("MQTT-3.1.2-8") == true, "\(d)")
        #expect(result.stderr.contains("probe takeover did not pass: A's will was not published"), "\(result)")
    }

    /// MQTT 5, clean start: closed without DISCONNECT 0x8E (added in mosquitto
    /// 2.0.15). The close is the MUST, so this passes with a warning, and fails with --strict.
    @Test(arguments: [false, true])
    func mqtt5CleanStartWithoutSessionTakenOver(strict: Bool) async throws {
        let broker = try TestBroker.standard()
        let (result, d) = try await takeover(
            broker.port, ["-V", "5", "--will-topic", uniqueTopic()] + (strict ? ["--strict"] : []))
        #expect(d.bool("old_closed") == true)
        #expect(d.isNull("disconnect_reason"))
        #expect(d.bool("will_expected") == true)
        #expect(d.bool("will_published") == true)
        #expect(d.bool("session_present") == false)
        let findings = d.objects("findings")
        let missing8E = findings.first { $0.string("text")?.contains("0x8E") == true }
        #expect(missing8E?.string("basis") == "SHOULD", "\(d)")
        #expect(missing8E?.string("clause")?.contains("[MQTT-3.1.4-3]") == true, "\(d)")
        if strict {
            #expect(result.status == 10, "\(result)")
            #expect(d.string("verdict") == "fail")
            #expect(missing8E?.string("level") == "fail", "\(d)")
        } else {
            #expect(result.status == 0, "\(result)")
            #expect(d.string("verdict") == "pass")
            #expect(missing8E?.string("level") == "warning", "\(d)")
        }
    }

    /// MQTT 5, the session goes on (clean start 0, session expiry ∞) and the
    /// will delay is 0: the will MUST come at A's close ([MQTT-3.1.2-8], as both
    /// non-normative comments explain). mosquitto 2.0.11 drops it: a true failure.
    @Test func mqtt5PersistentSessionWithoutWillDelayFailsOnMosquitto() async throws {
        let broker = try TestBroker.standard()
        let (result, d) = try await takeover(broker.port, ["-V", "5", "-c", "--will-topic", uniqueTopic()])
        #expect(result.status == 10, "\(result)")
        #expect(d.bool("will_expected") == true)
        #expect(d.string("will_rule") == "MUST")
        #expect(d.bool("will_published") == false)
        #expect(d.bool("session_present") == true)
        #expect(d.bool("subscription_carried_over") == true)
        #expect(d.int("session_expiry") == 4_294_967_295)
        let failed = d.objects("findings").filter { $0.string("level") == "fail" }
        #expect(failed.count == 1, "\(d)")
        #expect(failed.first?.string("clause")?.contains("[MQTT-3.1.2-8]") == true, "\(failed)")
        #expect(
            failed.first?.string("quote")?.contains("If the Will Delay is 0 the Will Message is sent at the close")
                == true)
        #expect(result.stderr.contains("probe takeover did not pass: A's will was not published"), "\(result)")
    }

    /// The same with a will delay: B resumed before the delay passed, so the will
    /// MUST NOT be published ([MQTT-3.1.3-9]); mosquitto passes.
    @Test func mqtt5PersistentSessionWithWillDelayPasses() async throws {
        let broker = try TestBroker.standard()
        let (result, d) = try await takeover(
            broker.port, ["-V", "5", "-c", "--will-topic", uniqueTopic(), "--will-delay", "2"])
        #expect(result.status == 0, "\(result)")
        #expect(d.bool("will_expected") == false)
        #expect(d.bool("will_published") == false)
        #expect(d.bool("session_present") == true)
        #expect(d.bool("subscription_carried_over") == true)
    }

    /// MQTT 5, B starts clean: A's session ends, so its will is published at once.
    @Test func mqtt5NewCleanStartEndsTheSession() async throws {
        let broker = try TestBroker.standard()
        let (result, d) = try await takeover(
            broker.port, ["-V", "5", "-c", "-x", "300", "--new-clean", "--will-topic", uniqueTopic()])
        #expect(result.status == 0, "\(result)")
        #expect(d.bool("new_clean_start") == true)
        #expect(d.bool("will_expected") == true)
        #expect(d.bool("will_published") == true)
        #expect(d.bool("session_present") == false)
        #expect(d.bool("subscription_carried_over") == false)
    }

    /// With a will delay and a session that ends, MQTT 5 wants the will at once;
    /// mosquitto 2.0.11 never publishes a delayed will on take-over.
    @Test func mqtt5DelayedWillIsDroppedByMosquitto() async throws {
        let broker = try TestBroker.standard()
        let (result, d) = try await takeover(
            broker.port, ["-V", "5", "--will-topic", uniqueTopic(), "--will-delay", "1"])
        #expect(result.status == 10, "\(result)")
        #expect(d.int("will_delay_s") == 1)
        #expect(d.bool("will_expected") == true)
        #expect(d.bool("will_published") == false)
        #expect(d.string("verdict") == "fail")
    }

    @Test func withoutWillNothingIsSaidAboutIt() async throws {
        let broker = try TestBroker.standard()
        let id = uniqueID("to-nowill")
        let (result, d) = try await takeover(broker.port, ["-i", id])
        #expect(result.status == 0, "\(result)")
        #expect(d.string("client_id") == id)
        #expect(d.isNull("will_published"))
        #expect(d.isNull("will_expected"))
    }

    @Test func humanReport() async throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let result = try await runAsync(["probe", "takeover", "-p", "\(broker.port)", "--will-topic", topic])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.stdoutLines.first?.hasPrefix(
                "PROBE takeover localhost:\(broker.port) (MQTT 3.1.1, client id mqttctl-") == true, "\(result)")
        #expect(result.stdout.contains("will rule: published (MUST, MQTT 3.1.1 [MQTT-3.1.2-8])"), "\(result)")
        #expect(result.stdout.contains("take-over, clean  pass  A closed "), "\(result)")
        #expect(result.stdout.contains("will published "), "\(result)")
        #expect(result.stdoutLines.last == "--- pass (1 of 1)", "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
    }

    // MARK: The scripted peer

    @Test func sessionTakenOverIsReportedAndSatisfiesStrict() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(takeover: .disconnect(0x8E)))
        let (result, d) = try await takeover(peer.port, ["-V", "5", "--strict", "--will-topic", uniqueTopic()])
        #expect(result.status == 0, "\(result)")
        #expect(d.string("closed_by") == "disconnect")
        #expect(d.int("disconnect_reason") == 0x8E)
        #expect(d.bool("will_published") == true)
        #expect((d["notes"] as? [String])?.isEmpty == true, "\(d)")
        #expect(d.string("verdict") == "pass")
    }

    /// A peer that follows the specification (0x8E with a reason string, the
    /// will of a persistent session with will delay 0 published at A's close)
    /// passes even with --strict; one that drops the will as mosquitto does fails.
    @Test(arguments: [ScriptedBroker.Behaviour.TakeoverWill.specification, .likeMosquitto])
    func persistentMQTT5TakeoverWill(peerWill: ScriptedBroker.Behaviour.TakeoverWill) async throws {
        let peer = try ScriptedBroker(
            ScriptedBroker.Behaviour(
                takeover: .disconnect(0x8E), takeoverWill: peerWill,
                disconnectReasonString: "Resumed by another connection"))
        let (result, d) = try await takeover(peer.port, ["-V", "5", "-c", "--strict", "--will-topic", uniqueTopic()])
        #expect(d.int("disconnect_reason") == 0x8E)
        #expect(d.string("disconnect_reason_string") == "Resumed by another connection", "\(d)")
        #expect(d.bool("session_present") == true)
        #expect(d.bool("subscription_carried_over") == true)
        if case .specification = peerWill {
            #expect(result.status == 0, "\(result)")
            #expect(d.bool("will_published") == true)
            #expect(d.willCameWithTheTakeover, "\(d)")
        } else {
            #expect(result.status == 10, "\(result)")
            #expect(d.bool("will_published") == false)
        }
    }

    /// A's session expiry 0, B clean start 0, a will delay: the specification's
    /// comments disagree, so either outcome is a note, never a failure, and the
    /// report quotes both readings.
    @Test(arguments: [ScriptedBroker.Behaviour.TakeoverWill.specification, .likeMosquitto])
    func unsettledWillIsANote(peerWill: ScriptedBroker.Behaviour.TakeoverWill) async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(takeover: .disconnect(0x8E), takeoverWill: peerWill))
        let strict = peerWill == .specification ? ["--strict"] : []
        let (result, d) = try await takeover(
            peer.port, ["-V", "5", "-c", "-x", "0", "--will-topic", uniqueTopic(), "--will-delay", "1"] + strict)
        #expect(result.status == 0, "\(result)")
        #expect(d.isNull("will_expected"), "\(d)")
        #expect(d.string("will_rule") == "unsettled")
        let note = d.objects("findings").first { $0.string("basis") == "unsettled" }
        #expect(note?.string("level") == "note", "\(d)")
        #expect(
            note?.string("quote")?.contains("§3.1.3.2.2") == true && note?.string("quote")?.contains("§3.1.4") == true)
        #expect(d.bool("will_published") == (peerWill == .specification), "\(d)")
    }

    /// --max-wait bounds every wait: a will delay of 2^32 - 1 s is watched at most that long.
    @Test func maxWaitBoundsTheWillWindow() async throws {
        let broker = try TestBroker.standard()
        let result = try await runAsync(
            [
                "probe", "takeover", "-p", "\(broker.port)", "-V", "5", "-c", "-x", "0", "--will-topic", uniqueTopic(),
                "--will-delay", "4294967295", "--max-wait", "2", "--json",
            ], timeout: 60)
        #expect(result.status == 0, "\(result)")
        #expect(result.runtime < 20, "took \(result.runtime) s")
        #expect(try jsonDocument(result).isNull("will_expected"))
    }

    /// A broker that leaves the old connection open fails, within --max-wait.
    @Test func oldConnectionLeftOpenFails() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(takeover: .keepOld))
        let result = try await runAsync(
            ["probe", "takeover", "-p", "\(peer.port)", "--max-wait", "1", "--json"], timeout: 30)
        let seconds = result.runtime
        #expect(result.status == 10, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.bool("old_closed") == false)
        #expect(d.isNull("closed_after_ms"))
        #expect(d.string("verdict") == "fail")
        #expect(seconds < 20, "took \(seconds) s")
    }

    @Test(arguments: [["--new-clean"], ["-V", "311", "-x", "10"], ["--max-wait", "-1"], ["-i", "a+b"]])
    func usageErrorsExit2(arguments: [String]) async throws {
        let result = try await runAsync(["probe", "takeover", "-p", "1"] + arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.hasPrefix("mqttctl: error: "), "\(result)")
    }
}

/// `probe takeover --matrix`: every variant at once, both versions, on two
/// brokers that differ.
@Suite struct ProbeTakeoverMatrixTests {
    static func byName(_ d: [String: Any]) -> [String: [String: Any]] {
        Dictionary(
            d.objects("takeover").map { ("\($0.string("protocol") ?? "") \($0.string("session") ?? "")", $0) },
            uniquingKeysWith: { a, _ in a })
    }

    /// mosquitto 2.0.11: the wills of resumed sessions are dropped (the only
    /// failures), the message A left unacknowledged is resent to B, B's own will stays.
    @Test func mosquitto() async throws {
        let broker = try TestBroker.standard()
        let result = try await runAsync(
            ["probe", "takeover", "--matrix", "-p", "\(broker.port)", "--json"], timeout: 90)
        #expect(result.status == 10, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.objects("takeover").count == 14, "\(d)")
        let t = Self.byName(d)
        let failing = Set(t.filter { $0.value.bool("pass") == false }.keys)
        #expect(
            failing == [
                "3.1.1 persistent", "3.1.1 A silent, message in flight", "5 persistent",
                "5 A silent, message in flight",
                "5 B other expiry",
            ], "\(failing)")
        #expect(
            t["5 A silent, message in flight"]?.bool("inflight_redelivered") == true,
            "\(t["5 A silent, message in flight"] ?? [:])")
        #expect(t["3.1.1 A silent, message in flight"]?.bool("inflight_redelivered") == true)
        #expect(t["5 B with a will"]?.bool("b_will_published") == false)
        #expect(t["5 persistent, will delay 2 s"]?.bool("pass") == true)
        // Concurrent: about as long as the slowest variant, not their sum.
        #expect((d.number("elapsed_s") ?? 99) < 20, "\(d)")
    }

    /// ejabberd 23.01 follows every rule in every variant.
    @Test func ejabberd() async throws {
        let broker = try TestEjabberd.standard()
        let result = try await runAsync(
            ["probe", "takeover", "--matrix", "-p", "\(broker.port)", "--json"] + TestEjabberd.credentials,
            timeout: 90)
        let d = try jsonDocument(result)
        let t = Self.byName(d)
        let failing = t.filter { $0.value.bool("pass") == false }
        #expect(failing.isEmpty, "\(failing)")
        #expect(result.status == 0, "\(result)")
        #expect(t["5 A silent, message in flight"]?.bool("inflight_redelivered") == true)
    }

    @Test func textTable() async throws {
        let broker = try TestBroker.standard()
        let result = try await runAsync(
            ["probe", "takeover", "--matrix", "-p", "\(broker.port)", "-V", "311"], timeout: 90)
        #expect(result.status == 10, "\(result)")
        #expect(result.stdout.contains("  variant "), "\(result)")
        #expect(result.stdout.contains("in flight resent"), "\(result)")
        #expect(result.stdoutLines.last == "--- 2 of 6 did not pass", "\(result)")
    }

    @Test(arguments: [["-c", "-i", "x"], ["--will-topic", "w"], ["-i", "x"], ["--new-clean", "-c", "-i", "x"]])
    func usageErrors(arguments: [String]) async throws {
        let result = try await runAsync(["probe", "takeover", "--matrix", "-p", "1"] + arguments)
        #expect(result.status == 2, "\(result)")
    }
}

/// `probe takeover --b-host/--b-port`: B on another node.
@Suite struct ProbeTakeoverAcrossNodesTests {
    /// Two independent mosquittos are no cluster: A is not closed, and the
    /// report says so plainly.
    @Test func twoIndependentBrokersAreNoCluster() async throws {
        let a = try TestBroker.standard()
        let b = try TestBroker.maxKeepAlive10()
        let result = try await runAsync(
            [
                "probe", "takeover", "-p", "\(a.port)", "--b-port", "\(b.port)", "--max-wait", "1",
                "--will-topic", uniqueTopic(), "--json",
            ], timeout: 60)
        #expect(result.status == 10, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.bool("old_closed") == false)
        #expect(d.int("b_port") == b.port)
        let failure = d.objects("findings").first { $0.string("level") == "fail" }
        #expect(failure?.string("text")?.contains("they are not nodes of one cluster") == true, "\(d)")
    }

    /// A scripted two-node "cluster" that shares its session table: the
    /// take-over happens across nodes and follows the rules.
    @Test func aTwoNodeClusterTakesOverAcrossNodes() async throws {
        let cluster = try ScriptedBroker(ScriptedBroker.Behaviour(takeover: .disconnect(0x8E)), nodes: 2)
        let second = try #require(cluster.secondPort)
        let result = try await runAsync(
            [
                "probe", "takeover", "-p", "\(cluster.port)", "--b-port", "\(second)", "-V", "5", "-c",
                "--will-topic", uniqueTopic(), "--json",
            ], timeout: 60)
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.bool("old_closed") == true)
        #expect(d.int("disconnect_reason") == 0x8E)
        #expect(d.bool("session_present") == true)
        #expect(d.bool("subscription_carried_over") == true)
        #expect(d.bool("will_published") == true)
    }
}
