import CMosquitto

/// A libmosquitto return code (`MOSQ_ERR_*`) as a value with named constants,
/// so that callers compare with `.connectionLost` rather than a bare number.
/// (Only the conformances it needs: each one costs every command's start-up a
/// little, as the runtime scans all conformance records on a dynamic cast.)
public struct LibraryCode: RawRepresentable, Equatable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    init(_ error: mosq_err_t) { rawValue = error.rawValue }

    public static let success = LibraryCode(MOSQ_ERR_SUCCESS)
    public static let noMemory = LibraryCode(MOSQ_ERR_NOMEM)
    public static let protocolError = LibraryCode(MOSQ_ERR_PROTOCOL)
    public static let invalidArgument = LibraryCode(MOSQ_ERR_INVAL)
    public static let noConnection = LibraryCode(MOSQ_ERR_NO_CONN)
    public static let connectionRefused = LibraryCode(MOSQ_ERR_CONN_REFUSED)
    public static let connectionLost = LibraryCode(MOSQ_ERR_CONN_LOST)
    public static let tls = LibraryCode(MOSQ_ERR_TLS)
    public static let payloadSize = LibraryCode(MOSQ_ERR_PAYLOAD_SIZE)
    public static let notSupported = LibraryCode(MOSQ_ERR_NOT_SUPPORTED)
    public static let authentication = LibraryCode(MOSQ_ERR_AUTH)
    public static let accessDenied = LibraryCode(MOSQ_ERR_ACL_DENIED)
    /// The system call failed; the error's cause or text holds `errno`.
    public static let errno = LibraryCode(MOSQ_ERR_ERRNO)
    /// getaddrinfo failed.
    public static let nameLookup = LibraryCode(MOSQ_ERR_EAI)
    public static let proxy = LibraryCode(MOSQ_ERR_PROXY)
    public static let keepAlive = LibraryCode(MOSQ_ERR_KEEPALIVE)
    public static let malformedPacket = LibraryCode(MOSQ_ERR_MALFORMED_PACKET)
    public static let tlsHandshake = LibraryCode(MOSQ_ERR_TLS_HANDSHAKE)
    public static let timeout = LibraryCode(MOSQ_ERR_TIMEOUT)

    /// What the code means, in words ("the connection was lost").
    public var text: String { MQTTError.libraryMessage(rawValue) }
}
