/// Numbers written as hex digits, zero-padded to a width: the one formatter
/// for hex output (run ids, correlation data, escaped control characters).
enum HexText {
    /// `value` in at least `width` hex digits: `padded(0x1F, width: 4)` is "001f".
    static func padded<T: BinaryInteger>(_ value: T, width: Int, uppercase: Bool = false) -> String {
        let digits = String(value, radix: 16, uppercase: uppercase)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
