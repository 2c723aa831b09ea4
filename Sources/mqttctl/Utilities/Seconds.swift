import ArgumentParser

/// Checks an option given in seconds: above 0 (or 0 and above), at most
/// `maximum`. Durations beyond that are absurd for a command-line run and
/// would overflow the clock's nanoseconds; they get one line naming the range.
enum Seconds {
    static func check(_ value: Double, option: String, allowZero: Bool = false, maximum: Double) throws {
        let shown = "\(option) \(formatSeconds(value))"
        if value.isNaN || value < 0 || (!allowZero && value == 0) {
            throw ValidationError("\(shown): use a number of seconds \(allowZero ? "from 0" : "above 0") to \(formatSeconds(maximum))")
        }
        if value > maximum {
            throw ValidationError("\(shown): use at most \(formatSeconds(maximum)) seconds\(maximum == oneYear ? " (a year)" : maximum == oneDay ? " (a day)" : "")")
        }
    }

    static let oneDay: Double = 86_400
    static let oneYear: Double = 31_536_000
}
