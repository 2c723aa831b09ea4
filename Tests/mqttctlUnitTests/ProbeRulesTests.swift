import Testing
@testable import mqttctl
import Mosquitto

/// The pure rules behind the verdicts, checked without a broker: the keep-alive
/// judge at its boundaries, the will timing, and the take-over expectations for
/// every combination of protocol, session and will delay, each with its level
/// and the clause it quotes.
@Suite struct ProbeRulesTests {
    func keepAlive(
        _ dropped: Double?, k: Int = 5, watched: Double = 0, maxWait: Double = 17, version: ProtocolVersion = .v311,
        strict: Bool = false
    ) -> (KeepAliveVerdict, [Finding]) {
        let limit = KeepAliveVerdict.limit(keepAlive: k, backoff: 0.75, grace: 1)
        let o = KeepAliveObservation(
            version: version, requested: k, serverKeepAlive: nil, refusal: nil, droppedAfter: dropped,
            watched: dropped ?? watched, maxWait: maxWait, limit: limit, strict: strict)
        let result = KeepAliveJudge.judge(o)
        return (result.verdict, result.findings)
    }

    @Test func keepAliveVerdictBoundaries() {
        #expect(KeepAliveVerdict.limit(keepAlive: 5, backoff: 0.75, grace: 1) == 8.5)
        #expect(keepAlive(4.999).0 == .early)
        #expect(keepAlive(5).0 == .pass)
        #expect(keepAlive(8.5).0 == .pass)
        #expect(keepAlive(8.501).0 == .late)
        #expect(keepAlive(nil, watched: 8.5).0 == .never)
        #expect(keepAlive(nil, watched: 8.499).0 == .inconclusive)
        // --backoff 1 --grace 0: exactly 2 × K.
        #expect(KeepAliveVerdict.limit(keepAlive: 10, backoff: 1, grace: 0) == 20)
        #expect(KeepAliveVerdict.limit(keepAlive: 0, backoff: 0.75, grace: 1) == nil)
    }

    /// Late and never break the MUST of §3.1.2.10 and fail; an early drop is
    /// permitted ("at any time" in 3.1.1, a non-normative comment in 5): a warning,
    /// a failure only with --strict.
    @Test(arguments: [ProtocolVersion.v311, .v5])
    func keepAliveLevels(version: ProtocolVersion) {
        let mustClause = version == .v5 ? "[MQTT-3.1.2-22]" : "[MQTT-3.1.2-24]"
        let late = keepAlive(12, version: version).1
        #expect(late.passed == false)
        let broken = late.first { $0.level == .fail }
        #expect(broken?.rule.basis == .must)
        #expect(broken?.rule.clause.contains(mustClause) == true, "\(late)")
        #expect(broken?.rule.quote.contains("one and a half times the Keep Alive") == true)

        let never = keepAlive(nil, watched: 20, version: version).1
        #expect(never.first { $0.level == .fail }?.rule.clause.contains(mustClause) == true)

        let early = keepAlive(2, version: version).1
        #expect(early.passed, "\(early)")
        let warning = early.first { $0.level == .warning }
        #expect(warning?.rule.basis == (version == .v5 ? .nonNormative : .may))
        #expect(warning?.rule.quote.contains(version == .v5 ? "does not guarantee" : "permitted to disconnect") == true)
        #expect(keepAlive(2, version: version, strict: true).1.passed == false)

        let inconclusive = keepAlive(nil, watched: 3, version: version)
        #expect(inconclusive.0 == .inconclusive)
        #expect(inconclusive.1.allSatisfy { $0.level == .note }, "\(inconclusive.1)")
    }

    /// Keep-alive off: a drop is permitted but not expected (warning).
    @Test func keepAliveZero() {
        let o = KeepAliveObservation(
            version: .v5, requested: 0, serverKeepAlive: nil, refusal: nil, droppedAfter: 30,
            watched: 30, maxWait: 60, limit: nil)
        let (verdict, findings) = KeepAliveJudge.judge(o)
        #expect(verdict == .early)
        #expect(findings.map(\.level) == [.warning])
        var kept = o
        kept.droppedAfter = nil
        #expect(KeepAliveJudge.judge(kept).0 == .pass)
        #expect(KeepAliveJudge.judge(kept).1.passed)
    }

    /// A refused keep-alive is a fact (the server MAY check the CONNECT), not a broken MUST.
    @Test func refusalIsAWarning() {
        let o = KeepAliveObservation(
            version: .v5, requested: 0, serverKeepAlive: nil, refusal: "closed without CONNACK",
            droppedAfter: nil, watched: 0, maxWait: 20, limit: nil)
        let (verdict, findings) = KeepAliveJudge.judge(o)
        #expect(verdict == .refused)
        #expect(findings.map(\.level) == [.warning])
        #expect(findings.first?.rule.clause == "MQTT 5 [MQTT-3.1.4-2]")
        var strict = o
        strict.strict = true
        #expect(KeepAliveJudge.judge(strict).1.map(\.level) == [.fail])
    }

    /// After a drop the will MUST come ([MQTT-3.1.2-8]); MQTT 5 wants it promptly
    /// (SHOULD, §3.1.2.5) — at the close when the session ends with it, even with
    /// a will delay; after the delay when the session goes on, never before it.
    @Test func willAfterADrop() {
        func will(
            _ after: Double?, delay: UInt32 = 0, sessionEnds: Bool = true, version: ProtocolVersion = .v5
        ) -> [Finding] {
            let o = KeepAliveObservation(
                version: version, requested: 5, serverKeepAlive: nil, refusal: nil, droppedAfter: 6,
                watched: 6, maxWait: 17, limit: 8.5, hasWill: true, willDelay: delay,
                willAfterDrop: after, willWatched: 6, sessionEndsAtClose: sessionEnds, grace: 1)
            return KeepAliveJudge.willFindings(o)
        }
        #expect(will(nil).first?.level == .fail)
        #expect(will(nil).first?.rule.clause == "MQTT 5 [MQTT-3.1.2-8]")
        #expect(will(nil, version: .v311).first?.rule.clause == "MQTT 3.1.1 [MQTT-3.1.2-8]")
        #expect(will(0.01).passed && will(0.01).warnings == 0)
        // Session expiry 0 ends the session at the close: a will held for its delay is late.
        let held = will(2.4, delay: 2)
        #expect(held.passed && held.warnings == 1, "\(held)")
        #expect(held.first { $0.level == .warning }?.rule == SpecRules.willPromptly)
        // A session that goes on: the delay is honoured; before it is a broken MUST.
        #expect(will(3.2, delay: 3, sessionEnds: false).warnings == 0)
        #expect(will(0.1, delay: 3, sessionEnds: false).passed == false)
        #expect(will(6, delay: 3, sessionEnds: false).warnings == 1)
        // MQTT 3.1.1 has no timing rule.
        #expect(will(4, version: .v311).count == 1)
    }

    @Test func defaultWaitIsTwiceTheLimitCappedAndCoversKeepAliveZero() {
        let plan = KeepAlivePlan(
            protocolVersion: .v5,
            subjects: [
                .init(keepAlive: 0, clientID: "a", willTopic: nil), .init(keepAlive: 30, clientID: "b", willTopic: nil),
            ], will: nil, control: nil, observerID: "o", backoff: 0.75, grace: 1, maxWait: nil)
        #expect(plan.defaultWait(effectiveKeepAlive: 5) == 17)
        #expect(plan.defaultWait(effectiveKeepAlive: 65535) == KeepAlivePlan.defaultWaitCap)
        // K = 0 is watched as long as the sweep's K = 30 anyway (2 × 46 s).
        #expect(plan.defaultWait(effectiveKeepAlive: 0) == 92)
        // No will delay makes a wait unbounded.
        #expect(plan.willWindow(delay: UInt32.max) == KeepAlivePlan.defaultWaitCap)
        var bounded = plan
        bounded.maxWait = 4
        #expect(bounded.willWindow(delay: 100) == 4)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let version: ProtocolVersion
        let aClean: Bool
        let aExpiry: UInt32
        let bClean: Bool
        let delay: UInt32
        /// nil: unsettled.
        let will: Bool?
        let willBasis: RuleBasis
        let willClause: String
        let session: Bool
        let sessionBasis: RuleBasis
        let sessionClause: String
        var testDescription: String {
            "MQTT \(version) A clean \(aClean) expiry \(aExpiry) B clean \(bClean) delay \(delay)"
        }
    }

    @Test(arguments: [
        // MQTT 3.1.1: the will always (no DISCONNECT came); a session only when both keep it.
        Case(
            version: .v311, aClean: true, aExpiry: 0, bClean: true, delay: 0, will: true, willBasis: .must,
            willClause: "[MQTT-3.1.2-8]",
            session: false, sessionBasis: .must, sessionClause: "[MQTT-3.2.2-1]"),
        Case(
            version: .v311, aClean: false, aExpiry: 0, bClean: false, delay: 0, will: true, willBasis: .must,
            willClause: "[MQTT-3.1.2-8]",
            session: true, sessionBasis: .must, sessionClause: "[MQTT-3.2.2-2]"),
        Case(
            version: .v311, aClean: false, aExpiry: 0, bClean: true, delay: 0, will: true, willBasis: .must,
            willClause: "[MQTT-3.1.2-8]",
            session: false, sessionBasis: .must, sessionClause: "[MQTT-3.2.2-1]"),
        // MQTT 5, B clean start 1: the session ends, the will is published, with or without a delay.
        Case(
            version: .v5, aClean: true, aExpiry: 0, bClean: true, delay: 0, will: true, willBasis: .must,
            willClause: "[MQTT-3.1.2-8]",
            session: false, sessionBasis: .must, sessionClause: "[MQTT-3.2.2-2]"),
        Case(
            version: .v5, aClean: false, aExpiry: 300, bClean: true, delay: 3, will: true, willBasis: .must,
            willClause: "[MQTT-3.1.2-8]",
            session: false, sessionBasis: .must, sessionClause: "[MQTT-3.2.2-2]"),
        // A's session expiry 0, B clean start 0: the session ends with A's connection.
        Case(
            version: .v5, aClean: true, aExpiry: 0, bClean: false, delay: 0, will: true, willBasis: .must,
            willClause: "[MQTT-3.1.2-8]",
            session: false, sessionBasis: .nonNormative, sessionClause: "§3.1.4"),
        // ... but with a will delay the comments disagree: unsettled.
        Case(
            version: .v5, aClean: true, aExpiry: 0, bClean: false, delay: 3, will: nil, willBasis: .unsettled,
            willClause: "§3.1.3.2.2 vs §3.1.4",
            session: false, sessionBasis: .nonNormative, sessionClause: "§3.1.4"),
        // The session goes on: the will at the close when its delay is 0, never with a delay.
        Case(
            version: .v5, aClean: false, aExpiry: 300, bClean: false, delay: 0, will: true, willBasis: .must,
            willClause: "§3.1.3.2.2",
            session: true, sessionBasis: .must, sessionClause: "[MQTT-3.2.2-3]"),
        Case(
            version: .v5, aClean: false, aExpiry: 300, bClean: false, delay: 3, will: false, willBasis: .must,
            willClause: "[MQTT-3.1.3-9]",
            session: true, sessionBasis: .must, sessionClause: "[MQTT-3.2.2-3]"),
        // Clean start 1 with a session expiry: the session outlives A, B may resume it.
        Case(
            version: .v5, aClean: true, aExpiry: 300, bClean: false, delay: 0, will: true, willBasis: .must,
            willClause: "[MQTT-3.1.2-8]",
            session: true, sessionBasis: .must, sessionClause: "[MQTT-3.2.2-3]"),
    ])
    func takeoverExpectations(_ c: Case) throws {
        let e = TakeoverExpectation.expect(
            version: c.version, aCleanStart: c.aClean, aSessionExpiry: c.aExpiry,
            bCleanStart: c.bClean, hasWill: true, willDelay: c.delay)
        let will = try #require(e.will)
        #expect(will.published == c.will)
        #expect(will.rule.basis == c.willBasis)
        #expect(will.rule.clause.contains(c.willClause), "\(will.rule.clause)")
        #expect(!will.reason.isEmpty && !will.rule.quote.isEmpty)
        #expect(e.sessionPresent == c.session)
        #expect(e.sessionRule.basis == c.sessionBasis)
        #expect(e.sessionRule.clause.contains(c.sessionClause), "\(e.sessionRule.clause)")
        let noWill = TakeoverExpectation.expect(
            version: c.version, aCleanStart: c.aClean, aSessionExpiry: c.aExpiry,
            bCleanStart: c.bClean, hasWill: false, willDelay: c.delay)
        #expect(noWill.will == nil)
    }

    func judge(
        _ o: TakeoverObservation, version: ProtocolVersion = .v5, aExpiry: UInt32 = 300, bClean: Bool = false,
        delay: UInt32 = 0, strict: Bool = false
    ) -> [Finding] {
        let e = TakeoverExpectation.expect(
            version: version, aCleanStart: false, aSessionExpiry: aExpiry, bCleanStart: bClean,
            hasWill: true, willDelay: delay)
        return TakeoverJudge.judge(o, expectation: e, version: version, grace: 1, strict: strict)
    }

    /// What mosquitto 2.0.11 does with a persistent MQTT 5 session (no 0x8E, the
    /// will dropped): the missing will fails, the missing 0x8E warns.
    @Test func mosquittoPersistentTakeoverFailsOnTheWill() {
        let o = TakeoverObservation(
            closedAfter: 0.2, closeWait: 5, aEnd: .closed(.fin), willPublished: false, willAfterClose: nil,
            willWatched: 4, sessionPresent: true, subscriptionCarriedOver: true, carryWait: 4)
        let findings = judge(o)
        #expect(!findings.passed)
        #expect(findings.filter { $0.level == .fail }.map(\.rule) == [SpecRules.takeoverWillNoDelay])
        #expect(findings.filter { $0.level == .warning }.map(\.rule) == [SpecRules.takeoverDisconnect])
        #expect(judge(o, strict: true).filter { $0.level == .fail }.count == 2)
    }

    /// ejabberd's answer: DISCONNECT 0x8E with a reason string, the will published at once.
    @Test func specificationTakeoverPasses() {
        let end = ConnectionEnd.disconnect(ServerDisconnect(reasonCode: 0x8E))
        let o = TakeoverObservation(
            closedAfter: 0.3, closeWait: 5, aEnd: end, willPublished: true, willAfterClose: 0.2,
            willWatched: 4, sessionPresent: true, subscriptionCarriedOver: true, carryWait: 4)
        let findings = judge(o, strict: true)
        #expect(findings.passed && findings.reported.isEmpty, "\(findings)")
        // A will that takes 2 s is published, but not promptly: a warning.
        var slow = o
        slow.willAfterClose = 2000
        #expect(judge(slow).passed && judge(slow).warnings == 1)
    }

    @Test func unsettledWillIsANoteEitherWay() {
        for published in [true, false] {
            let o = TakeoverObservation(
                closedAfter: 0.3, closeWait: 5, aEnd: .disconnect(ServerDisconnect(reasonCode: 0x8E)),
                willPublished: published, willAfterClose: published ? 0.1 : nil, willWatched: 7,
                sessionPresent: false, subscriptionCarriedOver: nil)
            let findings = judge(o, aExpiry: 0, delay: 3, strict: true)
            #expect(findings.passed, "\(findings)")
            #expect(findings.filter { $0.level == .note }.map(\.rule) == [SpecRules.takeoverWillUnsettled])
            #expect(
                SpecRules.takeoverWillUnsettled.quote.contains("§3.1.3.2.2")
                    && SpecRules.takeoverWillUnsettled.quote.contains("§3.1.4"))
        }
    }

    @Test func oldConnectionNotClosedFails() {
        let o = TakeoverObservation(
            closedAfter: nil, closeWait: 1, aEnd: nil, willPublished: false, willAfterClose: nil,
            sessionPresent: true, subscriptionCarriedOver: nil)
        let failed = judge(o, version: .v311).filter { $0.level == .fail }
        #expect(failed.first?.rule.clause == "MQTT 3.1.1 [MQTT-3.1.4-2]")
        #expect(judge(o).filter { $0.level == .fail }.first?.rule.clause == "MQTT 5 [MQTT-3.1.4-3]")
    }

    /// Every rule has a clause, a quote, and the level its words give it.
    @Test func everyRuleQuotesItsText() {
        let rules: [SpecRule] =
            [ProtocolVersion.v311, .v5].flatMap { v in
                [
                    SpecRules.keepAliveClose(v), SpecRules.keepAliveNotBeforeK(v), SpecRules.keepAliveZero(v),
                    SpecRules.keepAliveRefusal(v),
                    SpecRules.willPublished(v), SpecRules.willDeletedByDisconnect(v), SpecRules.takeoverClose(v),
                    SpecRules.subscriptionCarriedOver(v, sessionGoesOn: true),
                    SpecRules.subscriptionCarriedOver(v, sessionGoesOn: false),
                ]
            } + [
                SpecRules.willPromptly, SpecRules.willNotBeforeDelay, SpecRules.takeoverDisconnect,
                SpecRules.takeoverWill311,
                SpecRules.takeoverWillSessionEnds, SpecRules.takeoverWillNoDelay, SpecRules.takeoverWillDelayed,
                SpecRules.takeoverWillUnsettled,
            ]
        for rule in rules {
            #expect(rule.clause.hasPrefix("MQTT 3.1.1") || rule.clause.hasPrefix("MQTT 5"), "\(rule)")
            #expect(rule.quote.count > 40, "\(rule)")
            if rule.basis == .must { #expect(rule.quote.contains("MUST"), "\(rule)") }
            if rule.basis == .should { #expect(rule.quote.contains("SHOULD") || rule.quote.contains("MAY"), "\(rule)") }
        }
    }

    @Test func findingLevelsFollowTheBasis() {
        func level(_ basis: RuleBasis, met: Bool, strict: Bool = false) -> Finding.Level {
            Finding.check(
                SpecRule(basis: basis, clause: "MQTT 5 x", quote: "q"), met: met, strict: strict,
                expected: "", observed: "", text: ""
            ).level
        }
        #expect(level(.must, met: false) == .fail)
        #expect(level(.must, met: true) == .pass)
        for basis in [RuleBasis.should, .may, .nonNormative] {
            #expect(level(basis, met: false) == .warning)
            #expect(level(basis, met: false, strict: true) == .fail)
        }
        #expect(level(.unsettled, met: false, strict: true) == .note)
        #expect(level(.unsettled, met: true) == .note)
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
        #expect(
            line
                == "keep-alive K=5 s (MQTT 3.1.1, 5): silent 7.2 s, limit 8.5 s, max 17 s | take-over clean (MQTT 5): connecting A"
        )
        #expect(ProgressItem.line([]) == nil)
    }
}
