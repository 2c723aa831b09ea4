import Mosquitto

/// How the broker ended one of our connections, as the probes report it:
/// with an MQTT 5 DISCONNECT carrying a reason code first, or by simply
/// closing the socket ("as if the network had failed", which MQTT allows).
enum ConnectionEnd {
    /// An MQTT 5 DISCONNECT with this reason code came, then the close.
    case disconnectPacket(reasonCode: Int)
    /// The socket closed (FIN or reset) with no DISCONNECT; the text is what libmosquitto saw.
    case socketClosed(detail: String)

    /// nil when we ended the connection ourselves.
    init?(_ reason: CloseReason?) {
        switch reason {
        case .serverDisconnect(let code)?:
            self = .disconnectPacket(reasonCode: code)
        case .failed(let error)?:
            self = .socketClosed(detail: error.message)
        case .requested?, nil:
            return nil
        }
    }

    var reasonCode: Int? {
        if case .disconnectPacket(let code) = self { return code }
        return nil
    }

    /// "disconnect" or "socket" (the JSON `closed_by`).
    var kind: String {
        if case .disconnectPacket = self { return "disconnect" }
        return "socket"
    }

    /// "DISCONNECT Keep Alive timeout (0x8D)" or "socket closed, no DISCONNECT".
    var text: String {
        switch self {
        case .disconnectPacket(let code): return "DISCONNECT \(ReasonCode.describe(code))"
        case .socketClosed: return "socket closed, no DISCONNECT"
        }
    }
}
