/// Number formatting for reports, without Foundation: times are shown to the
/// millisecond ("11.043 s", "0.213 ms") and ratios and settings as short as
/// they can be ("8.5", "0.75", "5").
enum Numbers {
    /// `value` with exactly `places` decimals: fixed(0.21345, 3) is "0.213".
    static func fixed(_ value: Double, _ places: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale: UInt64 = 1
        for _ in 0..<places { scale *= 10 }
        let scaled = (abs(value) * Double(scale)).rounded()
        guard scaled < 9e15 else { return String(value) }
        let n = UInt64(scaled)
        var text = (value < 0 && n != 0 ? "-" : "") + String(n / scale)
        if places > 0 {
            let fraction = String(n % scale)
            text += "." + String(repeating: "0", count: places - fraction.count) + fraction
        }
        return text
    }

    /// At most `places` decimals, trailing zeros dropped: short(8.50) is "8.5".
    static func short(_ value: Double, _ places: Int = 3) -> String {
        var text = fixed(value, places)
        guard text.contains(".") else { return text }
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

/// Short random identifiers that keep concurrent runs (and runs from other
/// machines) from sharing client ids or topics.
enum RunID {
    /// Six hex digits.
    static func make() -> String {
        HexText.padded(UInt32.random(in: 0...0xFF_FFFF), width: 6)
    }
}
