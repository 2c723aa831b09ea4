/// How much a rule of the specification binds a broker.
enum RuleBasis: String {
    /// A normative MUST or MUST NOT, with its [MQTT-x.y.z-n] identifier.
    case must = "MUST"
    /// A SHOULD: breaking it is a warning.
    case should = "SHOULD"
    /// A MAY or an explicit permission: what the broker chose is a fact, reported as a warning.
    case may = "MAY"
    /// What a non-normative comment of the specification says: a warning.
    case nonNormative = "non-normative"
    /// The specification's own texts disagree: a note that quotes both, never a failure.
    case unsettled = "unsettled"
}

/// One rule a probe checks: where the specification says it and in which words.
struct SpecRule: Equatable {
    let basis: RuleBasis
    /// "MQTT 5 [MQTT-3.1.2-22]" or "MQTT 5 §3.1.2.10, non-normative comment".
    let clause: String
    /// The specification's text the rule rests on (for unsettled rules: both readings).
    let quote: String
}

/// A rule checked against what was measured.
struct Finding: Equatable {
    enum Level: String, Comparable {
        /// The broker did what the rule asks.
        case pass
        /// Worth knowing, never a failure (unsettled rules; what could not be checked).
        case note
        /// A SHOULD, MAY or non-normative expectation not met (a failure with --strict).
        case warning
        /// A MUST broken (or, with --strict, a warning).
        case fail

        private var order: Int {
            switch self {
            case .pass: return 0
            case .note: return 1
            case .warning: return 2
            case .fail: return 3
            }
        }

        static func < (a: Level, b: Level) -> Bool { a.order < b.order }
    }

    let rule: SpecRule
    let level: Level
    /// What the rule expects, in a few words ("closed within 8.5 s").
    let expected: String
    /// What was measured ("dropped after 11.714 s").
    let observed: String
    /// One sentence for the report.
    let text: String

    /// The finding for a rule that was (`met`) or was not met: a broken MUST
    /// fails, a broken SHOULD, MAY or non-normative expectation warns (fails with
    /// `strict`), an unsettled rule is always a note.
    static func check(
        _ rule: SpecRule, met: Bool, strict: Bool, expected: String, observed: String, text: String
    ) -> Finding {
        let level: Level
        switch (rule.basis, met) {
        case (.unsettled, _): level = .note
        case (_, true): level = .pass
        case (.must, false): level = .fail
        case (_, false): level = strict ? .fail : .warning
        }
        return Finding(rule: rule, level: level, expected: expected, observed: observed, text: text)
    }

    /// A note about the measurement itself (no rule of the broker's is judged).
    static func note(_ rule: SpecRule, expected: String, observed: String, text: String) -> Finding {
        Finding(rule: rule, level: .note, expected: expected, observed: observed, text: text)
    }

    /// "FAIL [MQTT-3.1.2-22]: ..." as the text reports print it (nil for a pass).
    var reportLine: String? {
        let label: String
        switch level {
        case .pass: return nil
        case .fail: label = "FAIL"
        case .warning: label = "warning"
        case .note: label = "note"
        }
        return "\(label) (\(rule.basis.rawValue), \(rule.clause)): \(text)"
    }

    var json: JSON {
        .object([
            ("level", .string(level.rawValue)),
            ("basis", .string(rule.basis.rawValue)),
            ("clause", .string(rule.clause)),
            ("expected", .string(expected)),
            ("observed", .string(observed)),
            ("text", .string(text)),
            ("quote", .string(rule.quote)),
        ])
    }
}

extension Array where Element == Finding {
    /// No MUST broken (with --strict: no SHOULD either; that is folded into the levels).
    var passed: Bool { !contains { $0.level == .fail } }
    var warnings: Int { filter { $0.level == .warning }.count }
    /// The findings a report shows: everything but passes.
    var reported: [Finding] { filter { $0.level != .pass } }
}
