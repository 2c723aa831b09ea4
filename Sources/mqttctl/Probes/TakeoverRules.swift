import Mosquitto

/// What the specification says must happen when connection B arrives with the
/// client id of the connected A, and on which rule each expectation rests (the
/// rules and their words are in `SpecRules`).
///
/// MQTT 3.1.1: A is closed; A sent no DISCONNECT, so its will is published,
/// whatever the session flags; session present 1 only when both keep the session.
///
/// MQTT 5, by A's session expiry (SE), B's clean start (CS) and A's will delay (WD):
///
/// | SE  | B CS | WD  | A's will                         | basis |
/// |-----|------|-----|----------------------------------|-------|
/// | any | 1    | any | published (the session ends)     | MUST [MQTT-3.1.2-8] |
/// | > 0 | 0    | 0   | published at the close           | MUST [MQTT-3.1.2-8] as both comments explain it |
/// | > 0 | 0    | > 0 | not published                    | MUST [MQTT-3.1.3-9] |
/// | 0   | 0    | 0   | published (the session ends)     | MUST [MQTT-3.1.2-8] |
/// | 0   | 0    | > 0 | the comments disagree            | unsettled: a note |
///
/// Session present is 1 exactly when the session goes on (SE > 0, B CS 0); with
/// SE 0 and B CS 0 that 0 rests on the §3.1.4 comment only (non-normative).
struct TakeoverExpectation {
    struct WillRule {
        /// nil when the specification does not settle it.
        let published: Bool?
        let rule: SpecRule
        /// One sentence: why.
        let reason: String
    }

    /// nil without a will.
    let will: WillRule?
    let sessionPresent: Bool
    let sessionRule: SpecRule
    /// A's session survives the take-over (so A's subscription must deliver to B).
    let sessionGoesOn: Bool

    static func expect(
        version: ProtocolVersion, aCleanStart: Bool, aSessionExpiry: UInt32,
        bCleanStart: Bool, hasWill: Bool, willDelay: UInt32
    ) -> TakeoverExpectation {
        if version != .v5 {
            let goesOn = !aCleanStart && !bCleanStart
            return TakeoverExpectation(
                will: hasWill
                    ? WillRule(
                        published: true, rule: SpecRules.takeoverWill311,
                        reason: "A's connection was closed without DISCONNECT") : nil,
                sessionPresent: goesOn,
                sessionRule: SpecRules.sessionPresent(
                    version, bCleanStart: bCleanStart, aSessionSurvives: !aCleanStart),
                sessionGoesOn: goesOn)
        }
        let aSurvives = aSessionExpiry > 0
        let goesOn = !bCleanStart && aSurvives
        let will: WillRule
        if bCleanStart {
            will = WillRule(
                published: true, rule: SpecRules.takeoverWillSessionEnds,
                reason: "B's clean start 1 ends A's session\(willDelay > 0 ? ", before the will delay passes" : "")")
        } else if !aSurvives {
            will =
                willDelay == 0
                ? WillRule(
                    published: true, rule: SpecRules.takeoverWillSessionEnds,
                    reason: "A's session expiry 0 ends the session with A's connection")
                : WillRule(
                    published: nil, rule: SpecRules.takeoverWillUnsettled,
                    reason:
                        "A's session expiry is 0 but B's clean start 0 and a will delay of \(willDelay) s: the specification's comments disagree"
                )
        } else if willDelay == 0 {
            will = WillRule(
                published: true, rule: SpecRules.takeoverWillNoDelay,
                reason: "the session goes on, but a will delay of 0 has passed when A's connection closes")
        } else {
            will = WillRule(
                published: false, rule: SpecRules.takeoverWillDelayed,
                reason: "the session goes on and B connected before the will delay of \(willDelay) s passed")
        }
        return TakeoverExpectation(
            will: hasWill ? will : nil,
            sessionPresent: goesOn,
            sessionRule: SpecRules.sessionPresent(version, bCleanStart: bCleanStart, aSessionSurvives: aSurvives),
            sessionGoesOn: goesOn)
    }
}

/// Everything measured in one take-over that the verdict rests on.
struct TakeoverObservation {
    /// Milliseconds from B's CONNECT to A's close; nil when A was not closed.
    var closedAfter: Double?
    var closeWait: Double
    var aEnd: ConnectionEnd?
    /// nil without a will; false when it did not come within the window.
    var willPublished: Bool?
    var willAfterClose: Double?
    /// How long after A's close we watched for the will (seconds).
    var willWatched: Double = 0
    var sessionPresent: Bool?
    /// nil when A's session could not survive (not checked).
    var subscriptionCarriedOver: Bool?
    var carryWait: Double = 0
    /// nil without a will of B's own.
    var bWillPublished: Bool? = nil
    /// nil unless A held a message unacknowledged; whether B got it again.
    var inflightRedelivered: Bool? = nil
    /// "A on h1:1883, B on h2:1883" when B connected to another node.
    var nodes: String? = nil
}

/// Turns a take-over observation into findings. Pure.
enum TakeoverJudge {
    static func judge(
        _ o: TakeoverObservation, expectation e: TakeoverExpectation, version: ProtocolVersion,
        grace: Double, strict: Bool
    ) -> [Finding] {
        var findings: [Finding] = []
        let closed = o.closedAfter.map { "closed \(Numbers.fixed($0, 3)) ms after B's CONNECT" }
        findings.append(
            .check(
                SpecRules.takeoverClose(version), met: o.closedAfter != nil, strict: strict,
                expected: "A closed", observed: closed ?? "not closed within \(Numbers.short(o.closeWait)) s",
                text: o.closedAfter != nil
                    ? "A was closed" + (o.nodes.map { " (\($0))" } ?? "")
                    : "A was not closed within \(Numbers.short(o.closeWait)) s of B's CONNECT (--max-wait)"
                        + (o.nodes.map {
                            "; \($0): they are not nodes of one cluster, or the cluster does not take a session over across nodes"
                        } ?? "")))
        if version == .v5, let end = o.aEnd {
            let got = end.reasonCode == ReasonCode.sessionTakenOver
            findings.append(
                .check(
                    SpecRules.takeoverDisconnect, met: got, strict: strict,
                    expected: "DISCONNECT Session taken over (0x8E), then the close", observed: end.text,
                    text: got
                        ? "A got DISCONNECT 0x8E"
                        : end.reasonCode.map {
                            "A got DISCONNECT \(ReasonCode.describe($0)) instead of Session taken over (0x8E)"
                        }
                            ?? "A got no DISCONNECT Session taken over (0x8E), only a closed socket (the close itself, the MUST, happened)"
                ))
        }
        if let will = e.will, let published = o.willPublished {
            let observed =
                published
                ? "published \(o.willAfterClose.map { Numbers.fixed($0, 3) + " ms " } ?? "")after A's close"
                : "not published within \(Numbers.short(o.willWatched)) s of A's close"
            if let expected = will.published {
                findings.append(
                    .check(
                        will.rule, met: published == expected, strict: strict,
                        expected: expected ? "published" : "not published", observed: observed,
                        text: published == expected
                            ? "A's will was \(published ? "published" : "not published"), as expected: \(will.reason)"
                            : "A's will was \(published ? "published" : "not published"); expected \(expected ? "published" : "not published"): \(will.reason)"
                    ))
                if version == .v5, expected, published, let after = o.willAfterClose {
                    let prompt = after <= grace * 1000
                    findings.append(
                        .check(
                            SpecRules.willPromptly, met: prompt, strict: strict,
                            expected: "published at A's close, within \(Numbers.short(grace)) s (--grace)",
                            observed: "published \(Numbers.fixed(after, 3)) ms after A's close",
                            text: prompt
                                ? "A's will came promptly"
                                : "A's will came \(Numbers.fixed(after / 1000, 3)) s after A's close, not promptly"))
                }
            } else {
                findings.append(
                    .check(
                        will.rule, met: true, strict: strict, expected: "published or not (unsettled)",
                        observed: observed,
                        text:
                            "A's will was \(published ? "published" : "not published"); \(will.reason), so either is defensible"
                    ))
            }
        }
        if let present = o.sessionPresent {
            let ok = present == e.sessionPresent
            findings.append(
                .check(
                    e.sessionRule, met: ok, strict: strict,
                    expected: "session present \(e.sessionPresent ? 1 : 0)",
                    observed: "session present \(present ? 1 : 0)",
                    text: ok
                        ? "B's session present is \(present ? 1 : 0)"
                        : "B's session present is \(present ? 1 : 0), expected \(e.sessionPresent ? 1 : 0)"))
        }
        if let carried = o.subscriptionCarriedOver {
            let ok = carried == e.sessionGoesOn
            let rule = SpecRules.subscriptionCarriedOver(version, sessionGoesOn: e.sessionGoesOn)
            findings.append(
                .check(
                    rule, met: ok, strict: strict,
                    expected: e.sessionGoesOn ? "A's subscription delivers to B" : "A's subscription gone",
                    observed: carried ? "delivered to B" : "not delivered to B within \(Numbers.short(o.carryWait)) s",
                    text: ok
                        ? (carried ? "A's subscription carried over to B" : "A's subscription ended with A's session")
                        : (carried
                            ? "A's subscription delivered to B although the session should have ended"
                            : "A's subscription did not deliver to B within \(Numbers.short(o.carryWait)) s although the session should have gone on")
                ))
        }
        if let published = o.bWillPublished {
            findings.append(
                .check(
                    SpecRules.willNotBeforeClose(version), met: !published, strict: strict,
                    expected: "B's own will not published (B is connected)",
                    observed: published ? "published" : "not published",
                    text: published
                        ? "B's own will was published although B is still connected" : "B's own will was not published")
            )
        }
        if let redelivered = o.inflightRedelivered {
            let rule =
                e.sessionGoesOn
                ? SpecRules.unacknowledgedResent(version)
                : SpecRules.subscriptionCarriedOver(version, sessionGoesOn: false)
            let ok = redelivered == e.sessionGoesOn
            findings.append(
                .check(
                    rule, met: ok, strict: strict,
                    expected: e.sessionGoesOn
                        ? "the message A did not acknowledge delivered to B again"
                        : "not delivered again (the session ended)",
                    observed: redelivered
                        ? "delivered to B" : "not delivered to B within \(Numbers.short(o.carryWait)) s",
                    text: ok
                        ? (redelivered
                            ? "the message A left unacknowledged was delivered to B"
                            : "the message A left unacknowledged ended with its session")
                        : (redelivered
                            ? "the message A left unacknowledged reached B although the session ended"
                            : "the message A left unacknowledged was not delivered to B although the session went on")))
        }
        return findings
    }
}
