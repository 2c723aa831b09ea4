import Testing
@testable import mqttctl
import Mosquitto

/// The pure rules behind the verdicts, checked without a broker: the keep-alive
/// verdict at its boundaries and the take-over expectations for every
/// combination of protocol, session and will delay.
@Suite struct ProbeRulesTests {
    @Test func keepAliveVerdictBoundaries() {
        let limit = KeepAliveVerdict.limit(keepAlive: 5, backoff: 0.75, grace: 1)
        #expect(limit == 8.5)
        func judge(_ dropped: Double?, watched: Double = 0) -> KeepAliveVerdict {
            KeepAliveVerdict.judge(keepAlive: 5, limit: limit, droppedAfter: dropped, watched: watched)
        }
        #expect(judge(4.999) == .early)
        #expect(judge(5) == .pass)
        #expect(judge(8.5) == .pass)
        #expect(judge(8.501) == .late)
        #expect(judge(nil, watched: 8.5) == .never)
        #expect(judge(nil, watched: 8.499) == .inconclusive)
        // Keep-alive off: no limit; any drop is early, none is a pass.
        #expect(KeepAliveVerdict.limit(keepAlive: 0, backoff: 0.75, grace: 1) == nil)
        #expect(KeepAliveVerdict.judge(keepAlive: 0, limit: nil, droppedAfter: nil, watched: 1) == .pass)
        #expect(KeepAliveVerdict.judge(keepAlive: 0, limit: nil, droppedAfter: 100, watched: 100) == .early)
        // --backoff 1 --grace 0: exactly 2 × K.
        #expect(KeepAliveVerdict.limit(keepAlive: 10, backoff: 1, grace: 0) == 20)
    }

    @Test func defaultWaitIsTwiceTheLimitCappedAndCoversKeepAliveZero() {
        let plan = KeepAlivePlan(protocolVersion: .v5, subjects: [
            .init(keepAlive: 0, clientID: "a", willTopic: nil), .init(keepAlive: 30, clientID: "b", willTopic: nil),
        ], will: nil, control: nil, observerID: "o", backoff: 0.75, grace: 1, maxWait: nil)
        #expect(plan.defaultWait(effectiveKeepAlive: 5) == 17)
        #expect(plan.defaultWait(effectiveKeepAlive: 65535) == KeepAlivePlan.defaultWaitCap)
        // K = 0 is watched as long as the sweep's K = 30 anyway (2 × 46 s).
        #expect(plan.defaultWait(effectiveKeepAlive: 0) == 92)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let version: ProtocolVersion
        let aClean: Bool
        let aExpiry: UInt32
        let bClean: Bool
        let delay: UInt32
        let will: Bool
        let session: Bool
        var testDescription: String { "MQTT \(version) A clean \(aClean) expiry \(aExpiry) B clean \(bClean) delay \(delay)" }
    }

    @Test(arguments: [
        // MQTT 3.1.1: the will always (no DISCONNECT came); a session only when both keep it.
        Case(version: .v311, aClean: true, aExpiry: 0, bClean: true, delay: 0, will: true, session: false),
        Case(version: .v311, aClean: false, aExpiry: 0, bClean: false, delay: 0, will: true, session: true),
        Case(version: .v311, aClean: false, aExpiry: 0, bClean: true, delay: 0, will: true, session: false),
        // MQTT 5: the will exactly when the session ends, at once even with a delay.
        Case(version: .v5, aClean: true, aExpiry: 0, bClean: true, delay: 0, will: true, session: false),
        Case(version: .v5, aClean: true, aExpiry: 0, bClean: false, delay: 0, will: true, session: false),
        Case(version: .v5, aClean: false, aExpiry: 300, bClean: false, delay: 0, will: false, session: true),
        Case(version: .v5, aClean: false, aExpiry: 300, bClean: true, delay: 0, will: true, session: false),
        Case(version: .v5, aClean: true, aExpiry: 0, bClean: true, delay: 3, will: true, session: false),
        Case(version: .v5, aClean: false, aExpiry: 300, bClean: false, delay: 3, will: false, session: true),
        Case(version: .v5, aClean: false, aExpiry: 300, bClean: true, delay: 3, will: true, session: false),
        // Clean start 1 with a session expiry: the session outlives A, B may resume it.
        Case(version: .v5, aClean: true, aExpiry: 300, bClean: false, delay: 0, will: false, session: true),
    ])
    func takeoverExpectations(_ c: Case) {
        let expected = TakeoverExpectation.expect(version: c.version, aCleanStart: c.aClean, aSessionExpiry: c.aExpiry,
                                                  bCleanStart: c.bClean, hasWill: true, willDelay: c.delay)
        #expect(expected.willPublished == c.will)
        #expect(expected.sessionPresent == c.session)
        #expect(!expected.willReason.isEmpty)
        let noWill = TakeoverExpectation.expect(version: c.version, aCleanStart: c.aClean, aSessionExpiry: c.aExpiry,
                                                bCleanStart: c.bClean, hasWill: false, willDelay: c.delay)
        #expect(noWill.willPublished == nil)
    }

    @Test func numbersAreFormattedWithoutFoundation() {
        #expect(Numbers.fixed(0.21345, 3) == "0.213")
        #expect(Numbers.fixed(11.0427, 3) == "11.043")
        #expect(Numbers.fixed(-0.0001, 3) == "0.000")
        #expect(Numbers.fixed(-1.5, 1) == "-1.5")
        #expect(Numbers.fixed(4004.4, 0) == "4004")
        #expect(Numbers.short(8.5) == "8.5")
        #expect(Numbers.short(17) == "17")
        #expect(Numbers.short(0.75) == "0.75")
        #expect(Numbers.short(33.333, 1) == "33.3")
    }

    @Test func progressItemsDifferingOnlyInVersionAreMerged() {
        let line = ProgressItem.line([
            ProgressItem(what: "keep-alive K=5 s", version: "3.1.1", detail: "silent 7.2 s, limit 8.5 s, max 17 s"),
            ProgressItem(what: "keep-alive K=5 s", version: "5", detail: "silent 7.2 s, limit 8.5 s, max 17 s"),
            ProgressItem(what: "take-over clean", version: "5", detail: "connecting A"),
        ])
        #expect(line == "keep-alive K=5 s (MQTT 3.1.1, 5): silent 7.2 s, limit 8.5 s, max 17 s | take-over clean (MQTT 5): connecting A")
        #expect(ProgressItem.line([]) == nil)
    }
}
