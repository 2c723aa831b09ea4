import ArgumentParser
import Mosquitto

// The connection options' values, each with its one check and message. The
// parser takes them through `transform: T.parse`; `Defaults` checks the
// environment and the config file with the same `parse` (`T.problem`). A
// reason names what it is about ("a keep-alive"), as the parser's line names
// only the option. The options hold the plain value (`transform: Port.value`):
// a type of its own in every parsed command costs each start runtime type
// lookups (measured: 0.9% of `mqttctl pub`'s instructions for these).

/// `-p`, `--b-port`, `--observer-port`: a TCP port.
struct Port: CheckedValue, Equatable {
    let number: Int
    static let subject = "port"

    static func parse(_ text: String) throws(ValueProblem) -> Port {
        guard let number = Int(text), (1...65535).contains(number) else {
            throw ValueProblem("use a number from 1 to 65535")
        }
        return Port(number: number)
    }

    static func value(_ text: String) throws(ValueProblem) -> Int { try parse(text).number }
}

/// `-k`: the keep-alive interval, libmosquitto's range (it refuses 1 to 4).
struct KeepAlive: CheckedValue, Hashable {
    let seconds: Int
    static let subject = "keep-alive"

    static func parse(_ text: String) throws(ValueProblem) -> KeepAlive {
        guard let seconds = Int(text), seconds == 0 || (5...65535).contains(seconds) else {
            throw ValueProblem("use a keep-alive of 0 (off) or 5 to 65535 seconds (libmosquitto refuses 1 to 4)")
        }
        return KeepAlive(seconds: seconds)
    }

    static func value(_ text: String) throws(ValueProblem) -> Int { try parse(text).seconds }
}

/// `-V`: the protocol version as mosquitto's clients spell it. The spelling is
/// the command line's business, so it lives here and not in the library.
struct ProtocolOption: CheckedValue, Equatable {
    let version: ProtocolVersion
    /// As given, for messages ("-V 311 was given").
    let text: String
    static let subject = "protocol version"

    static func parse(_ text: String) throws(ValueProblem) -> ProtocolOption {
        let version: ProtocolVersion
        switch text.lowercased() {
        case "31", "mqttv31", "3.1": version = .v31
        case "311", "mqttv311", "3.1.1": version = .v311
        case "5", "mqttv5", "5.0": version = .v5
        default: throw ValueProblem("use mqttv31, mqttv311 or mqttv5 as the protocol version (or 31, 311, 5)")
        }
        return ProtocolOption(version: version, text: text)
    }

    static func value(_ text: String) throws(ValueProblem) -> ProtocolVersion { try parse(text).version }
}

/// `--tls-version`: the lowest TLS version allowed, as libmosquitto names it.
struct TLSVersion: CheckedValue, Equatable {
    let name: String
    static let subject = "--tls-version"
    static let names = ["tlsv1.3", "tlsv1.2", "tlsv1.1"]

    static func parse(_ text: String) throws(ValueProblem) -> TLSVersion {
        guard names.contains(text) else { throw ValueProblem("use tlsv1.3, tlsv1.2 or tlsv1.1") }
        return TLSVersion(name: text)
    }

    static func value(_ text: String) throws(ValueProblem) -> String { try parse(text).name }
}

/// `-x`: MQTT 5's session expiry interval; -1 and `never` are "never expires".
struct SessionExpiry: CheckedValue, Equatable {
    let seconds: UInt32
    static let subject = "session expiry"

    static func parse(_ text: String) throws(ValueProblem) -> SessionExpiry {
        switch text.lowercased() {
        case "-1", "never", "∞", "infinite", "inf": return SessionExpiry(seconds: UInt32.max)
        default:
            guard let seconds = UInt32(text) else {
                throw ValueProblem("use seconds from 0 to 4294967295, or -1/never")
            }
            return SessionExpiry(seconds: seconds)
        }
    }

    static func value(_ text: String) throws(ValueProblem) -> UInt32 { try parse(text).seconds }
}

/// `--psk`: a pre-shared key in hexadecimal. A secret: checked in `validate()`
/// rather than by the parser, whose message would quote the key.
struct PreSharedKey: CheckedValue, Equatable {
    let hex: String
    static let subject = "--psk"

    static func parse(_ text: String) throws(ValueProblem) -> PreSharedKey {
        guard Hex.isDigits(text) else { throw ValueProblem("use the key in hexadecimal digits (e.g. 1a2b3c...)") }
        return PreSharedKey(hex: text)
    }

    /// Without the key: "invalid --psk: use ...".
    static func message(_ text: String, _ problem: ValueProblem) -> String {
        "invalid \(subject): \(problem)"
    }
}

/// `--connect-timeout`: seconds above 0, at most a day.
enum ConnectTimeout {
    static func parse(_ text: String) throws(ValueProblem) -> Double {
        try Seconds.parse(text, maximum: Seconds.oneDay)
    }

    static func problem(_ text: String) -> String? {
        do throws(ValueProblem) {
            _ = try parse(text)
            return nil
        } catch {
            return "invalid --connect-timeout '\(text)': \(error)"
        }
    }
}

/// Hexadecimal digits, read in one place: options (`--psk`, SHA-1s), `-L`'s
/// %XX escapes, JSON's \uXXXX.
enum Hex {
    /// One or more of 0-9, a-f, A-F.
    static func isDigits(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { value(of: $0) != nil }
    }

    /// The digit's value, nil for a byte that is no hexadecimal digit.
    static func value(of byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}
