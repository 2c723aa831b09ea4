import Foundation
import Testing

/// `mqttctl ping` against the real broker and against a scripted peer that
/// answers slowly or not at all.
@Suite struct PingTests {
    @Test func countedPingsAllAnswered() async throws {
        let broker = try TestBroker.standard()
        let result = try await runAsync(["ping", "-p", "\(broker.port)", "-C", "3", "--interval", "0.1"])
        #expect(result.status == 0, "\(result)")
        let lines = result.stdoutLines
        #expect(
            lines.first?.hasPrefix("PING localhost:\(broker.port) (MQTT 3.1.1, client id mqttctl-ping-") == true,
            "\(result)")
        for seq in 1...3 {
            #expect(
                lines.contains {
                    $0.hasPrefix("PINGRESP from localhost:\(broker.port): seq=\(seq) time=") && $0.hasSuffix(" ms")
                }, "\(result)")
        }
        #expect(lines.contains("--- localhost:\(broker.port) mqtt ping statistics ---"), "\(result)")
        #expect(lines.contains { $0.hasPrefix("3 sent, 3 received, 0% loss, time ") }, "\(result)")
        #expect(lines.dropLast().last?.hasPrefix("rtt min/avg/max/stddev = ") == true, "\(result)")
        #expect(lines.last?.hasPrefix("rtt p50/p95/p99 = ") == true, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
    }

    @Test(arguments: ["311", "5"])
    func jsonDocumentHasTheDocumentedKeys(version: String) async throws {
        let broker = try TestBroker.standard()
        let result = try await runAsync([
            "ping", "-p", "\(broker.port)", "-V", version, "-C", "2", "--interval", "0.05", "--json",
        ])
        #expect(result.status == 0, "\(result)")
        let document = try jsonDocument(result)
        #expect(
            document.hasKeys([
                "sent", "received", "loss_percent", "rtt_ms", "replies", "late", "unanswered", "time_ms", "client_id",
            ]))
        #expect(document.int("sent") == 2)
        #expect(document.int("received") == 2)
        #expect(document.number("loss_percent") == 0)
        let rtt = try #require(document.object("rtt_ms"))
        for key in ["min", "avg", "max", "stddev"] {
            #expect(rtt.number(key) != nil, "rtt_ms.\(key)")
        }
        #expect((rtt.number("min") ?? 1) <= (rtt.number("max") ?? 0))
        let replies = document.objects("replies")
        #expect(replies.map { $0.int("seq") } == [1, 2])
        #expect(replies.allSatisfy { $0.number("rtt_ms") != nil && $0.bool("late") == false })
        #expect(result.stderr.isEmpty, "\(result)")
    }

    /// Only our PINGREQs leave the connection: libmosquitto's own keep-alive
    /// pings are off, so every PINGRESP answers one of ours.
    @Test func sendsExactlyTheCountedPingRequests() async throws {
        let peer = try ScriptedBroker()
        let id = uniqueID("ping-exact")
        let result = try await runAsync([
            "ping", "-p", "\(peer.port)", "-i", id, "-C", "4", "--interval", "0.05", "-k", "5",
        ])
        #expect(result.status == 0, "\(result)")
        // CONNECT, four PINGREQs, DISCONNECT.
        #expect(peer.packets(from: id) == [1, 12, 12, 12, 12, 14], "\(result)")
    }

    @Test func peerThatNeverAnswersExits11WithoutHanging() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(pings: .ignore))
        let result = try await runAsync(
            ["ping", "-p", "\(peer.port)", "-C", "3", "--interval", "0.2", "-W", "1"], timeout: 30)
        let seconds = result.runtime
        #expect(!result.timedOut)
        #expect(result.status == 11, "\(result)")
        // Three sends 0.2 s apart, then one timeout of 1 s: about 1.4 s, far below the bound.
        #expect(seconds < 20, "took \(seconds) s")
        for seq in 1...3 {
            #expect(
                result.stdoutLines.contains(
                    "seq=\(seq) no reply within 1 s (unresponsive broker or half-open connection)"), "\(result)")
        }
        #expect(result.stdout.contains("3 sent, 0 received, 100% loss"), "\(result)")
        #expect(!result.stdout.contains("rtt min"), "\(result)")
        #expect(result.stderr.contains("3 of 3 PINGREQs got no PINGRESP within 1 s"), "\(result)")
    }

    /// Replies slower than the timeout are reported late, each for its own
    /// request: the peer answers 1.2 s after each PINGREQ, so a reply matched to
    /// the wrong (newer) request would show about 0.7 s.
    @Test func lateRepliesAreMatchedToTheirOwnRequest() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(pings: .delay(1.2)))
        let result = try await runAsync(
            ["ping", "-p", "\(peer.port)", "-C", "3", "--interval", "0.5", "-W", "1", "--json"], timeout: 30)
        #expect(result.status == 11, "\(result)")
        let document = try jsonDocument(result)
        #expect(document.int("sent") == 3)
        #expect(document.int("received") == 0)
        #expect(document.number("loss_percent") == 100)
        let rtt = try #require(document.object("rtt_ms"))
        #expect(
            ["min", "avg", "max", "stddev"].allSatisfy { rtt.isNull($0) }, "no reply in time, no statistics: \(rtt)")
        let replies = document.objects("replies")
        let seqs = replies.compactMap { $0.int("seq") }
        #expect(seqs.starts(with: [1, 2]), "\(replies)")
        for reply in replies {
            #expect(reply.bool("late") == true, "\(reply)")
            #expect((reply.number("rtt_ms") ?? 0) >= 1150, "\(reply)")
        }
    }

    @Test func lateReplyLineNamesItsSequenceNumber() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(pings: .delay(1.0)))
        let result = try await runAsync(
            ["ping", "-p", "\(peer.port)", "-C", "1", "-W", "0.5", "--interval", "0.1"], timeout: 30)
        // -C 1 ends at the timeout, before the late reply; -C 3 waits long enough to see it.
        #expect(result.status == 11, "\(result)")
        #expect(
            result.stdoutLines.contains("seq=1 no reply within 0.5 s (unresponsive broker or half-open connection)"),
            "\(result)")
        let longer = try await runAsync(
            ["ping", "-p", "\(peer.port)", "-C", "3", "-W", "0.5", "--interval", "0.8"], timeout: 30)
        #expect(longer.status == 11, "\(longer)")
        #expect(
            longer.stdoutLines.contains {
                $0.hasPrefix("PINGRESP from localhost:\(peer.port): seq=1 time=")
                    && $0.hasSuffix(" ms (late: after the 0.5 s timeout)")
            }, "\(longer)")
        #expect(longer.stdout.contains("3 sent, 0 received, "), "\(longer)")
    }

    /// Replies slower than the interval but within the timeout: several are in
    /// flight at once and each is still timed against its own request.
    @Test func slowRepliesWithinTheTimeoutCountAsReceived() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(pings: .delay(0.6)))
        let result = try await runAsync(
            ["ping", "-p", "\(peer.port)", "-C", "4", "--interval", "0.2", "-W", "5", "--json"], timeout: 30)
        #expect(result.status == 0, "\(result)")
        let document = try jsonDocument(result)
        #expect(document.int("received") == 4)
        let replies = document.objects("replies")
        #expect(replies.map { $0.int("seq") } == [1, 2, 3, 4])
        #expect(replies.allSatisfy { ($0.number("rtt_ms") ?? 0) >= 590 && $0.bool("late") == false }, "\(replies)")
    }

    @Test func sigintEndsAnEndlessPingWithStatistics() async throws {
        let broker = try TestBroker.standard()
        let command = try RunningCommand(["ping", "-p", "\(broker.port)", "--interval", "0.05"])
        #expect(command.waitFor(timeout: 15) { out, _ in out.contains("seq=3 ") })
        command.signal(SIGINT)
        let result = await command.finish(timeout: 15)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("mqtt ping statistics"), "\(result)")
        #expect(result.stdout.contains(" received, 0% loss"), "\(result)")
    }

    /// The broker going away mid-run: statistics, then status 7 (not a hang, not 11).
    @Test func lostConnectionEndsWithStatisticsAndStatus7() async throws {
        let peer = try ScriptedBroker()
        let command = try RunningCommand(["ping", "-p", "\(peer.port)", "--interval", "0.05"])
        #expect(command.waitFor(timeout: 15) { out, _ in out.contains("seq=2 ") })
        peer.stop()
        let result = await command.finish(timeout: 15)
        #expect(result.status == 7, "\(result)")
        #expect(result.stdout.contains("mqtt ping statistics"), "\(result)")
        #expect(result.stderr.contains("lost"), "\(result)")
    }

    @Test(arguments: [
        ["-C", "0"], ["--interval", "0"], ["--interval", "-1"], ["-W", "0"],
        ["-k", "3"], ["-k", "5", "--interval", "10"], ["--count", "x"],
    ])
    func usageErrorsExit2(arguments: [String]) async throws {
        let result = try await runAsync(["ping", "-p", "1"] + arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.hasPrefix("mqttctl: error: "), "\(result)")
        #expect(result.stdout.isEmpty)
    }

    @Test func refusedConnectionExits3() async throws {
        let port = try TestBroker.freePort()
        let result = try await runAsync(["ping", "-p", "\(port)", "-C", "1"])
        #expect(result.status == 3, "\(result)")
    }
}

/// `ping --publish`: the routing round trip next to the PINGRESP, percentiles, JUnit.
@Suite struct PingPublishTests {
    @Test(arguments: [0, 1, 2])
    func publishRoundTripsNextToPingResponses(qos: Int) async throws {
        let broker = try TestBroker.standard()
        let junit = try JUnitSchema.reportFile()
        let result = try await runAsync([
            "ping", "-p", "\(broker.port)", "-C", "4", "--interval", "0.1", "--publish", "-q", "\(qos)",
            "--json", "--junit", junit.path,
        ])
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.int("received") == 4)
        let rtt = try #require(d.object("rtt_ms"))
        #expect(rtt.hasKeys(["min", "avg", "max", "stddev", "p50", "p95", "p99"]), "\(rtt)")
        #expect(
            (rtt.number("p50") ?? -1) <= (rtt.number("p99") ?? -1)
                && (rtt.number("p99") ?? 0) <= (rtt.number("max") ?? -1), "\(rtt)")
        let publish = try #require(d.object("publish"), "\(d)")
        #expect(publish.int("qos") == qos)
        #expect(publish.int("sent") == 4 && publish.int("received") == 4, "\(publish)")
        #expect(publish.objects("replies").map { $0.int("seq") } == [1, 2, 3, 4], "\(publish)")
        #expect(publish.string("topic")?.hasPrefix("mqttctl/ping/mqttctl-ping-") == true)
        #expect(publish.object("routing_cost_ms")?.number("p50") != nil, "\(publish)")
        #expect(try JUnitSchema.problems(in: junit) == nil)
        #expect(try String(contentsOf: junit, encoding: .utf8).contains("name=\"PUBLISH round trip\""))
    }

    @Test func textReportShowsBothSeriesAndTheRoutingCost() async throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let result = try await runAsync([
            "ping", "-p", "\(broker.port)", "-C", "3", "--interval", "0.1", "--publish", "-t", topic,
        ])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.stdoutLines.filter { $0.hasPrefix("PUBLISH back from localhost:\(broker.port): seq=") }.count == 3,
            "\(result)")
        #expect(result.stdout.contains("rtt p50/p95/p99 = "), "\(result)")
        #expect(result.stdout.contains("publish (QoS 0 to '\(topic)' and back): 3 sent, 3 received"), "\(result)")
        #expect(result.stdout.contains("routing costs "), "\(result)")
    }

    /// A broker that refuses the subscription: status 9, as sub.
    @Test func refusedSubscriptionIsAnError() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(refuseFiltersWithPrefix: "mqttctl/ping"))
        let result = try await runAsync(["ping", "-p", "\(peer.port)", "-C", "1", "--publish"])
        #expect(result.status == 9, "\(result)")
        #expect(result.stderr.contains("refused the subscription"), "\(result)")
    }

    @Test(arguments: [["-q", "1"], ["-t", "a/b"], ["--publish", "-q", "3"], ["--publish", "-t", "a/#"]])
    func usageErrors(arguments: [String]) async throws {
        let result = try await runAsync(["ping", "-p", "1"] + arguments)
        #expect(result.status == 2, "\(result)")
    }
}
