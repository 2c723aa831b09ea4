import Foundation
import Testing

/// `mqttctl probe takeover` against the real mosquitto 2.0.11 (what it really
/// does: close without 0x8E, wills per its own rules, sessions) and against the
/// scripted peer (DISCONNECT 0x8E, a broker that does not close the old connection).
@Suite struct ProbeTakeoverTests {
    static let keys = ["old_closed", "closed_after_ms", "disconnect_reason", "will_published", "session_present",
                       "verdict", "pass", "will_expected", "session_present_expected", "subscription_carried_over"]

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
        #expect(d.string("closed_by") == "socket")
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
    /// 2.0.15). The close is the MUST, so this passes with a note, and fails with --strict.
    @Test(arguments: [false, true])
    func mqtt5CleanStartWithoutSessionTakenOver(strict: Bool) async throws {
        let broker = try TestBroker.standard()
        let (result, d) = try await takeover(broker.port, ["-V", "5", "--will-topic", uniqueTopic()] + (strict ? ["--strict"] : []))
        #expect(d.bool("old_closed") == true)
        #expect(d.isNull("disconnect_reason"))
        #expect(d.bool("will_expected") == true)
        #expect(d.bool("will_published") == true)
        #expect(d.bool("session_present") == false)
        let notes = d["notes"] as? [String] ?? []
        let failures = d["failures"] as? [String] ?? []
        if strict {
            #expect(result.status == 10, "\(result)")
            #expect(d.string("verdict") == "fail")
            #expect(failures.contains { $0.contains("0x8E") }, "\(d)")
        } else {
            #expect(result.status == 0, "\(result)")
            #expect(d.string("verdict") == "pass")
            #expect(notes.contains { $0.contains("0x8E") }, "\(d)")
        }
    }

    /// MQTT 5, the session goes on (clean start 0, session expiry ∞): no will,
    /// session present, the subscription delivers to B.
    @Test func mqtt5PersistentSessionGoesOn() async throws {
        let broker = try TestBroker.standard()
        let (result, d) = try await takeover(broker.port, ["-V", "5", "-c", "--will-topic", uniqueTopic()])
        #expect(result.status == 0, "\(result)")
        #expect(d.bool("will_expected") == false)
        #expect(d.bool("will_published") == false)
        #expect(d.bool("session_present") == true)
        #expect(d.bool("subscription_carried_over") == true)
        #expect(d.int("session_expiry") == 4_294_967_295)
    }

    /// MQTT 5, B starts clean: A's session ends, so its will is published at once.
    @Test func mqtt5NewCleanStartEndsTheSession() async throws {
        let broker = try TestBroker.standard()
        let (result, d) = try await takeover(broker.port, ["-V", "5", "-c", "-x", "300", "--new-clean", "--will-topic", uniqueTopic()])
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
        let (result, d) = try await takeover(broker.port, ["-V", "5", "--will-topic", uniqueTopic(), "--will-delay", "1"])
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
        #expect(result.stdoutLines.first?.hasPrefix("PROBE takeover localhost:\(broker.port) (MQTT 3.1.1, client id mqttctl-") == true, "\(result)")
        #expect(result.stdout.contains("will rule: published — MQTT 3.1.1 §3.1.2.5 [MQTT-3.1.2-8]"), "\(result)")
        #expect(result.stdout.contains("take-over, clean  pass  A closed "), "\(result)")
        #expect(result.stdout.contains("will published "), "\(result)")
        #expect(result.stdoutLines.last == "--- pass", "\(result)")
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

    /// A broker that leaves the old connection open fails, within --max-wait.
    @Test func oldConnectionLeftOpenFails() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(takeover: .keepOld))
        let result = try await runAsync(["probe", "takeover", "-p", "\(peer.port)", "--max-wait", "1", "--json"], timeout: 30)
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
