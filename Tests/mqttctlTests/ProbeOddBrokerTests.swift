import Foundation
import Testing

/// Brokers that do unusual things (each seen on a real broker), played by the
/// scripted peer: every one yields a complete result for every probe, the
/// other probes of the run are still measured, and the words say what was seen.
@Suite struct ProbeOddBrokerTests {
    /// Closes the connection without CONNACK when asked for keep-alive 0: that K
    /// is "refused" (a fact, a warning), and K = 5 of the same sweep is measured.
    @Test func keepAliveZeroClosedWithoutConnAckIsARefusal() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(dropFactor: 1.2, closeOnKeepAliveZero: true))
        let result = try await runAsync(
            ["probe", "keepalive", "-p", "\(peer.port)", "-k", "0", "-k", "5", "--json"], timeout: 60)
        #expect(result.status == 0, "\(result)")
        let results = try jsonDocument(result).objects("results")
        #expect(results.map { $0.string("verdict") } == ["refused", "pass"], "\(results)")
        let refused = try #require(results.first)
        #expect(
            refused.string("refusal") == "closed the connection without CONNACK after CONNECT with keep-alive 0",
            "\(refused)")
        #expect(refused.objects("findings").map { $0.string("level") } == ["warning"])
        #expect(refused.objects("findings").first?.string("basis") == "MAY")
        #expect(!result.stderr.contains("TLS"), "\(result)")
        // With --strict the refusal fails.
        let strict = try await runAsync(
            ["probe", "keepalive", "-p", "\(peer.port)", "-k", "0", "--strict", "--json"], timeout: 60)
        #expect(strict.status == 10, "\(strict)")
    }

    /// A CONNACK with Maximum QoS 0: the probes subscribe and publish at QoS 0
    /// (a will at QoS 1 would be refused) and produce a complete report.
    @Test func maximumQoSZeroIsRespected() async throws {
        let peer = try ScriptedBroker(
            ScriptedBroker.Behaviour(
                dropFactor: 1.2, keepAliveDisconnect: 0x8D, takeover: .disconnect(0x8E), maximumQoS: 0))
        let result = try await runAsync(["probe", "-p", "\(peer.port)", "-V", "5", "--json"], timeout: 60)
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.objects("takeover").map { $0.string("verdict") } == ["pass", "pass"], "\(d)")
        #expect(d.objects("takeover").allSatisfy { $0.bool("will_published") == true }, "\(d)")
        #expect(d.objects("takeover").last?.bool("subscription_carried_over") == true, "\(d)")
        #expect(d.objects("keepalive").first?.objects("results").first?.bool("will_published") == true, "\(d)")
    }

    /// A broker that never answers an MQTT 3.1.1 CONNECT but speaks MQTT 5:
    /// 3.1.1 is reported as not answered and MQTT 5 is still probed.
    @Test func silenceToMQTT311StillProbesMQTT5() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(dropFactor: 1.2, ignoreMQTT311: true))
        let result = try await runAsync(
            ["probe", "-p", "\(peer.port)", "--connect-timeout", "2", "--json"], timeout: 60)
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        let skipped = d.objects("skipped")
        #expect(skipped.map { $0.string("protocol") } == ["3.1.1"], "\(d)")
        #expect(skipped.first?.string("reason")?.contains("no CONNACK") == true, "\(skipped)")
        #expect(d.objects("keepalive").map { $0.string("protocol") } == ["5"])
        #expect(d.objects("takeover").count == 2)
    }

    /// An MQTT 3.1.1-only broker answering MQTT 5 with a 3.1.1 CONNACK (return
    /// code 1) is recognised from that answer at once, not after a timeout.
    @Test func mqtt311ConnAckToMQTT5IsRecognisedAtOnce() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(acceptV5: false))
        let result = try await runAsync(
            ["probe", "-p", "\(peer.port)", "-V", "5", "--connect-timeout", "30"], timeout: 60)
        #expect(result.status == 4, "\(result)")
        #expect(
            result.stderr.contains("answered the MQTT 5 CONNECT with an MQTT 3.1.1 CONNACK (return code 1)"),
            "\(result)")
        #expect(result.runtime < 10, "took \(result.runtime) s: waited for a CONNACK that had already come")
        // Without -V, MQTT 5 is skipped with that reason and 3.1.1 is probed.
        let all = try await runAsync(
            ["probe", "-p", "\(peer.port)", "-k", "0", "--max-wait", "1", "--json"], timeout: 60)
        let skipped = try jsonDocument(all).objects("skipped")
        #expect(skipped.first?.string("reason")?.contains("speaks only MQTT 3.1.1") == true, "\(all)")
    }

    /// "a TLS port" only when a TLS record comes back; otherwise what was seen.
    @Test func whatCameBackBeforeConnAckIsSaid() async throws {
        let tls = try RawPeer(reply: [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32])
        let a = try await runAsync(["pub", "-p", "\(tls.port)", "-t", "t", "-m", "x"], timeout: 30)
        #expect(a.status == 3, "\(a)")
        #expect(a.stderr.contains("answered with a TLS record"), "\(a)")
        let http = try RawPeer(reply: Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8))
        let b = try await runAsync(["pub", "-p", "\(http.port)", "-t", "t", "-m", "x"], timeout: 30)
        #expect(b.status == 3, "\(b)")
        #expect(b.stderr.contains("answered in HTTP"), "\(b)")
        #expect(!b.stderr.contains("TLS"), "\(b)")
        let closer = try RawPeer(reply: [])
        let c = try await runAsync(["pub", "-p", "\(closer.port)", "-t", "t", "-m", "x"], timeout: 30)
        #expect(c.status == 3, "\(c)")
        #expect(c.stderr.contains("closed the connection without CONNACK"), "\(c)")
        #expect(!c.stderr.contains("TLS"), "\(c)")
    }

    /// How a connection ended, exactly: DISCONNECT with reason string and user
    /// property, a FIN, or a reset.
    @Test func connectionEndsAreReportedPrecisely() async throws {
        let talkative = try ScriptedBroker(
            ScriptedBroker.Behaviour(
                dropFactor: 1.2, keepAliveDisconnect: 0x8D, disconnectReasonString: "Idle connection",
                disconnectUserProperty: ("node", "n1")))
        let a = try await runAsync(
            ["probe", "keepalive", "-p", "\(talkative.port)", "-V", "5", "-k", "5", "--json"], timeout: 60)
        let r = try #require(try jsonDocument(a).objects("results").first)
        #expect(r.string("closed_by") == "disconnect", "\(r)")
        #expect(r.int("disconnect_reason") == 0x8D)
        #expect(r.string("disconnect_reason_string") == "Idle connection", "\(r)")
        #expect((r["disconnect_user_properties"] as? [[String: Any]])?.first?.string("value") == "n1", "\(r)")
        let text = try await runAsync(
            ["probe", "keepalive", "-p", "\(talkative.port)", "-V", "5", "-k", "5"], timeout: 60)
        #expect(text.stdout.contains("DISCONNECT Keep Alive timeout (0x8D) \"Idle connection\" [node=n1]"), "\(text)")

        let resetting = try ScriptedBroker(ScriptedBroker.Behaviour(dropFactor: 1.2, closeWithReset: true))
        let b = try await runAsync(["probe", "keepalive", "-p", "\(resetting.port)", "-k", "5", "--json"], timeout: 60)
        #expect(try jsonDocument(b).objects("results").first?.string("closed_by") == "reset", "\(b)")
    }

    /// A waiting probe idles: a 9-second run uses a small fraction of a second of
    /// CPU (a busy loop would use all 9). CPU time, not wall time, so a loaded
    /// machine does not matter.
    @Test func aWaitingProbeIdles() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(dropFactor: 1.6, takeover: .disconnect(0x8E)))
        let result = try await runAsync(["probe", "-p", "\(peer.port)", "-V", "5", "--json"], timeout: 60)
        #expect(result.status == 0, "\(result)")
        #expect(result.runtime > 7, "\(result.runtime)")
        #expect(result.cpuSeconds < 1.0, "used \(result.cpuSeconds) s of CPU in \(result.runtime) s")
    }
}
