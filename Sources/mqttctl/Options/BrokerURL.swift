/// `-L/--url mqtt(s)://[user[:pass]@]host[:port]/topic`, as mosquitto's clients
/// take it, and `ws(s)://...` for MQTT over WebSocket (as mosquitto 2.1's: the
/// path is still the topic; the HTTP path is `--ws-path`). Percent-escapes are
/// decoded in the user, password and topic, so a topic can carry `%23` for `#`
/// and a password `%40` for `@` (never `%00`).
struct BrokerURL: Equatable {
    var tls: Bool
    var webSocket = false
    var username: String?
    var password: String?
    var host: String
    var port: Int?
    var topic: String?

    /// Parses `text`; throws a message naming what is wrong.
    init(parsing text: String) throws(CommandFailure) {
        func fail(_ why: String) -> CommandFailure {
            .usage("invalid URL '\(Self.redacted(text))': \(why); expected mqtt://[user[:password]@]host[:port]/topic")
        }
        var rest = Substring(text)
        if rest.hasPrefix("mqtt://") {
            tls = false
            rest = rest.dropFirst(7)
        } else if rest.hasPrefix("mqtts://") {
            tls = true
            rest = rest.dropFirst(8)
        } else if rest.hasPrefix("ws://") {
            tls = false
            webSocket = true
            rest = rest.dropFirst(5)
        } else if rest.hasPrefix("wss://") {
            tls = true
            webSocket = true
            rest = rest.dropFirst(6)
        } else {
            throw fail("the scheme must be mqtt://, mqtts://, ws:// or wss://")
        }
        // Authority ends at the first '/'; the topic is everything after it.
        let authority: Substring
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let topicText = rest[rest.index(after: slash)...]
            if !topicText.isEmpty {
                guard let decoded = Self.percentDecoded(topicText) else {
                    throw fail("bad percent-escape in the topic (%XX with two hex digits, not %00, decoding to UTF-8)")
                }
                topic = decoded
            }
        } else {
            authority = rest
        }
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                guard let u = Self.percentDecoded(userInfo[..<colon]),
                    let p = Self.percentDecoded(userInfo[userInfo.index(after: colon)...])
                else {
                    throw fail(
                        "bad percent-escape in the user or password (%XX with two hex digits, not %00, decoding to UTF-8)"
                    )
                }
                username = u
                password = p
            } else {
                guard let u = Self.percentDecoded(userInfo) else {
                    throw fail("bad percent-escape in the user (%XX with two hex digits, not %00, decoding to UTF-8)")
                }
                username = u
            }
            if username?.isEmpty == true { throw fail("empty user name") }
        }
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            // IPv6 literal: [::1]:1883
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("unterminated '[' in the host") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("unexpected text after ']'") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = String(hostPort)
        }
        if host.isEmpty { throw fail("no host") }
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else {
                throw fail("the port must be a number from 1 to 65535")
            }
            port = p
        }
    }

    /// The URL with any password replaced, for error messages.
    static func redacted(_ text: String) -> String {
        let chars = Array(text)
        // Find "://", then a ':' before the last '@' of the authority.
        var schemeEnd: Int?
        for i in 0..<max(0, chars.count - 2) where chars[i] == ":" && chars[i + 1] == "/" && chars[i + 2] == "/" {
            schemeEnd = i + 3
            break
        }
        guard let start = schemeEnd else { return text }
        let authorityEnd = chars[start...].firstIndex(of: "/") ?? chars.count
        guard let at = chars[start..<authorityEnd].lastIndex(of: "@"),
            let colon = chars[start..<at].firstIndex(of: ":")
        else { return text }
        return String(chars[..<colon]) + ":***" + String(chars[at...])
    }

    static func percentDecoded(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        let input = Array(text.utf8)
        var bytes: [UInt8] = []
        var i = 0
        while i < input.count {
            if input[i] == UInt8(ascii: "%") {
                // %00 would end the C string libmosquitto gets: a topic or password cut short.
                guard i + 2 < input.count,
                    let hi = Hex.value(of: input[i + 1]), let lo = Hex.value(of: input[i + 2]), hi << 4 | lo != 0
                else { return nil }
                bytes.append(hi << 4 | lo)
                i += 3
            } else {
                bytes.append(input[i])
                i += 1
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

extension BrokerURL {
    /// `-L`'s URL, parsed once a run however many readers ask (`Defaults`
    /// before the parser, `validate()`, `makeConnectOptions`). Not parsed by the
    /// parser itself: its error line would quote the URL, password and all, and
    /// a type of its own in every command costs each start (runtime lookups).
    static func once(_ text: String) throws(CommandFailure) -> BrokerURL {
        let (url, failure) = ParseOnce.locked { () -> (BrokerURL?, CommandFailure?) in
            if let last, last.text == text { return (last.url, last.failure) }
            do throws(CommandFailure) {
                let url = try BrokerURL(parsing: text)
                last = (text, url, nil)
                return (url, nil)
            } catch {
                last = (text, nil, error)
                return (nil, error)
            }
        }
        if let url { return url }
        throw failure ?? .usage("invalid URL")
    }

    /// A command line has one -L. Under `ParseOnce.locked`.
    nonisolated(unsafe) private static var last: (text: String, url: BrokerURL?, failure: CommandFailure?)?
}
