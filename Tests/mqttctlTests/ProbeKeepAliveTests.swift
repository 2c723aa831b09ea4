import Foundation
import Testing

/// `mqttctl probe keepalive` against the real mosquitto (asserting what it
/// really does, within its documented window) and against the scripted peer
/// for what mosquitto never does (DISCONNECT 0x8D, early, never...).
///
/// mosquitto 2.0.11 checks keep-alive every 6 s and drops a client silent for
/// more than ⌊1.5 K⌋ s, so the drop lands between ⌊1.5 K⌋ − 1 and ⌊1.5 K⌋ + 8 s
/// after our CONNECT (whole-second clock, check grid, loop latency).
@Suite struct ProbeKeepAliveTests {
    static func mosquittoWindow(_ k: Int) -> ClosedRange<Double> {
        let floor15 = Double(k * 3 / 2)
        return (floor15 - 1)...(floor15 + 8)
    }

    /// The verdict must follow from the measurement and the limit: late breaks
    /// the MUST and fails (naming its clause); early is permitted and only warns.
    static func expectConsistentVerdict(
        _ result: [String: Any], k: Int, limit: Double, version: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let dropped = result.number("dropped_after_s") else {
            Issue.record("no drop: \(result)", sourceLocation: sourceLocation)
            return
        }
        let expected = dropped < Double(k) ? "early" : dropped > limit ? "late" : "pass"
        #expect(result.string("verdict") == expected, "\(result)", sourceLocation: sourceLocation)
        #expect(result.bool("pass") == (expected != "late"), "\(result)", sourceLocation: sourceLocation)
        let findings = result.objects("findings")
        if expected == "late" {
            let clause = version == "5" ? "MQTT 5 [MQTT-3.1.2-22]" : "MQTT 3.1.1 [MQTT-3.1.2-24]"
            #expect(
                findings.contains {
                    $0.string("level") == "fail" && $0.string("basis") == "MUST" && $0.string("clause") == clause
                },
                "\(findings)", sourceLocation: sourceLocation)
        } else {
            #expect(!findings.contains { $0.string("level") == "fail" }, "\(findings)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: ["311", "5"])
    func mosquittoDropsASilentClientWithinItsDocumentedWindow(version: String) async throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic("keepalive\(version)")
        let result = try await runAsync(
            [
                "probe", "keepalive", "-p", "\(broker.port)", "-V", version, "-k", "5",
                "--will-topic", topic, "--json",
            ], timeout: 60)
        let document = try jsonDocument(result)
        #expect(document.string("probe") == "keepalive")
        #expect(document.hasKeys(["results", "pass", "negative_control", "protocol", "backoff", "grace_s"]))
        let results = document.objects("results")
        #expect(results.count == 1)
        let r = try #require(results.first)
        #expect(
            r.hasKeys([
                "keepalive", "effective_keepalive", "server_keepalive", "dropped", "dropped_after_s",
                "expected_limit_s", "disconnect_reason", "will_published", "will_after_drop_s", "verdict",
            ]), "\(r)")
        #expect(r.int("keepalive") == 5)
        #expect(r.int("effective_keepalive") == 5)
        #expect(r.isNull("server_keepalive"), "\(r)")
        #expect(r.number("expected_limit_s") == 8.5)
        #expect(r.bool("dropped") == true)
        let dropped = try #require(r.number("dropped_after_s"))
        #expect(Self.mosquittoWindow(5).contains(dropped), "dropped after \(dropped) s")
        Self.expectConsistentVerdict(r, k: 5, limit: 8.5, version: version)
        // mosquitto 2.0.11 just closes the socket (a FIN), also for MQTT 5 (no 0x8D).
        #expect(r.string("closed_by") == "fin")
        #expect(r.isNull("disconnect_reason"))
        // The will comes with the drop; the clean DISCONNECT of the control publishes none.
        #expect(r.bool("will_published") == true, "\(r)")
        let willAfter = try #require(r.number("will_after_drop_s"))
        #expect(willAfter > -0.5 && willAfter < 2, "\(r)")
        let control = try #require(document.object("negative_control"))
        #expect(control.bool("will_published") == false, "\(control)")
        #expect(control.bool("pass") == true)
        #expect(document.bool("pass") == r.bool("pass"))
        #expect(result.status == (r.bool("pass") == true ? 0 : 10), "\(result)")
        #expect(result.stderr.isEmpty || result.status == 10, "\(result)")
    }

    /// mosquitto with max_keepalive 10 imposes Server Keep Alive 10 on MQTT 5
    /// clients asking for more; the probe must then measure against 10.
    @Test func serverKeepAliveBecomesTheEffectiveKeepAlive() async throws {
        let broker = try TestBroker.maxKeepAlive10()
        let result = try await runAsync(
            ["probe", "keepalive", "-p", "\(broker.port)", "-V", "5", "-k", "60", "--json"], timeout: 90)
        let r = try #require(try jsonDocument(result).objects("results").first)
        #expect(r.int("keepalive") == 60)
        #expect(r.int("server_keepalive") == 10)
        #expect(r.int("effective_keepalive") == 10)
        #expect(r.number("expected_limit_s") == 16)
        let dropped = try #require(r.number("dropped_after_s"))
        #expect(Self.mosquittoWindow(10).contains(dropped), "dropped after \(dropped) s")
        Self.expectConsistentVerdict(r, k: 10, limit: 16, version: "5")
        #expect(r.isNull("will_published"))
        #expect(result.status == (r.bool("pass") == true ? 0 : 10), "\(result)")
    }

    /// mosquitto 2.0.11 applies max_keepalive to MQTT 5 only: an MQTT 3.1.1
    /// client with keep-alive 0 is never timed out.
    @Test func keepAliveZeroIsNotDroppedOverMQTT311() async throws {
        let broker = try TestBroker.maxKeepAlive10()
        let result = try await runAsync([
            "probe", "keepalive", "-p", "\(broker.port)", "-V", "311", "-k", "0", "--max-wait", "3", "--json",
        ])
        #expect(result.status == 0, "\(result)")
        let r = try #require(try jsonDocument(result).objects("results").first)
        #expect(r.bool("dropped") == false)
        #expect(r.isNull("dropped_after_s"))
        #expect(r.isNull("expected_limit_s"))
        #expect(r.string("verdict") == "pass")
        #expect((r.number("watched_s") ?? 0) >= 3)
    }

    /// MQTT 5 keep-alive 0 against default mosquitto gets Server Keep Alive
    /// 65535: no drop may be judged before 18 hours, so the CONNACK already says
    /// that nothing can be concluded: said at once (not after --max-wait), status 12.
    @Test(arguments: [["--max-wait", "30"], []])
    func hugeServerKeepAliveIsInconclusiveAtOnce(maxWait: [String]) async throws {
        let broker = try TestBroker.standard()
        let result = try await runAsync(
            ["probe", "keepalive", "-p", "\(broker.port)", "-V", "5", "-k", "0", "--json"] + maxWait)
        #expect(result.status == 12, "\(result)")
        let document = try jsonDocument(result)
        let r = try #require(document.objects("results").first)
        #expect(r.int("server_keepalive") == 65535)
        #expect(r.int("effective_keepalive") == 65535)
        #expect(r.string("verdict") == "inconclusive")
        #expect(r.bool("pass") == false)
        #expect((r.number("watched_s") ?? 99) < 2, "\(r)")
        #expect(r.objects("findings").map { $0.string("level") } == ["note"], "\(r)")
        #expect((document["notes"] as? [String])?.first?.contains("nothing can be concluded") == true, "\(document)")
        #expect(document.bool("inconclusive") == true)
        #expect(document.bool("pass") == false)
        #expect(result.stderr.contains("probe keepalive was inconclusive"), "\(result)")
        let elapsed = try #require(document.number("elapsed_s"))
        #expect(elapsed < 5, "ended at once, not after --max-wait: \(elapsed) s")
    }

    // MARK: Against the scripted peer

    /// A peer that sends DISCONNECT 0x8D at 1.2 × K: the reason is reported,
    /// the verdict passes, and the probe's client really sent nothing but CONNECT.
    @Test func disconnectReasonIsReportedAndTheClientStaysSilent() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(dropFactor: 1.2, keepAliveDisconnect: 0x8D))
        let id = uniqueID("ka-8d")
        let result = try await runAsync(
            ["probe", "keepalive", "-p", "\(peer.port)", "-V", "5", "-k", "5", "-i", id, "--json"], timeout: 60)
        #expect(result.status == 0, "\(result)")
        let r = try #require(try jsonDocument(result).objects("results").first)
        #expect(r.string("client_id") == id)
        #expect(r.string("closed_by") == "disconnect")
        #expect(r.int("disconnect_reason") == 0x8D)
        #expect(r.string("verdict") == "pass")
        let dropped = try #require(r.number("dropped_after_s"))
        #expect(dropped >= 5.9 && dropped < 8.5, "\(dropped)")
        #expect(peer.packets(from: id) == [1], "the silent client sent \(peer.packets(from: id))")
    }

    /// Dropped at 0.4 × K = 2 s (before K: permitted, a warning; a failure with
    /// --strict) and at 2.5 × K = 12.5 s (after 8.5 s: the MUST is broken).
    @Test(arguments: [(0.4, "early", false, 0), (0.4, "early", true, 10), (2.5, "late", false, 10)])
    func verdictFollowsWhenThePeerDrops(factor: Double, verdict: String, strict: Bool, status: Int32) async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(dropFactor: factor))
        let result = try await runAsync(
            ["probe", "keepalive", "-p", "\(peer.port)", "-k", "5", "--json"] + (strict ? ["--strict"] : []),
            timeout: 60)
        #expect(result.status == status, "\(result)")
        let r = try #require(try jsonDocument(result).objects("results").first)
        #expect(r.string("verdict") == verdict, "\(r)")
        #expect(r.string("closed_by") == "fin")
        let dropped = try #require(r.number("dropped_after_s"))
        #expect(dropped >= factor * 5 - 0.1, "\(dropped)")
        let levels = r.objects("findings").map { $0.string("level") ?? "" }
        #expect(levels == (verdict == "late" ? ["fail"] : [strict ? "fail" : "warning"]), "\(r)")
        if status == 10 {
            #expect(result.stderr.contains("probe keepalive did not pass: K=5 s: \(verdict)"), "\(result)")
        } else {
            #expect(result.stderr.isEmpty, "\(result)")
        }
    }

    /// Not dropped: "never" once we watched past the limit (a broken MUST, 10),
    /// "inconclusive" when --max-wait ended between K and the limit (12).
    @Test(arguments: [("10", "never", 10), ("7", "inconclusive", 12)])
    func noDropIsNeverOrInconclusive(maxWait: String, verdict: String, status: Int32) async throws {
        let peer = try ScriptedBroker()
        let result = try await runAsync(
            ["probe", "keepalive", "-p", "\(peer.port)", "-k", "5", "--max-wait", maxWait, "--json"], timeout: 60)
        let seconds = result.runtime
        #expect(result.status == status, "\(result)")
        let r = try #require(try jsonDocument(result).objects("results").first)
        #expect(r.string("verdict") == verdict, "\(r)")
        #expect(r.bool("dropped") == false)
        #expect((r.number("watched_s") ?? 0) >= Double(maxWait) ?? 0)
        // Bounded (spawn to exit): the point is "no hang", with room for a loaded machine.
        #expect(seconds < (Double(maxWait) ?? 0) + 20, "took \(seconds) s")
    }

    /// A sweep runs concurrently: K=5 and K=10 dropped at 6 s and 12 s take about
    /// 12 s together, not 18.
    @Test func sweepRunsConcurrentlyWithOwnClientIDsAndWills() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(dropFactor: 1.2))
        let topic = uniqueTopic("sweep")
        let result = try await runAsync(
            ["probe", "keepalive", "-p", "\(peer.port)", "-k", "5", "-k", "10", "--will-topic", topic, "--json"],
            timeout: 60)
        let seconds = result.runtime
        #expect(result.status == 0, "\(result)")
        let document = try jsonDocument(result)
        let results = document.objects("results")
        #expect(results.map { $0.int("keepalive") } == [5, 10])
        #expect(Set(results.compactMap { $0.string("client_id") }).count == 2)
        #expect(results.map { $0.string("will_topic") } == ["\(topic)/k5", "\(topic)/k10"])
        #expect(
            results.allSatisfy { $0.bool("will_published") == true && $0.string("verdict") == "pass" }, "\(results)")
        #expect(document.object("negative_control")?.bool("will_published") == false)
        // Concurrent: the run (by its own monotonic clock) lasts about as long as the
        // slower drop (12 s), not the sum (18 s). Wall time only proves it ended.
        let elapsed = try #require(document.number("elapsed_s"))
        let slower = results.compactMap { $0.number("dropped_after_s") }.max() ?? 0
        #expect(elapsed < slower + 4, "took \(elapsed) s, slower drop \(slower) s: the sweep did not run concurrently")
        #expect(seconds < 60, "took \(seconds) s")
    }

    /// Server Keep Alive from the CONNACK is what the broker enforces.
    @Test func serverKeepAliveFromThePeerIsTheEffectiveKeepAlive() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(dropFactor: 1.2, serverKeepAlive: 5))
        let result = try await runAsync(
            ["probe", "keepalive", "-p", "\(peer.port)", "-V", "5", "-k", "300", "--json"], timeout: 60)
        #expect(result.status == 0, "\(result)")
        let r = try #require(try jsonDocument(result).objects("results").first)
        #expect(r.int("server_keepalive") == 5)
        #expect(r.int("effective_keepalive") == 5)
        #expect(r.number("expected_limit_s") == 8.5)
        #expect(r.string("verdict") == "pass")
    }

    @Test func humanReportWithoutProgressWhenStderrIsNotATerminal() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(dropFactor: 1.2))
        let topic = uniqueTopic("human")
        let result = try await runAsync(
            ["probe", "keepalive", "-p", "\(peer.port)", "-k", "5", "--will-topic", topic], timeout: 60)
        #expect(result.status == 0, "\(result)")
        #expect(
            result.stdoutLines.first?.hasPrefix("PROBE keepalive localhost:\(peer.port) (MQTT 3.1.1)") == true,
            "\(result)")
        #expect(result.stdout.contains("keep-alive K=5 s  pass  dropped after "), "\(result)")
        #expect(result.stdout.contains("will on '\(topic)' published "), "\(result)")
        #expect(result.stdout.contains("negative control  pass  no will after a clean DISCONNECT"), "\(result)")
        #expect(result.stdoutLines.last == "--- pass (2 of 2)", "\(result)")
        #expect(
            result.stderr.isEmpty, "no progress or notes on a non-terminal stderr: \(result.stderr.debugDescription)")
        #expect(!result.stdout.contains("\r"))
    }

    /// On a terminal the status line shows what is awaited and the limit, and is
    /// cleared; with --json there is none even on a terminal.
    @Test func progressLineOnlyOnATerminalAndNeverWithJSON() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(dropFactor: 1.2))
        let shown = try await mqttctlOnTerminal(["probe", "keepalive", "-p", "\(peer.port)", "-k", "5"])
        // The verdict is not this test's business (the peer drops at 6 s by a timer of
        // the test process, which a loaded machine once held back to 10.5 s: "late",
        // status 10); that the probe ran to a report is.
        let ranToAVerdict: Set<Int32> = [0, 10]
        #expect(ranToAVerdict.contains(shown.status), "\(shown)")
        #expect(shown.stdout.contains("\rkeep-alive K=5 s (MQTT 3.1.1): silent "), "\(shown.stdout.debugDescription)")
        #expect(shown.stdout.contains("limit 8.5 s, max 17 s\u{1B}[K"), "\(shown.stdout.debugDescription)")
        #expect(
            shown.stdout.contains("\r\u{1B}[KPROBE keepalive"),
            "the line is cleared before the report: \(shown.stdout.debugDescription)")

        let json = try await mqttctlOnTerminal(["probe", "keepalive", "-p", "\(peer.port)", "-k", "5", "--json"])
        #expect(ranToAVerdict.contains(json.status), "\(json)")
        #expect(!json.stdout.contains("\u{1B}[K"), "\(json.stdout.debugDescription)")
        #expect(!json.stdout.contains("silent "), "\(json.stdout.debugDescription)")
        #expect(json.stdout.contains("\"probe\":\"keepalive\""))
    }

    @Test(arguments: [
        ["-k", "3"], ["-k", "70000"], ["-k", "5", "-k", "5"], ["--backoff", "0"], ["--grace", "-1"],
        ["--max-wait", "0"], ["-c", "-i", "x"], ["-V", "311", "--will-topic", "t", "--will-delay", "5"],
        ["--will-topic", "a/#"], ["--will-payload", "p"],
    ])
    func usageErrorsExit2(arguments: [String]) async throws {
        let result = try await runAsync(["probe", "keepalive", "-p", "1"] + arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.hasPrefix("mqttctl: error: "), "\(result)")
    }
}

/// `--samples`: staggered silent clients per keep-alive reveal a broker's check clock.
@Suite struct ProbeKeepAliveSamplesTests {
    /// mosquitto 2.0.11 checks keep-alive on a timer: samples started over 3 s
    /// are dropped on the same check or the next, and the summary follows the
    /// per-sample measurements exactly.
    @Test func samplesAgainstMosquitto() async throws {
        let broker = try TestBroker.standard()
        let result = try await runAsync(
            ["probe", "keepalive", "-p", "\(broker.port)", "-k", "5", "--samples", "3", "--spread", "3", "--json"],
            timeout: 60)
        let d = try jsonDocument(result)
        let results = d.objects("results")
        #expect(results.map { $0.int("sample") } == [1, 2, 3], "\(d)")
        #expect(results.map { $0.number("started_after_s") } == [0, 1, 2], "\(d)")
        #expect(Set(results.compactMap { $0.string("client_id") }).count == 3)
        let drops = results.compactMap { $0.number("dropped_after_s") }
        #expect(drops.count == 3, "\(results)")
        let summary = try #require(d.objects("samples").first, "\(d)")
        #expect(summary.int("count") == 3 && summary.int("dropped") == 3)
        #expect(summary.number("min_s") == drops.min() && summary.number("max_s") == drops.max(), "\(summary)")
        let median = drops.sorted()[1]
        #expect(summary.number("median_s") == median, "\(summary)")
        let period = try #require(summary.number("implied_check_period_s"))
        #expect(abs(period - ((drops.max() ?? 0) - (drops.min() ?? 0))) < 0.002, "\(summary)")
        let verdicts = results.compactMap { $0.string("verdict") }
        let worst = ["never", "late", "inconclusive", "refused", "early", "pass"].first { verdicts.contains($0) }
        #expect(summary.string("worst_verdict") == worst, "\(summary)")
        #expect(result.status == (verdicts.contains("late") ? 10 : 0), "\(result)")
    }

    @Test(arguments: [
        ["--samples", "0"], ["--samples", "21"], ["--spread", "2"], ["--samples", "2", "--spread", "-1"],
    ])
    func usageErrors(arguments: [String]) async throws {
        let result = try await runAsync(["probe", "keepalive", "-p", "1"] + arguments)
        #expect(result.status == 2, "\(result)")
    }
}
