import Mosquitto

/// How the broker ended one of our connections, as the probes report it: an
/// MQTT 5 DISCONNECT first (with its reason code, reason string and user
/// properties), or a bare close "as if the network had failed" — an orderly
/// FIN or a reset.
enum ConnectionEnd: Equatable {
    case disconnect(ServerDisconnect)
    case closed(TransportEnd)
    /// The connection failed some other way (a malformed packet, an I/O error).
    case failed(String)

    /// nil when we ended the connection ourselves.
    init?(_ reason: CloseReason?) {
        switch reason {
        case .serverDisconnect(let disconnect)?:
            self = .disconnect(disconnect)
        case .failed(let error)?:
            if case .closedByPeer(let end)? = error.cause {
                self = .closed(end)
            } else {
                self = .failed(error.message)
            }
        case .requested?, nil:
            return nil
        }
    }

    var reasonCode: Int? {
        if case .disconnect(let d) = self { return d.reasonCode }
        return nil
    }

    var disconnect: ServerDisconnect? {
        if case .disconnect(let d) = self { return d }
        return nil
    }

    /// The JSON `closed_by`: "disconnect", "fin", "reset" or "error".
    var kind: String {
        switch self {
        case .disconnect: return "disconnect"
        case .closed(let end): return end.rawValue
        case .failed: return "error"
        }
    }

    /// "DISCONNECT Keep Alive timeout (0x8D) \"Idle connection\"" or "socket closed (FIN), no DISCONNECT".
    var text: String {
        switch self {
        case .disconnect(let d):
            var text = "DISCONNECT \(ReasonCode.describe(d.reasonCode))"
            if let reason = d.reasonString { text += " \"\(reason)\"" }
            let users = d.userProperties
            if !users.isEmpty { text += " [" + users.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + "]" }
            if let reference = d.serverReference { text += ", server reference \(reference)" }
            return text
        case .closed(.fin): return "socket closed (FIN), no DISCONNECT"
        case .closed(.reset): return "connection reset (RST), no DISCONNECT"
        case .failed(let detail): return "connection failed: \(detail)"
        }
    }

    /// The DISCONNECT's reason string and user properties for JSON.
    var jsonDetails: [(String, JSON)] {
        let d = disconnect
        return [
            ("disconnect_reason_string", JSON.optional(d?.reasonString)),
            ("disconnect_user_properties", d.map { .array($0.userProperties.map { .object([("key", .string($0.key)), ("value", .string($0.value))]) }) } ?? .null),
        ]
    }
}
