#if canImport(Glibc)
import Glibc
#endif
import CMosquitto

/// The one error type of the wrapper. Every libmosquitto return code, CONNACK
/// return code and MQTT 5 reason code ends up here. `message` is a neutral
/// sentence for any program; `cause` says exactly what happened, so that a
/// program can word it its own way (name its options) without matching text.
public struct MQTTError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is: the broad class a program maps to its exit code.
    public enum Kind: Sendable, Equatable {
        /// A value handed to the library was rejected (bad topic, QoS, keep-alive...).
        case invalidArgument
        /// No connection could be made: DNS, refused, unreachable, network error.
        case cannotConnect
        /// The broker answered CONNECT with a refusal other than authorisation.
        case refused
        /// Bad credentials or not authorised (CONNACK 4/5, reason 0x86/0x87...).
        case notAuthorized
        /// TLS set-up, handshake or certificate verification failed.
        case tls
        /// An established connection went away.
        case connectionLost
        /// Something did not happen within its time limit.
        case timeout
        /// The peer broke the protocol, or sent what we cannot parse.
        case protocolError
        /// The broker rejected a request (SUBACK failure, negative PUBACK...).
        case rejected
        /// SIGINT or SIGTERM arrived (the cause is `.interrupted(signal:)`).
        case interrupted
        /// Anything else (out of memory, unsupported feature...).
        case other
    }

    public var kind: Kind
    /// A neutral sentence for a person (it names no program's options).
    public var message: String
    /// What exactly happened; nil: nothing more than `kind` and `message` is known.
    public var cause: Cause?
    /// The libmosquitto return code behind the error, when there is one.
    public var libraryCode: LibraryCode?
    /// The CONNACK return code or MQTT 5 reason code behind the error, when there is one.
    public var reasonCode: Int?
    /// The broker address ("host:port", a unix socket path) the error is about, when known.
    public var endpoint: String?

    public init(
        _ kind: Kind, _ message: String, libraryCode: LibraryCode? = nil, reasonCode: Int? = nil,
        cause: Cause? = nil, endpoint: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.cause = cause
        self.libraryCode = libraryCode
        self.reasonCode = reasonCode
        self.endpoint = endpoint
    }

    public var description: String { message }
}

extension MQTTError {
    /// An error for a libmosquitto return code. `errno` must still hold the value
    /// the failing call left (for `MOSQ_ERR_ERRNO` and `MOSQ_ERR_EAI`).
    public static func library(
        _ code: LibraryCode, errno savedErrno: Int32 = errno, context: String? = nil
    ) -> MQTTError {
        library(code.rawValue, errno: savedErrno, context: context)
    }

    static func library(_ rc: Int32, errno savedErrno: Int32 = errno, context: String? = nil) -> MQTTError {
        let text = libraryMessage(rc, errno: savedErrno)
        let message = context.map { "\($0): \(text)" } ?? text
        return MQTTError(kind(forLibraryCode: rc, errno: savedErrno), message, libraryCode: LibraryCode(rawValue: rc))
    }

    static func kind(forLibraryCode rc: Int32, errno savedErrno: Int32) -> Kind {
        switch rc {
        case MOSQ_ERR_INVAL.rawValue, MOSQ_ERR_MALFORMED_UTF8.rawValue, MOSQ_ERR_PAYLOAD_SIZE.rawValue,
            MOSQ_ERR_DUPLICATE_PROPERTY.rawValue, MOSQ_ERR_OVERSIZE_PACKET.rawValue,
            MOSQ_ERR_QOS_NOT_SUPPORTED.rawValue, MOSQ_ERR_RETAIN_NOT_SUPPORTED.rawValue:
            return .invalidArgument
        case MOSQ_ERR_EAI.rawValue, MOSQ_ERR_LOOKUP.rawValue, MOSQ_ERR_PROXY.rawValue:
            return .cannotConnect
        case MOSQ_ERR_ERRNO.rawValue:
            return savedErrno == ECONNRESET || savedErrno == EPIPE ? .connectionLost : .cannotConnect
        case MOSQ_ERR_CONN_REFUSED.rawValue:
            return .refused
        case MOSQ_ERR_AUTH.rawValue, MOSQ_ERR_ACL_DENIED.rawValue:
            return .notAuthorized
        case MOSQ_ERR_TLS.rawValue, MOSQ_ERR_TLS_HANDSHAKE.rawValue, MOSQ_ERR_OCSP.rawValue:
            return .tls
        case MOSQ_ERR_CONN_LOST.rawValue, MOSQ_ERR_NO_CONN.rawValue, MOSQ_ERR_KEEPALIVE.rawValue:
            return .connectionLost
        case MOSQ_ERR_TIMEOUT.rawValue:
            return .timeout
        case MOSQ_ERR_PROTOCOL.rawValue, MOSQ_ERR_MALFORMED_PACKET.rawValue, MOSQ_ERR_TOPIC_ALIAS_INVALID.rawValue:
            return .protocolError
        default:
            return .other
        }
    }

    /// Text for a libmosquitto return code, including the codes `mosquitto_strerror`
    /// answers with "Unknown error." (17, 19, 20, 21, 27..31).
    static func libraryMessage(_ rc: Int32, errno savedErrno: Int32 = 0) -> String {
        switch rc {
        case MOSQ_ERR_SUCCESS.rawValue: return "no error"
        case MOSQ_ERR_NOMEM.rawValue: return "out of memory"
        case MOSQ_ERR_PROTOCOL.rawValue: return "protocol error in the communication with the broker"
        case MOSQ_ERR_INVAL.rawValue: return "invalid argument"
        case MOSQ_ERR_NO_CONN.rawValue: return "not connected to the broker"
        case MOSQ_ERR_CONN_REFUSED.rawValue: return "the broker refused the connection"
        case MOSQ_ERR_NOT_FOUND.rawValue: return "message not found"
        case MOSQ_ERR_CONN_LOST.rawValue: return "the connection was lost"
        case MOSQ_ERR_TLS.rawValue: return "TLS error"
        case MOSQ_ERR_PAYLOAD_SIZE.rawValue: return "payload too large (the limit is 268435455 bytes)"
        case MOSQ_ERR_NOT_SUPPORTED.rawValue:
            return "not supported (by this protocol version or this build of libmosquitto)"
        case MOSQ_ERR_AUTH.rawValue: return "authorisation failed"
        case MOSQ_ERR_ACL_DENIED.rawValue: return "access denied"
        case MOSQ_ERR_UNKNOWN.rawValue: return "unknown error"
        case MOSQ_ERR_ERRNO.rawValue: return String(cString: strerror(savedErrno)).lowercasedFirst
        case MOSQ_ERR_EAI.rawValue: return String(cString: gai_strerror(savedErrno)).lowercasedFirst
        case MOSQ_ERR_PROXY.rawValue: return "proxy error"
        case MOSQ_ERR_PLUGIN_DEFER.rawValue: return "deferred by a plugin"
        case MOSQ_ERR_MALFORMED_UTF8.rawValue: return "malformed UTF-8"
        case MOSQ_ERR_KEEPALIVE.rawValue: return "no PINGRESP from the broker within the keep-alive interval"
        case MOSQ_ERR_LOOKUP.rawValue: return "host name lookup failed"
        case MOSQ_ERR_MALFORMED_PACKET.rawValue: return "malformed packet"
        case MOSQ_ERR_DUPLICATE_PROPERTY.rawValue: return "duplicate MQTT 5 property"
        case MOSQ_ERR_TLS_HANDSHAKE.rawValue: return "TLS handshake failed"
        case MOSQ_ERR_QOS_NOT_SUPPORTED.rawValue: return "QoS not supported by the broker"
        case MOSQ_ERR_OVERSIZE_PACKET.rawValue: return "packet larger than the broker's maximum packet size"
        case MOSQ_ERR_OCSP.rawValue: return "OCSP error"
        case MOSQ_ERR_TIMEOUT.rawValue: return "timed out"
        case MOSQ_ERR_RETAIN_NOT_SUPPORTED.rawValue: return "retained messages are not supported by the broker"
        case MOSQ_ERR_TOPIC_ALIAS_INVALID.rawValue: return "invalid topic alias"
        case MOSQ_ERR_ADMINISTRATIVE_ACTION.rawValue: return "administrative action"
        case MOSQ_ERR_ALREADY_EXISTS.rawValue: return "already exists"
        default: return "libmosquitto error \(rc)"
        }
    }

    /// An error for a refused CONNACK. MQTT 3.x return codes are 1...5; MQTT 5 uses reason codes.
    /// `credentialsSent`: the CONNECT carried a username or password.
    public static func connack(
        _ code: Int, protocolVersion: ProtocolVersion, credentialsSent: Bool = false
    ) -> MQTTError {
        let cause = Cause.connAckRefused(code: code, version: protocolVersion, credentialsSent: credentialsSent)
        if protocolVersion != .v5 {
            let (kind, text) = connack3(code)
            return MQTTError(
                kind, "broker refused the connection: \(text) (CONNACK return code \(code))", reasonCode: code,
                cause: cause)
        }
        let kind: Kind =
            switch code {
            case 0x86, 0x87, 0x8C: .notAuthorized
            default: .refused
            }
        return MQTTError(
            kind, "broker refused the connection: \(ReasonCode.describe(code))", reasonCode: code, cause: cause)
    }

    /// An MQTT 3.x CONNACK return code in words.
    static func connack3(_ code: Int) -> (Kind, String) {
        switch code {
        case 1: (.refused, "unacceptable protocol version")
        case 2: (.refused, "identifier rejected")
        case 3: (.refused, "server unavailable")
        case 4: (.notAuthorized, "bad user name or password")
        case 5: (.notAuthorized, "not authorised")
        default: (.refused, "unknown return code \(code)")
        }
    }
}

/// MQTT 5 reason codes (and the MQTT 3.x SUBACK failure 0x80) in words.
public enum ReasonCode {
    public static let sessionTakenOver = 0x8E
    public static let disconnectWithWill = 0x04

    /// "Session taken over (0x8E)".
    public static func describe(_ code: Int) -> String {
        "\(name(code)) (0x\(hex2(code)))"
    }

    public static func name(_ code: Int) -> String {
        // mosquitto_reason_string knows every code of the MQTT 5 specification.
        let text = String(cString: mosquitto_reason_string(Int32(code)))
        return text == "Unknown reason" ? "unknown reason code" : text
    }

    /// Two upper-case hex digits of the low byte: "8E".
    public static func hex2(_ code: Int) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[(code >> 4) & 0xF], digits[code & 0xF]])
    }
}

extension String {
    var lowercasedFirst: String {
        guard let first = first else { return self }
        // Keep acronyms ("TLS ...") as they are.
        if count > 1, let second = dropFirst().first, second.isUppercase { return self }
        return first.lowercased() + dropFirst()
    }
}
