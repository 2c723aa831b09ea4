import Mosquitto

/// How the broker ended one of our connections, as the probes report it: an
/// MQTT 5 DISCONNECT first (with its reason code, reason string and user
/// properties), or a bare close "as if the network had failed" — an orderly
/// FIN or a reset.
enum ConnectionEnd: Equatable {
    case disconnect(ServerDisconnect)
    case closed(TransportEnd)
    /// Over WebSocket: a close frame (code 1005: none given), no DISCONNECT.
    case webSocketClosed(code: Int, reason: String)
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
            } else if case .webSocketClosed(let code, let reason)? = error.cause {
                self = .webSocketClosed(code: code, reason: reason)
            } else {
                self = .failed(ErrorText.line(for: error))
            }
        case .requested?, nil:
            return nil
        }
    }

    var reasonCode: Int? {
        if case .disconnect(let d) = self { return d.reasonCode }
        return nil
    }

    /// The WebSocket close frame that ended it, if that is how it ended.
    var webSocketClose: (code: Int, reason: String)? {
        if case .webSocketClosed(let code, let reason) = self { return (code, reason) }
        return nil
    }

    var disconnect: ServerDisconnect? {
        if case .disconnect(let d) = self { return d }
        return nil
    }

    /// The JSON `closed_by`: "disconnect", "fin", "reset" or "error". A WebSocket
    /// close frame is the WebSocket's orderly close: "fin", with its code and
    /// reason in `websocket_close_code` and `websocket_close_reason`.
    var kind: String {
        switch self {
        case .disconnect: return "disconnect"
        case .closed(let end): return end.rawValue
        case .webSocketClosed: return TransportEnd.fin.rawValue
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
        case .webSocketClosed(let code, let reason):
            return "WebSocket close frame \(WebSocketClose.describe(code: code, reason: reason)), no DISCONNECT"
        case .failed(let detail): return "connection failed: \(detail)"
        }
    }

    /// `jsonDetails` when there was no end: every key, null.
    static var noJSONDetails: [(String, JSON)] {
        [
            ("disconnect_reason_string", .null), ("disconnect_user_properties", .null),
            ("websocket_close_code", .null), ("websocket_close_reason", .null),
        ]
    }

    /// The DISCONNECT's reason string and user properties for JSON, and the
    /// WebSocket close frame's code and reason.
    var jsonDetails: [(String, JSON)] {
        let d = disconnect
        return [
            ("disconnect_reason_string", JSON.optional(d?.reasonString)),
            (
                "disconnect_user_properties",
                d.map {
                    .array($0.userProperties.map { .object([("key", .string($0.key)), ("value", .string($0.value))]) })
                } ?? .null
            ),
            ("websocket_close_code", webSocketClose.map { .int($0.code) } ?? .null),
            ("websocket_close_reason", webSocketClose.map { .string($0.reason) } ?? .null),
        ]
    }
}
