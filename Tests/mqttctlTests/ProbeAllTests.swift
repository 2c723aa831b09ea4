import Foundation
import Testing

/// `mqttctl probe` (all probes at once) against mosquitto and the scripted peer.
@Suite struct ProbeAllTests {
    /// Both protocol versions, every probe, concurrently: the run takes about
    /// as long as the slowest probe (the keep-alive drop), not the sum.
    @Test func bothVersionsConcurrentlyAgainstMosquitto() async throws {
        let broker = try TestBroker.standard()
        let junit = try JUnitSchema.reportFile()
        let result = try await runAsync(
            ["probe", "-p", "\(broker.port)", "--json", "--junit", junit.path], timeout: 90)
        let seconds = result.runtime
        let d = try jsonDocument(result)
        #expect(d.string("probe") == "all")
        #expect(d.hasKeys(["keepalive", "takeover", "skipped", "elapsed_s", "pass"]))
        let keepAlive = d.objects("keepalive")
        let takeover = d.objects("takeover")
        #expect(keepAlive.map { $0.string("protocol") } == ["3.1.1", "5"])
        #expect(
            takeover.map { "\($0.string("protocol") ?? "") \($0.string("session") ?? "")" }
                == ["3.1.1 clean", "3.1.1 persistent", "5 clean", "5 persistent"])
        #expect(d.objects("skipped").isEmpty)

        // Each keep-alive drop within mosquitto's documented window for K = 5.
        var drops: [Double] = []
        for document in keepAlive {
            let r = try #require(document.objects("results").first)
            let dropped = try #require(r.number("dropped_after_s"), "\(r)")
            #expect(ProbeKeepAliveTests.mosquittoWindow(5).contains(dropped), "\(r)")
            ProbeKeepAliveTests.expectConsistentVerdict(
                r, k: 5, limit: 8.5, version: document.string("protocol") == "5" ? "5" : "311")
            #expect(r.bool("will_published") == true, "\(r)")
            #expect(document.object("negative_control")?.bool("will_published") == false)
            drops.append(dropped)
        }
        // What mosquitto 2.0.11 does on take-over (see ProbeTakeoverTests).
        #expect(takeover.allSatisfy { $0.bool("old_closed") == true && $0.isNull("disconnect_reason") }, "\(takeover)")
        #expect(takeover.map { $0.bool("will_published") } == [true, false, true, false])
        #expect(takeover.map { $0.bool("session_present") } == [false, true, false, true])
        // The persistent wills are true failures ([MQTT-3.1.2-8] in both versions).
        #expect(takeover.map { $0.string("verdict") } == ["pass", "fail", "pass", "fail"])
        // The will comes with the take-over, not held back (ProbeSupport.swift).
        for t in takeover where t.bool("will_published") == true {
            #expect(t.willCameWithTheTakeover, "\(t)")
        }

        // The same verdicts as a JUnit report that validates: two suites, eight
        // cases, the persistent take-overs failing with the clause in the message.
        #expect(try JUnitSchema.problems(in: junit) == nil)
        let xml = try String(contentsOf: junit, encoding: .utf8)
        #expect(xml.contains("<testsuites name=\"mqttctl probe\" tests=\"8\""), "\(xml)")
        #expect(xml.contains("classname=\"mqttctl.probe.takeover.mqtt5\""), "\(xml)")
        #expect(xml.components(separatedBy: "<failure message=\"MQTT 3.1.1 [MQTT-3.1.2-8]").count == 2, "\(xml)")
        #expect(
            xml.components(separatedBy: "<failure ").count - 1 == takeover.filter { $0.bool("pass") == false }.count
                + keepAlive.filter { $0.bool("pass") == false }.count, "\(xml)")

        // So the run fails.
        #expect(d.bool("pass") == false)
        #expect(result.status == 10, "\(result)")
        // Concurrent: the slowest probe plus start-up and windows, far less than
        // the two keep-alive drops and four take-overs (each ≥ 1 s) one after another.
        // Measured by the command's own monotonic clock: wall time on a loaded
        // 2-core machine says little more than "it ended".
        let slowest = drops.max() ?? 0
        let elapsed = try #require(d.number("elapsed_s"))
        #expect(elapsed < slowest + 6, "took \(elapsed) s, slowest drop \(slowest) s")
        #expect(elapsed < drops.reduce(0, +) + 4, "took \(elapsed) s: not concurrent")
        #expect(seconds < 90 && elapsed <= seconds)
    }

    /// A peer that does everything by the book passes every probe; the human
    /// report has one block per version and a line per probe.
    @Test func humanReportAgainstACompliantPeer() async throws {
        let peer = try ScriptedBroker(
            ScriptedBroker.Behaviour(dropFactor: 1.2, keepAliveDisconnect: 0x8D, takeover: .disconnect(0x8E)))
        let result = try await runAsync(["probe", "-p", "\(peer.port)", "--strict"], timeout: 60)
        #expect(result.status == 0, "\(result)")
        let lines = result.stdoutLines
        #expect(
            lines.first?.hasPrefix("PROBE localhost:\(peer.port): MQTT 3.1.1 and 5, 6 probes at once in ") == true,
            "\(result)")
        #expect(lines.contains("MQTT 3.1.1") && lines.contains("MQTT 5"), "\(result)")
        #expect(lines.filter { $0.hasPrefix("  keep-alive K=5 s       pass  dropped after ") }.count == 2, "\(result)")
        #expect(lines.filter { $0.hasPrefix("  take-over, clean       pass  A closed ") }.count == 2, "\(result)")
        #expect(lines.filter { $0.hasPrefix("  take-over, persistent  pass  A closed ") }.count == 2, "\(result)")
        #expect(result.stdout.contains("DISCONNECT Keep Alive timeout (0x8D)"), "\(result)")
        #expect(result.stdout.contains("DISCONNECT Session taken over (0x8E)"), "\(result)")
        #expect(lines.last == "--- pass (6 of 6)", "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
    }

    /// An MQTT 3.1.1-only broker: MQTT 5 is skipped and said so, not failed.
    @Test func mqtt5IsSkippedWhenTheBrokerRefusesIt() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(dropFactor: 1.2, acceptV5: false))
        let result = try await runAsync(["probe", "-p", "\(peer.port)", "--json"], timeout: 60)
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.objects("skipped").map { $0.string("protocol") } == ["5"], "\(d)")
        #expect(d.objects("keepalive").map { $0.string("protocol") } == ["3.1.1"])
        #expect(d.objects("takeover").count == 2)
        #expect(d.bool("pass") == true)
        let text = try await runAsync(["probe", "-p", "\(peer.port)", "-k", "0", "--max-wait", "1"], timeout: 60)
        #expect(text.stdout.contains("MQTT 5\n  skipped: the broker did not accept MQTT 5"), "\(text)")
    }

    /// -V 5 against that broker is not skipped: the user asked for it.
    @Test func explicitVersionThatTheBrokerRefusesIsAnError() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(acceptV5: false))
        let result = try await runAsync(["probe", "-p", "\(peer.port)", "-V", "5"], timeout: 30)
        #expect(result.status == 4, "\(result)")
        #expect(result.stdout.isEmpty)
    }

    @Test func unreachableBrokerIsAConnectionError() async throws {
        let port = try TestBroker.freePort()
        let result = try await runAsync(["probe", "-p", "\(port)", "--json"], timeout: 30)
        #expect(result.status == 3, "\(result)")
        #expect(result.stdout.isEmpty)
    }

    @Test(arguments: [["-c", "-i", "x"], ["-x", "10", "-V", "5"], ["-k", "2"], ["--grace", "x"]])
    func usageErrorsExit2(arguments: [String]) async throws {
        let result = try await runAsync(["probe", "-p", "1"] + arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.hasPrefix("mqttctl: error: "), "\(result)")
    }

    /// SIGINT ends every connection with DISCONNECT (so no will is published) and exits 130.
    @Test func sigintStopsCleanly() async throws {
        let broker = try TestBroker.standard()
        let command = try RunningCommand(["probe", "-p", "\(broker.port)", "-d"])
        // Wait until the probes are under way (their clients connected), not a fixed time.
        #expect(command.waitFor(timeout: 30) { _, err in err.components(separatedBy: "received CONNACK").count > 4 })
        command.signal(SIGINT)
        let result = await command.finish(timeout: 15)
        #expect(result.status == 130, "\(result)")
        #expect(!result.timedOut)
    }
}
