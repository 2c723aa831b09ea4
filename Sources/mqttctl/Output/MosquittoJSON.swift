#if canImport(Glibc)
import Glibc
#endif
import Mosquitto

/// The JSON of mosquitto_sub's `%j` and `%J`, as its cJSON build (cJSON 1.7.15,
/// unformatted) writes it: same keys in the same order, same escapes, same
/// numbers. Deliberate differences, all so that every line is valid JSON with
/// nothing lost:
/// - `tst` is `2026-11-22T10:04:05.123456Z` (UTC, microseconds); mosquitto
///   writes local time with a malformed `...Z+0000` suffix;
/// - strings that are not UTF-8 get U+FFFD for each bad sequence (cJSON copies
///   the bytes, making the line invalid JSON);
/// - a NUL byte (in the payload, correlation data, or `\u0000` in a `%J`
///   payload) is written as `\u0000` (cJSON ends the string there);
/// - `topic-alias` shows its value (mosquitto reads the wrong property and
///   always shows 0).
enum MosquittoJSON {
    /// Appends the `%j` (`embedded == false`: payload as an escaped string) or
    /// `%J` (payload as JSON) object. For `%J` with a payload that is not JSON
    /// (as cJSON sees it) nothing is appended and the result is false.
    static func appendObject(
        _ message: ReceivedMessage, properties: MQTTProperties?, time: WallClock,
        embedded: Bool, into out: inout [UInt8]
    ) -> Bool {
        let start = out.count
        append("{\"tst\":\"", to: &out)
        time.appendISO8601UTC(fractionDigits: 6) { out.append($0) }
        append("\",\"topic\":", to: &out)
        appendString(message.topic, to: &out)
        append(",\"qos\":", to: &out)
        appendInteger(message.qos, to: &out)
        append(",\"retain\":", to: &out)
        out.append(message.retain ? UInt8(ascii: "1") : UInt8(ascii: "0"))
        append(",\"payloadlen\":", to: &out)
        appendInteger(message.payload.count, to: &out)
        if message.qos > 0 {
            append(",\"mid\":", to: &out)
            appendInteger(message.mid, to: &out)
        }
        if let properties {
            appendProperties(properties, to: &out)
        }
        append(",\"payload\":", to: &out)
        if message.payload.isEmpty {
            append("null", to: &out)
        } else if !embedded {
            appendString(message.payload, to: &out)
        } else {
            var parser = Parser(message.payload)
            guard parser.parseDocument(into: &out) else {
                out.removeSubrange(start...)
                return false
            }
        }
        out.append(UInt8(ascii: "}"))
        return true
    }

    /// `"properties":{...}` as mosquitto's json_print_properties: PUBLISH
    /// properties in the order received, user properties gathered into one
    /// `"user-properties"` object where the first one appeared.
    private static func appendProperties(_ properties: MQTTProperties, to out: inout [UInt8]) {
        append(",\"properties\":{", to: &out)
        var first = true
        var userPropertiesDone = false
        func key(_ name: StaticString) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(UInt8(ascii: "\""))
            append(name, to: &out)
            append("\":", to: &out)
        }
        for property in properties.items {
            switch (property.identifier, property.value) {
            case (MQTTProperties.payloadFormatIndicator, .byte(let v)):
                key("payload-format-indicator")
                appendInteger(Int(v), to: &out)
            case (MQTTProperties.messageExpiryInterval, .uint32(let v)):
                key("message-expiry-interval")
                appendInteger(Int(v), to: &out)
            case (MQTTProperties.contentType, .string(let v)):
                key("content-type")
                appendString(v, to: &out)
            case (MQTTProperties.responseTopic, .string(let v)):
                key("response-topic")
                appendString(v, to: &out)
            case (MQTTProperties.correlationData, .binary(let v)):
                key("correlation-data")
                v.withUnsafeBytes { appendString($0, to: &out) }
            case (MQTTProperties.subscriptionIdentifier, .varint(let v)):
                key("subscription-identifier")
                appendInteger(Int(v), to: &out)
            case (MQTTProperties.topicAlias, .uint16(let v)):
                key("topic-alias")
                appendInteger(Int(v), to: &out)
            case (MQTTProperties.userProperty, .pair):
                guard !userPropertiesDone else { continue }
                userPropertiesDone = true
                key("user-properties")
                out.append(UInt8(ascii: "{"))
                var firstPair = true
                for case .pair(let k, let v) in properties.all(MQTTProperties.userProperty) {
                    if !firstPair { out.append(UInt8(ascii: ",")) }
                    firstPair = false
                    appendString(k, to: &out)
                    out.append(UInt8(ascii: ":"))
                    appendString(v, to: &out)
                }
                out.append(UInt8(ascii: "}"))
            default:
                continue
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    // MARK: Writing, as cJSON prints

    static func append(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    static func appendInteger(_ value: Int, to out: inout [UInt8]) {
        DecimalText.append(value, to: &out)
    }

    static func appendString(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &out) }
    }

    /// A JSON string as cJSON's print_string_ptr escapes it (`\"` `\\` `\b` `\f`
    /// `\n` `\r` `\t`, other control characters `\u00xx`, the rest as is);
    /// bytes that are not UTF-8 become U+FFFD.
    static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        guard UTF8Check.isValid(bytes) else {
            var repaired = String(decoding: bytes, as: UTF8.self)
            repaired.withUTF8 { appendValidString(UnsafeRawBufferPointer($0), to: &out) }
            return
        }
        appendValidString(bytes, to: &out)
    }

    private static func appendValidString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        JSONEscaping.appendQuoted(bytes, style: .cJSON, to: &out)
    }

    /// A number as cJSON 1.7.15 prints it: `%1.15g`, or `%1.17g` when that does
    /// not read back as the same double; `null` for infinities and NaN.
    static func appendNumber(_ d: Double, to out: inout [UInt8]) {
        guard d.isFinite else {
            append("null", to: &out)
            return
        }
        var buffer = [CChar](repeating: 0, count: 40)
        let short = format(d, "%1.15g", &buffer)
        var test = 0.0
        buffer.withUnsafeBufferPointer { if let base = $0.baseAddress { test = strtod(base, nil) } }
        let maxValue = max(abs(test), abs(d))
        let length = abs(test - d) <= maxValue * Double.ulpOfOne ? short : format(d, "%1.17g", &buffer)
        for i in 0..<length { out.append(UInt8(bitPattern: buffer[i])) }
    }

    private static func format(_ d: Double, _ spec: String, _ buffer: inout [CChar]) -> Int {
        let count = buffer.count
        let n = buffer.withUnsafeMutableBufferPointer { b in
            withVaList([d]) { args in vsnprintf(b.baseAddress, count, spec, args) }
        }
        return Int(min(max(n, 0), Int32(count - 1)))
    }

    // MARK: Reading, as cJSON parses

    /// cJSON_ParseWithOpts(payload, &end, true) followed by mosquitto's check that
    /// the parse ended at the end of the payload, re-printed unformatted as it
    /// goes. What cJSON accepts, this accepts: bytes up to 0x20 as white space,
    /// a leading UTF-8 BOM, numbers as strtod reads them (leading zeros, "1.",
    /// "-.5"), raw control characters inside strings, nesting up to 1000.
    struct Parser {
        let bytes: UnsafeRawBufferPointer
        var position = 0
        var depth = 0
        static let nestingLimit = 1000

        init(_ bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        mutating func parseDocument(into out: inout [UInt8]) -> Bool {
            // The payload is read as a C string, and must end where the parse ends:
            // a NUL anywhere makes it invalid.
            if bytes.isEmpty || bytes.contains(0) { return false }
            if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { position = 3 }
            skipWhitespace()
            guard parseValue(into: &out) else { return false }
            skipWhitespace()
            return position == bytes.count
        }

        private func byte(at index: Int) -> UInt8 {
            index < bytes.count ? bytes[index] : 0
        }

        private mutating func skipWhitespace() {
            while position < bytes.count && bytes[position] <= UInt8(ascii: " ") { position += 1 }
        }

        private func hasPrefix(_ literal: StaticString) -> Bool {
            let n = literal.utf8CodeUnitCount
            guard position + n <= bytes.count else { return false }
            for i in 0..<n where bytes[position + i] != literal.utf8Start[i] { return false }
            return true
        }

        private mutating func parseValue(into out: inout [UInt8]) -> Bool {
            if hasPrefix("null") {
                position += 4
                MosquittoJSON.append("null", to: &out)
                return true
            }
            if hasPrefix("false") {
                position += 5
                MosquittoJSON.append("false", to: &out)
                return true
            }
            if hasPrefix("true") {
                position += 4
                MosquittoJSON.append("true", to: &out)
                return true
            }
            switch byte(at: position) {
            case UInt8(ascii: "\""): return parseString(into: &out)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return parseNumber(into: &out)
            case UInt8(ascii: "["): return parseArray(into: &out)
            case UInt8(ascii: "{"): return parseObject(into: &out)
            default: return false
            }
        }

        private mutating func parseNumber(into out: inout [UInt8]) -> Bool {
            // cJSON copies up to 63 characters from "0-9+-eE." and lets strtod read them.
            var text = [CChar](repeating: 0, count: 64)
            var n = 0
            while n < 63, position + n < bytes.count {
                let b = bytes[position + n]
                guard
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || b == UInt8(ascii: "+")
                        || b == UInt8(ascii: "-") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E")
                        || b == UInt8(ascii: ".")
                else { break }
                text[n] = CChar(bitPattern: b)
                n += 1
            }
            var consumed = 0
            let value = text.withUnsafeBufferPointer { buffer -> Double in
                guard let base = buffer.baseAddress else { return 0 }
                var end: UnsafeMutablePointer<CChar>?
                let v = strtod(base, &end)
                if let end { consumed = UnsafePointer(end) - base }
                return v
            }
            guard consumed > 0 else { return false }
            position += consumed
            MosquittoJSON.appendNumber(value, to: &out)
            return true
        }

        private static func hex4(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
            var value: UInt32 = 0
            for i in 0..<4 {
                // cJSON's parse_hex4 gives 0 for a bad digit.
                guard let digit = Hex.value(of: bytes[at + i]) else { return 0 }
                value = value << 4 | UInt32(digit)
            }
            return value
        }

        private mutating func parseString(into out: inout [UInt8]) -> Bool {
            guard byte(at: position) == UInt8(ascii: "\"") else { return false }
            // Find the closing quote (a backslash skips the next byte).
            var end = position + 1
            while end < bytes.count && bytes[end] != UInt8(ascii: "\"") {
                if bytes[end] == UInt8(ascii: "\\") { end += 1 }
                end += 1
            }
            guard end < bytes.count else { return false }
            var decoded: [UInt8] = []
            decoded.reserveCapacity(end - position)
            var p = position + 1
            while p < end {
                let b = bytes[p]
                if b != UInt8(ascii: "\\") {
                    decoded.append(b)
                    p += 1
                    continue
                }
                switch bytes[p + 1] {
                case UInt8(ascii: "b"): decoded.append(8)
                case UInt8(ascii: "f"): decoded.append(12)
                case UInt8(ascii: "n"): decoded.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "r"): decoded.append(UInt8(ascii: "\r"))
                case UInt8(ascii: "t"): decoded.append(UInt8(ascii: "\t"))
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(bytes[p + 1])
                case UInt8(ascii: "u"):
                    guard end - p >= 6 else { return false }
                    let first = Self.hex4(bytes, p + 2)
                    var codepoint = first
                    var length = 6
                    if (0xDC00...0xDFFF).contains(first) { return false }
                    if (0xD800...0xDBFF).contains(first) {
                        let second = p + 6
                        guard end - second >= 6, bytes[second] == UInt8(ascii: "\\"),
                            bytes[second + 1] == UInt8(ascii: "u")
                        else { return false }
                        let low = Self.hex4(bytes, second + 2)
                        guard (0xDC00...0xDFFF).contains(low) else { return false }
                        codepoint = 0x10000 + ((first & 0x3FF) << 10 | (low & 0x3FF))
                        length = 12
                    }
                    Self.appendUTF8(codepoint, to: &decoded)
                    p += length
                    continue
                default:
                    return false
                }
                p += 2
            }
            position = end + 1
            decoded.withUnsafeBytes { MosquittoJSON.appendString($0, to: &out) }
            return true
        }

        private static func appendUTF8(_ c: UInt32, to out: inout [UInt8]) {
            switch c {
            case 0..<0x80:
                out.append(UInt8(c))
            case 0x80..<0x800:
                out.append(UInt8(0xC0 | c >> 6)); out.append(UInt8(0x80 | c & 0x3F))
            case 0x800..<0x10000:
                out.append(UInt8(0xE0 | c >> 12)); out.append(UInt8(0x80 | c >> 6 & 0x3F));
                out.append(UInt8(0x80 | c & 0x3F))
            default:
                out.append(UInt8(0xF0 | c >> 18)); out.append(UInt8(0x80 | c >> 12 & 0x3F))
                out.append(UInt8(0x80 | c >> 6 & 0x3F)); out.append(UInt8(0x80 | c & 0x3F))
            }
        }

        private mutating func parseArray(into out: inout [UInt8]) -> Bool {
            guard depth < Self.nestingLimit else { return false }
            depth += 1
            position += 1  // '['
            skipWhitespace()
            if byte(at: position) == UInt8(ascii: "]") {
                position += 1
                depth -= 1
                out.append(UInt8(ascii: "[")); out.append(UInt8(ascii: "]"))
                return true
            }
            out.append(UInt8(ascii: "["))
            var first = true
            repeat {
                if !first {
                    position += 1  // ','
                    out.append(UInt8(ascii: ","))
                }
                first = false
                skipWhitespace()
                guard parseValue(into: &out) else { return false }
                skipWhitespace()
            } while byte(at: position) == UInt8(ascii: ",")
            guard byte(at: position) == UInt8(ascii: "]") else { return false }
            position += 1
            depth -= 1
            out.append(UInt8(ascii: "]"))
            return true
        }

        private mutating func parseObject(into out: inout [UInt8]) -> Bool {
            guard depth < Self.nestingLimit else { return false }
            depth += 1
            position += 1  // '{'
            skipWhitespace()
            if byte(at: position) == UInt8(ascii: "}") {
                position += 1
                depth -= 1
                out.append(UInt8(ascii: "{")); out.append(UInt8(ascii: "}"))
                return true
            }
            out.append(UInt8(ascii: "{"))
            var first = true
            repeat {
                if !first {
                    position += 1  // ','
                    out.append(UInt8(ascii: ","))
                }
                first = false
                skipWhitespace()
                guard parseString(into: &out) else { return false }
                skipWhitespace()
                guard byte(at: position) == UInt8(ascii: ":") else { return false }
                position += 1
                out.append(UInt8(ascii: ":"))
                skipWhitespace()
                guard parseValue(into: &out) else { return false }
                skipWhitespace()
            } while byte(at: position) == UInt8(ascii: ",")
            guard byte(at: position) == UInt8(ascii: "}") else { return false }
            position += 1
            depth -= 1
            out.append(UInt8(ascii: "}"))
            return true
        }
    }
}
