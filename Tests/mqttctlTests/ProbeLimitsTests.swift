import Foundation
import Testing

/// `mqttctl probe limits` against mosquitto, ejabberd (which refuses shared
/// subscriptions) and the scripted peer (Maximum QoS 1).
@Suite struct ProbeLimitsTests {
    static func checks(_ d: [String: Any], _ version: String) -> [String: [String: Any]] {
        let result = d.objects("results").first { $0.string("protocol") == version } ?? [:]
        return Dictionary(result.objects("checks").map { ($0.string("id") ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func mosquittoHasEveryFeatureAndKeepsEveryRule() async throws {
        let broker = try TestBroker.standard()
        let prefix = uniqueTopic()
        let junit = try JUnitSchema.reportFile()
        let result = try await runAsync(
            [
                "probe", "limits", "-p", "\(broker.port)", "--topic-prefix", prefix, "--json", "--junit", junit.path,
                "--require", "qos2,retain,wildcards,shared,no-local,retain-handling,receive-maximum",
            ], timeout: 90)
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.objects("results").map { $0.string("protocol") } == ["3.1.1", "5"])
        #expect(d.bool("pass") == true)
        for version in ["3.1.1", "5"] {
            let c = Self.checks(d, version)
            for id in ["qos0", "qos1", "qos2", "retain", "wildcards", "shared", "sys", "client-id-23"] {
                #expect(c[id]?.bool("available") == true, "MQTT \(version) \(id): \(c[id] ?? [:])")
            }
            #expect(c["topic-length"]?.int("value") == 65535)
            #expect(c["payload-size"]?.int("value") == 1 << 20)
            #expect(c.values.allSatisfy { $0.objects("findings").allSatisfy { $0.string("level") != "fail" } }, "\(c)")
        }
        let v5 = Self.checks(d, "5")
        for id in [
            "no-local", "retain-as-published", "retain-handling", "subscription-identifiers", "message-expiry",
            "receive-maximum",
        ] {
            #expect(v5[id]?.bool("available") == true, "\(id): \(v5[id] ?? [:])")
        }
        #expect(
            d.objects("results").last?.object("connack")?.object("properties")?.object("receive_maximum")?.int("value")
                == 20)
        #expect(try JUnitSchema.problems(in: junit) == nil)
        // Clean: no retained message is left under the prefix.
        let left = try await runAsync([
            "sub", "-p", "\(broker.port)", "-t", "\(prefix)/#", "--retained-only", "-W", "1", "-v",
        ])
        #expect(left.status == 27 && left.stdout.isEmpty, "\(left)")
        #expect(d.number("elapsed_s").map { $0 < 60 } == true, "\(d)")
    }

    /// ejabberd 23.01 closes the connection on a $share subscription: shared
    /// is absent, and requiring it fails the run (exit 10).
    @Test func ejabberdHasNoSharedSubscriptions() async throws {
        let broker = try TestEjabberd.standard()
        let result = try await runAsync(
            ["probe", "limits", "-p", "\(broker.port)", "-V", "5", "--require", "qos2,shared", "--json"]
                + TestEjabberd.credentials, timeout: 90)
        #expect(result.status == 10, "\(result)")
        let d = try jsonDocument(result)
        let c = Self.checks(d, "5")
        #expect(c["shared"]?.bool("available") == false, "\(c["shared"] ?? [:])")
        #expect(c["qos2"]?.bool("available") == true)
        #expect(c["no-local"]?.bool("available") == true, "\(c["no-local"] ?? [:])")
        #expect(d.objects("missing").map { $0.string("id") } == ["shared"], "\(d)")
        #expect(result.stderr.contains("required but not there: shared (MQTT 5)"), "\(result)")
    }

    /// A broker with Maximum QoS 1: QoS 2 is absent, the rest is measured.
    @Test func maximumQoSOneMeansNoQoS2() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(maximumQoS: 1))
        let result = try await runAsync(["probe", "limits", "-p", "\(peer.port)", "-V", "5", "--json"], timeout: 90)
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        let c = Self.checks(d, "5")
        // (The peer delivers everything at QoS 0, so only QoS 0 round trips work.)
        #expect(c["qos0"]?.bool("available") == true, "\(c["qos0"] ?? [:])")
        #expect(c["qos2"]?.bool("available") == false, "\(c["qos2"] ?? [:])")
        #expect(c["qos2"]?.string("detail")?.contains("QoS not supported by the broker") == true, "\(c["qos2"] ?? [:])")
        // A broker that answers little is still probed in bounded time.
        #expect((d.number("elapsed_s") ?? 99) < 60, "\(d)")
    }

    /// Announced limits, enforced or not: the peer refuses a QoS over its
    /// Maximum QoS and a packet over its Maximum Packet Size with the right
    /// DISCONNECT, but takes a Topic Alias it never allowed (a broken MUST);
    /// mosquitto refuses an alias over its maximum of 10 with 0x94.
    @Test func announcedLimitsAreEnforced() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(maximumQoS: 1, maximumPacketSize: 4096))
        let result = try await runAsync(
            ["probe", "limits", "-p", "\(peer.port)", "-V", "5", "--max-payload", "1000", "--json"], timeout: 90)
        #expect(result.status == 0, "\(result)")
        let c = Self.checks(try jsonDocument(result), "5")
        #expect(c["maximum-qos-enforced"]?.bool("available") == true, "\(c["maximum-qos-enforced"] ?? [:])")
        #expect(c["maximum-qos-enforced"]?.string("detail")?.contains("QoS not supported (0x9B)") == true)
        #expect(c["packet-size-enforced"]?.bool("available") == true, "\(c["packet-size-enforced"] ?? [:])")
        #expect(c["topic-alias-enforced"]?.bool("available") == false, "\(c["topic-alias-enforced"] ?? [:])")
        #expect(c["topic-alias-enforced"]?.objects("findings").first?.string("clause") == "MQTT 5 [MQTT-4.13.1-1]")

        let broker = try TestBroker.standard()
        let real = try await runAsync(["probe", "limits", "-p", "\(broker.port)", "-V", "5", "--json"], timeout: 90)
        let m = Self.checks(try jsonDocument(real), "5")
        #expect(m["topic-alias-enforced"]?.bool("available") == true, "\(m["topic-alias-enforced"] ?? [:])")
        #expect(m["topic-alias-enforced"]?.string("detail")?.contains("Topic Alias invalid (0x94)") == true)
        #expect(m["maximum-qos-enforced"] == nil, "mosquitto announces no Maximum QoS")
    }

    @Test(arguments: [["--require", "bogus"], ["--max-payload", "-1"], ["-c", "-i", "x"]])
    func usageErrorsExit2(arguments: [String]) async throws {
        let result = try await runAsync(["probe", "limits", "-p", "1"] + arguments)
        #expect(result.status == 2, "\(result)")
    }
}
