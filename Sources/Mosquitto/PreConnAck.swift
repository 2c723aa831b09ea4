/// What to say when a plain TCP connection ends before CONNACK, judged by the
/// first bytes the peer sent (peeked, not consumed): say what was seen, and
/// "a TLS port" only when a TLS record came back.
public enum PreConnAck {
    /// The return code of an MQTT 3.1.1 CONNACK (`20 02 flags code`), if the bytes are one.
    static func mqtt311ReturnCode(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4, bytes[0] == 0x20, bytes[1] == 0x02 else { return nil }
        return Int(bytes[3])
    }

    /// A TLS record header: content type 20...23, major version 3.
    public static func isTLSRecord(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && (0x14...0x17).contains(bytes[0]) && bytes[1] == 0x03
    }

    /// `reset`: the connection ended with a reset rather than a FIN.
    static func error(
        firstBytes bytes: [UInt8], version: ProtocolVersion, endpoint: String, reset: Bool = false
    ) -> MQTTError {
        let cause = MQTTError.Cause.closedBeforeConnAck(firstBytes: bytes, reset: reset)
        func error(
            _ kind: MQTTError.Kind, _ text: String, reasonCode: Int? = nil, cause: MQTTError.Cause = cause
        ) -> MQTTError {
            MQTTError(kind, "\(endpoint) \(text)", reasonCode: reasonCode, cause: cause, endpoint: endpoint)
        }
        if bytes.isEmpty && reset {
            // What a TLS listener (mosquitto's) does to a plain CONNECT; other servers do it too.
            return error(
                .cannotConnect, "reset the connection without CONNACK (a TLS listener does that to a plain client)")
        }
        if bytes.isEmpty {
            return error(.cannotConnect, "closed the connection without CONNACK")
        }
        if version == .v5, let code = mqtt311ReturnCode(bytes) {
            return error(
                .refused,
                "answered the MQTT 5 CONNECT with an MQTT 3.1.1 CONNACK (return code \(code)): it speaks only MQTT 3.1.1 or older",
                reasonCode: code, cause: .answeredAsMQTT311(returnCode: code))
        }
        if isTLSRecord(bytes) {
            return error(.cannotConnect, "answered with a TLS record: it is a TLS port")
        }
        if bytes.starts(with: Array("HTTP/".utf8)) {
            return error(.cannotConnect, "answered in HTTP: it is a web server, not an MQTT listener")
        }
        let hex = bytes.prefix(8).map { ReasonCode.hex2(Int($0)) }.joined(separator: " ")
        return error(
            .cannotConnect,
            "sent \(hex) and closed the connection without CONNACK: it is not an MQTT broker, or not this protocol version"
        )
    }
}
