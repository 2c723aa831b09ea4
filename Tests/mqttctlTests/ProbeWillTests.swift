import Foundation
import Testing

/// `mqttctl probe will`: every ending, timed, on mosquitto, ejabberd and peers
/// that publish wills early or late.
@Suite struct ProbeWillTests {
    static func cases(_ d: [String: Any]) -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for result in d.objects("results") {
            for c in result.objects("cases") {
                out["\(result.string("protocol") ?? "") \(c.string("ending") ?? "")"] = c
            }
        }
        return out
    }

    /// mosquitto 2.0.11 honours the will delay (and ends it at the session
    /// expiry) but never publishes a delayed will on a take-over: the one failure.
    @Test func mosquitto() async throws {
        let broker = try TestBroker.standard()
        let junit = try JUnitSchema.reportFile()
        let result = try await runAsync(
            ["probe", "will", "-p", "\(broker.port)", "--grace", "2", "--json", "--junit", junit.path], timeout: 90)
        #expect(result.status == 10, "\(result)")
        let c = Self.cases(try jsonDocument(result))
        #expect(c.count == 10, "\(c.keys)")
        let failing = Set(c.filter { $0.value.bool("pass") == false }.keys)
        #expect(failing == ["5 take-over"], "\(failing)")
        #expect(c["5 DISCONNECT 0x00"]?.bool("will_published") == false)
        #expect(c["3.1.1 DISCONNECT 0x00"]?.bool("will_published") == false)
        let delayed = try #require(c["5 socket closed"]?.number("will_after_end_s"))
        #expect(delayed >= 1 && delayed < 4, "due after 2 s: \(delayed)")
        let expiry = try #require(c["5 delay over session expiry"]?.number("will_after_end_s"))
        #expect(expiry >= 1 && expiry < 4, "due at the 2 s session expiry, not the 15 s delay: \(expiry)")
        #expect(try JUnitSchema.problems(in: junit) == nil)
    }

    @Test func ejabberdPassesEveryEnding() async throws {
        let broker = try TestEjabberd.standard()
        let result = try await runAsync(
            ["probe", "will", "-p", "\(broker.port)", "--grace", "2", "--json"] + TestEjabberd.credentials,
            timeout: 90)
        let c = Self.cases(try jsonDocument(result))
        #expect(c.filter { $0.value.bool("pass") == false }.isEmpty, "\(c)")
        #expect(result.status == 0, "\(result)")
    }

    /// A late will warns (SHOULD promptly); one that ignores its delay breaks the MUST.
    @Test func lateAndEarlyWills() async throws {
        let late = try ScriptedBroker(ScriptedBroker.Behaviour(dropFactor: 1.2, willLateBy: 2.5))
        let a = try await runAsync(["probe", "will", "-p", "\(late.port)", "-V", "5", "--json"], timeout: 90)
        #expect(a.status == 0, "\(a)")
        let lateCase = try #require(Self.cases(try jsonDocument(a))["5 socket closed"])
        #expect(lateCase.objects("findings").map { $0.string("level") } == ["warning"], "\(lateCase)")
        #expect(lateCase.objects("findings").first?.string("clause") == "MQTT 5 §3.1.2.5")

        let early = try ScriptedBroker(ScriptedBroker.Behaviour(dropFactor: 1.2, ignoreWillDelay: true))
        let b = try await runAsync(
            ["probe", "will", "-p", "\(early.port)", "-V", "5", "--will-delay", "3", "--json"], timeout: 90)
        #expect(b.status == 10, "\(b)")
        let earlyCase = try #require(Self.cases(try jsonDocument(b))["5 socket closed"])
        #expect(
            earlyCase.objects("findings").contains {
                $0.string("level") == "fail" && $0.string("clause") == "MQTT 5 [MQTT-3.1.2-8]"
            },
            "\(earlyCase)")
    }

    @Test(arguments: [["--will-qos", "3"], ["-c"], ["-i", "x"], ["--will-delay", "-1"]])
    func usageErrors(arguments: [String]) async throws {
        let result = try await runAsync(["probe", "will", "-p", "1"] + arguments)
        #expect(result.status == 2, "\(result)")
    }
}
