import ArgumentParser

/// Checks an option given in seconds: above 0 (or 0 and above), at most
/// `maximum`. Durations beyond that are absurd for a command-line run and
/// would overflow the clock's nanoseconds; they get one line naming the range.
enum Seconds {
    /// For an option the parser already read as a number: "-W 1e+300: use at most ...".
    static func check(_ value: Double, option: String, allowZero: Bool = false, maximum: Double) throws {
        if let reason = problem(value, allowZero: allowZero, maximum: maximum) {
            throw ValidationError("\(option) \(formatSeconds(value)): \(reason)")
        }
    }

    /// For `transform:` and the config file: the text as a number of seconds, or why not.
    static func parse(_ text: String, allowZero: Bool = false, maximum: Double) throws(ValueProblem) -> Double {
        guard let value = Double(text) else {
            throw ValueProblem(
                "use a number of seconds \(allowZero ? "from 0" : "above 0") to \(formatSeconds(maximum))")
        }
        if let reason = problem(value, allowZero: allowZero, maximum: maximum) { throw ValueProblem(reason) }
        return value
    }

    /// The one wording of the range, nil when `value` is in it.
    static func problem(_ value: Double, allowZero: Bool, maximum: Double) -> String? {
        if value.isNaN || value < 0 || (!allowZero && value == 0) {
            return "use a number of seconds \(allowZero ? "from 0" : "above 0") to \(formatSeconds(maximum))"
        }
        if value > maximum {
            return
                "use at most \(formatSeconds(maximum)) seconds\(maximum == oneYear ? " (a year)" : maximum == oneDay ? " (a day)" : "")"
        }
        return nil
    }

    static let oneDay: Double = 86_400
    static let oneYear: Double = 31_536_000
}
