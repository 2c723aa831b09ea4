/// A small JSON writer (no Foundation on the start-up path). `JSON` values build
/// the documents of `--json` reports; the static helpers append escaped strings
/// straight into an `OutputBuffer` for the per-message path of `sub --json`.
enum JSON: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    static func == (a: JSON, b: JSON) -> Bool { a.serialized() == b.serialized() }

    /// A number rounded to `decimals` places (times are reported to the millisecond).
    static func rounded(_ value: Double, decimals: Int = 3) -> JSON {
        guard value.isFinite else { return .null }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        return .number((value * scale).rounded() / scale)
    }

    static func optional(_ value: Int?) -> JSON { value.map(JSON.int) ?? .null }
    static func optional(_ value: Bool?) -> JSON { value.map(JSON.bool) ?? .null }
    static func optional(_ value: String?) -> JSON { value.map(JSON.string) ?? .null }

    func serialized() -> String {
        var out = ""
        write(into: &out)
        return out
    }

    func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .number(let d):
            if !d.isFinite {
                out += "null"
            } else if d == d.rounded() && abs(d) < 1e15 {
                out += String(Int(d))
            } else {
                out += String(d)
            }
        case .string(let s): JSON.appendQuoted(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                JSON.appendQuoted(key, to: &out)
                out += ":"
                value.write(into: &out)
            }
            out += "}"
        }
    }

    static func appendQuoted(_ s: String, to out: inout String) {
        var bytes: [UInt8] = []
        var text = s
        text.withUTF8 { JSONEscaping.appendQuoted(UnsafeRawBufferPointer($0), to: &bytes) }
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `"..."` for bytes that are valid UTF-8, escaping as JSON requires.
    static func appendQuoted(utf8 bytes: UnsafeRawBufferPointer, to output: OutputBuffer) {
        var sink = output
        JSONEscaping.appendQuoted(bytes, to: &sink)
    }
}

/// The one JSON string escaper: reports, `sub --json` and mosquitto's `%j`
/// all write strings through it.
enum JSONEscaping {
    /// `.cJSON` writes backspace and form feed as `\b` and `\f`, as mosquitto_sub's
    /// cJSON does (its `%j` output is matched byte for byte); `.plain` writes them
    /// as `\u0008` and `\u000c`, as every JSON mqttctl has written so far.
    enum Style { case plain, cJSON }

    /// Appends `"..."`: `"` and `\` escaped, `\n` `\r` `\t`, other control
    /// characters `\u00xx`; every other byte as it is (the caller hands valid UTF-8).
    @inline(__always)
    static func appendQuoted<Sink: ByteSink>(
        _ bytes: UnsafeRawBufferPointer, style: Style = .plain, to sink: inout Sink
    ) {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        sink.append(quote)
        var runStart = 0
        for i in 0..<bytes.count {
            let b = bytes[i]
            guard b < 0x20 || b == quote || b == backslash else { continue }
            if runStart < i { sink.append(UnsafeRawBufferPointer(rebasing: bytes[runStart..<i])) }
            runStart = i + 1
            sink.append(backslash)
            switch b {
            case quote, backslash: sink.append(b)
            case 0x0A: sink.append(UInt8(ascii: "n"))
            case 0x0D: sink.append(UInt8(ascii: "r"))
            case 0x09: sink.append(UInt8(ascii: "t"))
            case 0x08 where style == .cJSON: sink.append(UInt8(ascii: "b"))
            case 0x0C where style == .cJSON: sink.append(UInt8(ascii: "f"))
            default:
                sink.append(UInt8(ascii: "u"))
                sink.append(UInt8(ascii: "0"))
                sink.append(UInt8(ascii: "0"))
                sink.append(hexDigits[Int(b >> 4)])
                sink.append(hexDigits[Int(b & 0xF)])
            }
        }
        if runStart < bytes.count { sink.append(UnsafeRawBufferPointer(rebasing: bytes[runStart...])) }
        sink.append(quote)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

/// Base64 (RFC 4648, with padding) for payloads that are not UTF-8.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Calls `emit` with each output byte.
    @inline(__always)
    static func encode(_ bytes: UnsafeRawBufferPointer, _ emit: (UInt8) -> Void) {
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            emit(alphabet[Int(n >> 18 & 63)])
            emit(alphabet[Int(n >> 12 & 63)])
            emit(alphabet[Int(n >> 6 & 63)])
            emit(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            emit(alphabet[Int(n >> 18 & 63)])
            emit(alphabet[Int(n >> 12 & 63)])
            emit(rest == 2 ? alphabet[Int(n >> 6 & 63)] : 61)
            emit(61)
        }
    }

    static func append(_ bytes: UnsafeRawBufferPointer, to output: OutputBuffer) {
        encode(bytes) { output.append($0) }
    }

    static func encode(_ bytes: [UInt8]) -> String {
        var result: [UInt8] = []
        result.reserveCapacity((bytes.count + 2) / 3 * 4)
        bytes.withUnsafeBytes { encode($0) { result.append($0) } }
        return String(decoding: result, as: UTF8.self)
    }
}
