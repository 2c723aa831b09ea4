import Mosquitto

/// mqttctl's exit codes. This table is the single source for `--help`, the man
/// page and the README; scripts depend on it, so codes never change meaning.
enum ExitStatus: Int32, CaseIterable {
    case success = 0
    case failure = 1
    case usage = 2
    case cannotConnect = 3
    case refused = 4
    case notAuthorized = 5
    case tls = 6
    case connectionLost = 7
    case notAcknowledged = 8
    case subscriptionRefused = 9
    case verdictFailed = 10
    case noReply = 11
    case inconclusive = 12
    case timeout = 27
    case interrupted = 130
    case outputClosed = 141
    case terminated = 143

    var summary: String {
        switch self {
        case .success: return "success"
        case .failure: return "other error: writing output failed, internal error"
        case .usage: return "usage error: bad option or value, bad or oversized input"
        case .cannotConnect: return "cannot connect: DNS, refused, unreachable, not MQTT, WebSocket upgrade refused"
        case .refused: return "the broker refused the connection (CONNACK)"
        case .notAuthorized: return "not authorised: bad username or password, or denied"
        case .tls: return "TLS error: certificate, handshake, TLS/plain mismatch"
        case .connectionLost: return "the connection was lost after it was established (WebSocket: a close frame)"
        case .notAcknowledged: return "pub: QoS 1/2 messages not acknowledged or rejected; rr: request rejected"
        case .subscriptionRefused: return "sub, rr: the broker refused a subscription"
        case .verdictFailed: return "probe: a MUST was broken (with --strict: or a SHOULD)"
        case .noReply: return "ping, conn --stay: no PINGRESP in time (unresponsive or half-open)"
        case .inconclusive: return "probe: nothing failed, but a verdict was inconclusive"
        case .timeout: return "timed out: sub -W, rr -W, or --connect-timeout (as mosquitto)"
        case .interrupted: return "interrupted by SIGINT (after a clean DISCONNECT)"
        case .outputClosed: return "stdout closed by its reader (quietly, as SIGPIPE)"
        case .terminated: return "terminated by SIGTERM (after a clean DISCONNECT)"
        }
    }

    /// The table as shown at the end of `mqttctl --help` and in the man page.
    static var table: String {
        allCases.map { status in
            let code = String(status.rawValue)
            return String(repeating: " ", count: max(0, 4 - code.count)) + code + "  " + status.summary
        }.joined(separator: "\n")
    }

    /// The conventional 128 + signal number.
    init(signal: Int32) {
        self = signal == 2 ? .interrupted : .terminated
    }
}

/// An error that ends the command: its message goes to stderr as one line, its
/// status becomes the exit code. An empty message prints nothing.
struct CommandFailure: Error, CustomStringConvertible, Equatable {
    let status: ExitStatus
    let message: String

    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    /// The error's line and exit status, as `ErrorText` words and maps it; a
    /// signal ends quietly (the shell knows 130 and 143).
    init(_ error: MQTTError) {
        if case .interrupted? = error.cause {
            self.init(ErrorText.status(for: error), "")
        } else {
            self.init(ErrorText.status(for: error), ErrorText.line(for: error))
        }
    }

    var description: String { message }

    static func usage(_ message: String) -> CommandFailure {
        CommandFailure(.usage, message)
    }
}
