#if canImport(Glibc)
import Glibc
#endif
import Mosquitto

/// `sub -F FORMAT`: mosquitto_sub 2.0.11's format strings (client/sub_client_output.c,
/// formatted_print), byte for byte, including its quirks: `%5p` cuts the payload
/// to 5 bytes, `%-p` pads with as many spaces as the payload is long, `%8x`
/// shows only 4 bytes, a missing numeric property prints the width in pad
/// characters, a missing `%R` prints nothing. A newline follows each message
/// unless -N (as mosquitto_sub).
///
/// The format is compiled once (and checked as mosquitto's check_format does)
/// into tokens; `render` walks them and appends straight to the output.
/// Deliberate differences: the time is read once per message (mosquitto reads
/// the clock again for each of %I %U %j %J), and %j/%J write a well-formed UTC
/// timestamp and always-valid JSON (see `MosquittoJSON`).
final class FormatRenderer: MessageRenderer {
    /// `%[-][0][width][.precision]`, exactly as formatted_print reads them.
    struct Field: Equatable {
        var leftAlign = false
        var zeroPad = false
        var width = 0
        /// -1: none.
        var precision = -1

        var padCharacter: UInt8 { zeroPad ? UInt8(ascii: "0") : UInt8(ascii: " ") }
    }

    enum Token: Equatable {
        /// Bytes of `literals` (plain text, escapes, %%, @@, the final newline).
        case literal(start: Int, end: Int)
        case topic(Field)
        /// hex: 0 bytes, 1 lower-case hex (%x), 2 upper-case hex (%X).
        case payload(Field, hex: Int)
        case payloadLength(Field)
        case mid(Field)
        case qos
        case retain
        case topicAlias(Field)
        case contentType(Field)
        case correlationData
        case messageExpiryInterval(Field)
        case payloadFormatIndicator(Field)
        case responseTopic(Field)
        case subscriptionIdentifier(Field)
        case userProperties
        case isoTime(Field)
        case unixTime
        case json(embedded: Bool)
        /// `@c`: strftime("%c") of the local time; the index of its format.
        case strftime(Int)
        case nanoseconds

        var field: Field? {
            switch self {
            case .topic(let f), .payload(let f, _), .payloadLength(let f), .mid(let f), .topicAlias(let f),
                .contentType(let f), .messageExpiryInterval(let f), .payloadFormatIndicator(let f),
                .responseTopic(let f), .subscriptionIdentifier(let f), .isoTime(let f):
                return f
            default:
                return nil
            }
        }
    }

    /// Field widths and precisions above this are refused (mosquitto keeps them
    /// in a C int, where they overflow).
    static let maximumWidth = Int(Int32.max)

    let tokens: [Token]
    private let literals: [UInt8]
    private let strftimeFormats: [[CChar]]
    private let needsClock: Bool
    private let needsLocalTime: Bool
    private let needsProperties: Bool
    /// strftime's output (mosquitto uses a 100-byte buffer: longer results print nothing).
    private let timeBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: 100)
    /// Reused for %j/%J.
    private var scratch: [UInt8] = []

    /// `--pretty`: %j and %J as cJSON_Print formats them (see `PrettyJSON`).
    var pretty = false

    init(format: String, endOfLine: Bool = true) throws(CommandFailure) {
        let f = Array(format.utf8)
        var tokens: [Token] = []
        var literals: [UInt8] = []
        var strftimeFormats: [[CChar]] = []

        func literal(_ byte: UInt8) {
            literals.append(byte)
            if case .literal(let start, _)? = tokens.last {
                tokens[tokens.count - 1] = .literal(start: start, end: literals.count)
            } else {
                tokens.append(.literal(start: literals.count - 1, end: literals.count))
            }
        }
        func fail(_ problem: String) -> CommandFailure {
            .usage("invalid -F format '\(format)': \(problem)")
        }
        /// The (possibly multi-byte) character at `index`, for messages.
        func character(at index: Int) -> String {
            var end = index + 1
            while end < f.count && f[end] & 0xC0 == 0x80 { end += 1 }
            return String(decoding: f[index..<end], as: UTF8.self)
        }

        var i = 0
        while i < f.count {
            let c = f[i]
            switch c {
            case UInt8(ascii: "%"):
                let start = i
                i += 1
                var field = Field()
                if i < f.count && f[i] == UInt8(ascii: "-") { field.leftAlign = true; i += 1 }
                if i < f.count && f[i] == UInt8(ascii: "0") { field.zeroPad = true; i += 1 }
                /// Reads digits; nil when the number is above `maximumWidth`.
                func number() -> Int? {
                    var value = 0
                    var tooLarge = false
                    while i < f.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(f[i]) {
                        value = value * 10 + Int(f[i] - UInt8(ascii: "0"))
                        if value > Self.maximumWidth { tooLarge = true; value = 0 }
                        i += 1
                    }
                    return tooLarge ? nil : value
                }
                guard let width = number() else {
                    throw fail(
                        "field width in '\(String(decoding: f[start..<i], as: UTF8.self))' is too large (at most \(Self.maximumWidth))"
                    )
                }
                field.width = width
                if i < f.count && f[i] == UInt8(ascii: ".") {
                    i += 1
                    guard let precision = number() else {
                        throw fail(
                            "precision in '\(String(decoding: f[start..<i], as: UTF8.self))' is too large (at most \(Self.maximumWidth))"
                        )
                    }
                    field.precision = precision
                }
                guard i < f.count else {
                    let spec = String(decoding: f[start...], as: UTF8.self)
                    throw fail("incomplete specifier '\(spec)' at the end ('%%' prints a percent sign)")
                }
                switch f[i] {
                case UInt8(ascii: "%"): literal(UInt8(ascii: "%"))
                case UInt8(ascii: "A"): tokens.append(.topicAlias(field))
                case UInt8(ascii: "C"): tokens.append(.contentType(field))
                case UInt8(ascii: "D"): tokens.append(.correlationData)
                case UInt8(ascii: "E"): tokens.append(.messageExpiryInterval(field))
                case UInt8(ascii: "F"): tokens.append(.payloadFormatIndicator(field))
                case UInt8(ascii: "I"): tokens.append(.isoTime(field))
                case UInt8(ascii: "j"): tokens.append(.json(embedded: false))
                case UInt8(ascii: "J"): tokens.append(.json(embedded: true))
                case UInt8(ascii: "l"): tokens.append(.payloadLength(field))
                case UInt8(ascii: "m"): tokens.append(.mid(field))
                case UInt8(ascii: "P"): tokens.append(.userProperties)
                case UInt8(ascii: "p"): tokens.append(.payload(field, hex: 0))
                case UInt8(ascii: "q"): tokens.append(.qos)
                case UInt8(ascii: "R"): tokens.append(.responseTopic(field))
                case UInt8(ascii: "r"): tokens.append(.retain)
                case UInt8(ascii: "S"): tokens.append(.subscriptionIdentifier(field))
                case UInt8(ascii: "t"): tokens.append(.topic(field))
                case UInt8(ascii: "U"): tokens.append(.unixTime)
                case UInt8(ascii: "x"): tokens.append(.payload(field, hex: 1))
                case UInt8(ascii: "X"): tokens.append(.payload(field, hex: 2))
                default:
                    throw fail("unknown specifier '%\(character(at: i))'")
                }
                i += 1
            case UInt8(ascii: "@"):
                guard i + 1 < f.count else {
                    throw fail("'@' at the end needs a strftime letter ('@@' prints an at sign)")
                }
                let conversion = f[i + 1]
                switch conversion {
                case UInt8(ascii: "@"): literal(UInt8(ascii: "@"))
                case UInt8(ascii: "N"): tokens.append(.nanoseconds)
                default:
                    strftimeFormats.append([CChar(UInt8(ascii: "%")), CChar(bitPattern: conversion), 0])
                    tokens.append(.strftime(strftimeFormats.count - 1))
                }
                i += 2
            case UInt8(ascii: "\\"):
                guard i + 1 < f.count else {
                    throw fail("'\\' at the end starts no escape ('\\\\' prints a backslash)")
                }
                switch f[i + 1] {
                case UInt8(ascii: "\\"): literal(UInt8(ascii: "\\"))
                case UInt8(ascii: "0"): literal(0)
                case UInt8(ascii: "a"): literal(7)
                case UInt8(ascii: "e"): literal(27)
                case UInt8(ascii: "n"): literal(10)
                case UInt8(ascii: "r"): literal(13)
                case UInt8(ascii: "t"): literal(9)
                case UInt8(ascii: "v"): literal(11)
                default:
                    throw fail("unknown escape '\\\(character(at: i + 1))' (escapes: \\\\ \\0 \\a \\e \\n \\r \\t \\v)")
                }
                i += 2
            default:
                literal(c)
                i += 1
            }
        }
        if endOfLine { literal(10) }

        self.tokens = tokens
        self.literals = literals
        self.strftimeFormats = strftimeFormats
        var clock = false, local = false, properties = false
        for token in tokens {
            switch token {
            case .isoTime, .strftime: clock = true; local = true
            case .unixTime, .nanoseconds: clock = true
            case .json: clock = true; properties = true
            case .topicAlias, .contentType, .correlationData, .messageExpiryInterval, .payloadFormatIndicator,
                .responseTopic, .subscriptionIdentifier, .userProperties:
                properties = true
            default: break
            }
        }
        needsClock = clock
        needsLocalTime = local
        needsProperties = properties
        if local { tzset() }
    }

    deinit {
        timeBuffer.deallocate()
    }

    /// The widest field width or precision in the format (mosquitto_sub pads to
    /// any width; the fuzzer must not print gigabytes per input).
    var largestWidth: Int {
        tokens.reduce(0) { widest, token in
            guard let field = token.field else { return widest }
            return max(widest, field.width, field.precision)
        }
    }

    func render(_ message: ReceivedMessage, into output: OutputBuffer) {
        let now = needsClock ? WallClock.now() : WallClock(seconds: 0, nanoseconds: 0)
        var local = tm()
        if needsLocalTime { local = now.local() }
        let properties: MQTTProperties? = needsProperties && message.hasProperties ? message.properties() : nil

        for token in tokens {
            switch token {
            case .literal(let start, let end):
                literals.withUnsafeBytes { output.append(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
            case .topic(let field):
                Self.appendString(message.topic, field, output)
            case .payload(let field, let hex):
                Self.appendPayload(message.payload, hex: hex, field, output)
            case .payloadLength(let field):
                Self.appendInteger(message.payload.count, field, output)
            case .mid(let field):
                Self.appendInteger(message.mid, field, output)
            case .qos:
                output.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: message.qos))
            case .retain:
                output.append(message.retain ? UInt8(ascii: "1") : UInt8(ascii: "0"))
            case .topicAlias(let field):
                if case .uint16(let v)? = properties?.first(MQTTProperties.topicAlias) {
                    Self.appendInteger(Int(v), field, output)
                } else {
                    Self.repeatByte(field.padCharacter, field.width, output)
                }
            case .contentType(let field):
                if case .string(var v)? = properties?.first(MQTTProperties.contentType) {
                    v.withUTF8 { Self.appendString(UnsafeRawBufferPointer($0), field, output) }
                } else {
                    Self.repeatByte(UInt8(ascii: " "), field.width, output)
                }
            case .correlationData:
                if case .binary(let v)? = properties?.first(MQTTProperties.correlationData) {
                    v.withUnsafeBytes { output.append($0) }
                }
            case .messageExpiryInterval(let field):
                if case .uint32(let v)? = properties?.first(MQTTProperties.messageExpiryInterval) {
                    Self.appendInteger(Int(Int32(bitPattern: v)), field, output)  // printed as a C int, as mosquitto
                } else {
                    Self.repeatByte(field.padCharacter, field.width, output)
                }
            case .payloadFormatIndicator(let field):
                if case .byte(let v)? = properties?.first(MQTTProperties.payloadFormatIndicator) {
                    Self.appendInteger(Int(v), field, output)
                } else {
                    Self.repeatByte(field.padCharacter, field.width, output)
                }
            case .responseTopic(let field):
                if case .string(var v)? = properties?.first(MQTTProperties.responseTopic) {
                    v.withUTF8 { Self.appendString(UnsafeRawBufferPointer($0), field, output) }
                }
            case .subscriptionIdentifier(let field):
                if case .varint(let v)? = properties?.first(MQTTProperties.subscriptionIdentifier) {
                    Self.appendInteger(Int(Int32(bitPattern: v)), field, output)
                } else {
                    Self.repeatByte(field.padCharacter, field.width, output)
                }
            case .userProperties:
                guard let properties else { continue }
                var first = true
                for item in properties.items {
                    guard case .pair(let key, let value) = item.value else { continue }
                    if !first { output.append(UInt8(ascii: " ")) }
                    first = false
                    output.append(key)
                    output.append(UInt8(ascii: ":"))
                    output.append(value)
                }
            case .isoTime(let field):
                let n = strftime(timeBuffer, 100, "%FT%T%z", &local)
                if n > 0 {
                    Self.appendString(UnsafeRawBufferPointer(start: timeBuffer, count: n), field, output)
                } else {
                    Self.repeatByte(UInt8(ascii: " "), field.width, output)
                }
            case .unixTime:
                output.append(integer: now.seconds)
                output.append(UInt8(ascii: "."))
                WallClock.digits(now.nanoseconds, 9) { output.append($0) }
            case .nanoseconds:
                WallClock.digits(now.nanoseconds, 9) { output.append($0) }
            case .strftime(let index):
                let n = strftimeFormats[index].withUnsafeBufferPointer {
                    strftime(timeBuffer, 100, $0.baseAddress, &local)
                }
                if n > 0 { output.append(UnsafeRawBufferPointer(start: timeBuffer, count: n)) }
            case .json(let embedded):
                scratch.removeAll(keepingCapacity: true)
                if MosquittoJSON.appendObject(
                    message, properties: properties, time: now, embedded: embedded, into: &scratch)
                {
                    if pretty { scratch = PrettyJSON.format(scratch) }
                    scratch.withUnsafeBytes { output.append($0) }
                } else {
                    Diagnostics.error(
                        "message payload is not valid JSON on topic \(message.topicString) (%J printed nothing for it)")
                }
            }
        }
    }

    // MARK: Fields, as mosquitto prints them

    @inline(__always)
    private static func repeatByte(_ byte: UInt8, _ count: Int, _ output: OutputBuffer) {
        var n = count
        while n > 0 {
            output.append(byte)
            n -= 1
        }
    }

    /// formatted_print_int: printf's %d, %-*d, %0*d or %*d.
    private static func appendInteger(_ value: Int, _ field: Field, _ output: OutputBuffer) {
        guard field.width > 0 else {
            output.append(integer: value)
            return
        }
        var length = value < 0 ? 2 : 1
        var rest = value.magnitude
        while rest >= 10 { rest /= 10; length += 1 }
        let padding = field.width - length
        if field.leftAlign {
            output.append(integer: value)
            repeatByte(UInt8(ascii: " "), padding, output)
        } else if field.zeroPad {
            if value < 0 { output.append(UInt8(ascii: "-")) }
            repeatByte(UInt8(ascii: "0"), padding, output)
            output.append(integer: Int(value.magnitude))
        } else {
            repeatByte(UInt8(ascii: " "), padding, output)
            output.append(integer: value)
        }
    }

    /// formatted_print_str: printf's %s with width and precision (in bytes); padding is
    /// always spaces.
    private static func appendString(_ bytes: UnsafeRawBufferPointer, _ field: Field, _ output: OutputBuffer) {
        var count = bytes.count
        if field.precision >= 0 && count > field.precision { count = field.precision }
        let padding = field.width - count
        if !field.leftAlign { repeatByte(UInt8(ascii: " "), padding, output) }
        output.append(UnsafeRawBufferPointer(rebasing: bytes[0..<count]))
        if field.leftAlign { repeatByte(UInt8(ascii: " "), padding, output) }
    }

    private static let hexLower: [UInt8] = Array("0123456789abcdef".utf8)
    private static let hexUpper: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// write_payload, quirks included: with a width the payload is cut to that many
    /// bytes (for hex, to half as many); with '-' the padding after is
    /// printf("%*s", padlen, ""), which for a negative padlen (no width) still
    /// prints |padlen| spaces. Precision is ignored.
    private static func appendPayload(
        _ payload: UnsafeRawBufferPointer, hex: Int, _ field: Field, _ output: OutputBuffer
    ) {
        var length = payload.count
        let padding: Int
        if field.width > 0 {
            if length > field.width { length = field.width }
            if hex > 0 {
                length /= 2
                padding = field.width - length * 2
            } else {
                padding = field.width - length
            }
        } else {
            padding = field.width - length
        }
        if !field.leftAlign { repeatByte(field.padCharacter, padding, output) }
        switch hex {
        case 0:
            output.append(UnsafeRawBufferPointer(rebasing: payload[0..<length]))
        default:
            let digits = hex == 1 ? hexLower : hexUpper
            digits.withUnsafeBufferPointer { d in
                for i in 0..<length {
                    let b = payload[i]
                    output.append(d[Int(b >> 4)])
                    output.append(d[Int(b & 15)])
                }
            }
        }
        if field.leftAlign { repeatByte(UInt8(ascii: " "), abs(padding), output) }
    }
}
