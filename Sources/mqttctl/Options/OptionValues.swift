import ArgumentParser
import Mosquitto

/// A value of an option that checks itself: the parser takes it through
/// `transform: T.parse` (so a bad value is one line that says why: "The value
/// '200' is invalid for '--random-filter <chance>': use ..."), and anything else
/// that reads the same option (the config file, the environment) calls the
/// same `parse` through `problem`, so the check and its wording exist once.
protocol CheckedValue: ExpressibleByArgument {
    static func parse(_ text: String) throws(ValueProblem) -> Self
    /// How a message outside the parser names the option: "port", "--proxy".
    static var subject: String { get }
    /// The line for a refused value outside the parser (the parser words its own).
    static func message(_ text: String, _ problem: ValueProblem) -> String
}

extension CheckedValue {
    init?(argument: String) {
        guard let value = try? Self.parse(argument) else { return nil }
        self = value
    }

    static func message(_ text: String, _ problem: ValueProblem) -> String {
        "invalid \(subject) '\(text)': \(problem)"
    }

    /// Why `text` is refused, as one line (nil when it is accepted).
    static func problem(_ text: String) -> String? {
        do throws(ValueProblem) {
            _ = try parse(text)
            return nil
        } catch {
            return message(text, error)
        }
    }
}

/// Why a value is not acceptable; its description is the message.
struct ValueProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `sub --random-filter CHANCE`: the percentage of messages printed, 0.1 to 100
/// (mosquitto_sub(1)).
struct Chance: CheckedValue, Equatable {
    let percent: Double
    static let subject = "--random-filter"

    static func parse(_ text: String) throws(ValueProblem) -> Chance {
        guard let value = Double(text), value.isFinite, value >= 0.1, value <= 100 else {
            throw ValueProblem("use a percentage from 0.1 to 100 (50: about every other message)")
        }
        return Chance(percent: value)
    }

    /// Whether a message passes (at random).
    func admits() -> Bool {
        percent >= 100 || Double.random(in: 0..<100) < percent
    }
}

/// `--proxy socks5h://[user[:password]@]host[:port]` (mosquitto's clients): a
/// SOCKS5 proxy that resolves host names itself; port 1080 unless given; %25,
/// %3A and %40 in the user and password stand for %, : and @.
struct ProxyURL: CheckedValue, Equatable {
    let proxy: SOCKSProxy
    static let subject = "--proxy"

    static func parse(_ text: String) throws(ValueProblem) -> ProxyURL {
        let expected = "expected socks5h://[user[:password]@]host[:port]"
        guard text.hasPrefix("socks5h://") else {
            throw ValueProblem("only socks5h:// proxies are supported (the proxy resolves host names); \(expected)")
        }
        var rest = Substring(text.dropFirst("socks5h://".count))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/") else { throw ValueProblem("a proxy URL has no path; \(expected)") }
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let user: Substring
            if let colon = userInfo.firstIndex(of: ":") {
                user = userInfo[..<colon]
                password = try decoded(userInfo[userInfo.index(after: colon)...])
            } else {
                user = userInfo
            }
            guard !user.isEmpty else { throw ValueProblem("the user name before '@' is empty; \(expected)") }
            username = try decoded(user)
            if (username?.utf8.count ?? 0) > 255 || (password?.utf8.count ?? 0) > 255 {
                throw ValueProblem("SOCKS5 takes a user name and password of at most 255 bytes each")
            }
        }
        var host = rest
        var port = 1080
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else {
                throw ValueProblem("unclosed '[' in the host; \(expected)")
            }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":") else {
                    throw ValueProblem("unexpected '\(after)' after the host; \(expected)")
                }
                port = try parsePort(after.dropFirst())
            }
        } else if let colon = host.lastIndex(of: ":") {
            port = try parsePort(host[host.index(after: colon)...])
            host = host[..<colon]
        }
        guard !host.isEmpty else { throw ValueProblem("the proxy's host is missing; \(expected)") }
        guard host.utf8.count <= 256 else { throw ValueProblem("the proxy's host name is longer than 256 bytes") }
        return ProxyURL(proxy: SOCKSProxy(host: String(host), port: port, username: username, password: password))
    }

    private static func parsePort(_ text: Substring) throws(ValueProblem) -> Int {
        guard let port = Int(text), (1...65535).contains(port) else {
            throw ValueProblem("invalid proxy port '\(text)': use 1 to 65535 (default 1080)")
        }
        return port
    }

    /// The three escapes mosquitto's man page names; any other '%' is refused.
    private static func decoded(_ text: Substring) throws(ValueProblem) -> String {
        var result = ""
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == "%" {
                let code = text[i...].dropFirst().prefix(2).uppercased()
                switch code {
                case "25": result.append("%")
                case "3A": result.append(":")
                case "40": result.append("@")
                default:
                    throw ValueProblem("in the user or password only %25, %3A and %40 are escapes (for %, : and @)")
                }
                i = text.index(i, offsetBy: 3)
            } else {
                result.append(text[i])
                i = text.index(after: i)
            }
        }
        return result
    }
}

/// `--unix PATH`: a unix domain socket path (at most 107 bytes, sun_path's room).
struct UnixSocketPath: CheckedValue, Equatable {
    let path: String
    static let subject = "--unix"

    static func parse(_ text: String) throws(ValueProblem) -> UnixSocketPath {
        guard !text.isEmpty else { throw ValueProblem("the socket path is empty") }
        guard text.utf8.count <= 107 else { throw ValueProblem("a unix socket path has at most 107 bytes") }
        return UnixSocketPath(path: text)
    }
}

/// `-A ADDRESS`: the local address (or host name) to bind the connection to.
struct BindAddress: CheckedValue, Equatable {
    let address: String
    static let subject = "-A"

    static func parse(_ text: String) throws(ValueProblem) -> BindAddress {
        guard !text.isEmpty, !text.utf8.contains(0) else {
            throw ValueProblem("give a local address or host name, e.g. 127.0.0.1")
        }
        return BindAddress(address: text)
    }
}

/// `--keyform pem|engine` (mosquitto's clients; any case).
struct KeyForm: CheckedValue, Equatable {
    let engine: Bool
    static let subject = "--keyform"

    static func parse(_ text: String) throws(ValueProblem) -> KeyForm {
        switch text.lowercased() {
        case "pem": return KeyForm(engine: false)
        case "engine": return KeyForm(engine: true)
        default: throw ValueProblem("use pem (a key file, the default) or engine (a key held by --tls-engine)")
        }
    }
}

/// `--tls-engine-kpass-sha1 HEX`: the SHA-1 of the engine key's password, 40 hex digits.
struct SHA1Hex: CheckedValue, Equatable {
    let hex: String
    static let subject = "--tls-engine-kpass-sha1"

    static func parse(_ text: String) throws(ValueProblem) -> SHA1Hex {
        guard text.utf8.count == 40, Hex.isDigits(text) else {
            throw ValueProblem("use the SHA-1 of the password as 40 hexadecimal digits")
        }
        return SHA1Hex(hex: text)
    }
}
