import Foundation
import Testing

/// `mqttctl probe session` on mosquitto, ejabberd and a peer that keeps
/// sessions for ever but queues nothing.
@Suite struct ProbeSessionTests {
    @Test func mosquittoKeepsAndEndsSessionsOnTime() async throws {
        let broker = try TestBroker.standard()
        let junit = try JUnitSchema.reportFile()
        let result = try await runAsync(
            ["probe", "session", "-p", "\(broker.port)", "--json", "--junit", junit.path], timeout: 60)
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        let results = d.objects("results")
        #expect(results.map { $0.string("protocol") } == ["3.1.1", "5"])
        let v5 = try #require(results.last)
        let resumes = v5.objects("resumes")
        #expect(resumes.map { $0.number("after_s") } == [1.5, 2, 3, 4, 5], "\(v5)")
        #expect(resumes.first?.bool("session_present") == true && resumes.first?.bool("queued_delivered") == true)
        #expect(resumes.first?.bool("subscription_restored") == true)
        // Kept before the 3 s expiry, gone two seconds after it.
        #expect(
            resumes.filter { ($0.number("after_s") ?? 0) < 3 }.allSatisfy { $0.bool("session_present") == true },
            "\(resumes)")
        #expect(resumes.last?.bool("session_present") == false, "\(resumes)")
        let ended = v5["ended_between_s"] as? [NSNumber] ?? []
        #expect(ended.count == 2 && ended[0].doubleValue < ended[1].doubleValue, "\(v5)")
        #expect(try JUnitSchema.problems(in: junit) == nil)
    }

    @Test func ejabberd() async throws {
        let broker = try TestEjabberd.standard()
        let result = try await runAsync(
            ["probe", "session", "-p", "\(broker.port)", "--json"] + TestEjabberd.credentials, timeout: 60)
        let d = try jsonDocument(result)
        #expect(d.objects("results").allSatisfy { $0.bool("pass") == true }, "\(d)")
        #expect(result.status == 0, "\(result)")
    }

    /// The scripted peer keeps sessions for ever and queues nothing: the lost
    /// message breaks the MUST, the session outliving its expiry only warns.
    @Test func aPeerThatQueuesNothingFails() async throws {
        let peer = try ScriptedBroker()
        let result = try await runAsync(
            ["probe", "session", "-p", "\(peer.port)", "-V", "5", "-x", "2", "--json"], timeout: 60)
        #expect(result.status == 10, "\(result)")
        let findings = try #require(try jsonDocument(result).objects("results").first).objects("findings")
        #expect(
            findings.contains {
                $0.string("level") == "fail" && $0.string("text")?.contains("queued while away was lost") == true
            }, "\(findings)")
        #expect(
            findings.contains { $0.string("level") == "warning" && $0.string("clause") == "MQTT 5 §3.1.2.11.2" },
            "\(findings)")
    }

    @Test(arguments: [["-c"], ["-i", "x"]])
    func usageErrors(arguments: [String]) async throws {
        let result = try await runAsync(["probe", "session", "-p", "1"] + arguments)
        #expect(result.status == 2, "\(result)")
    }
}
