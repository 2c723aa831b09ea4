import ArgumentParser

/// The checks and help of the WebSocket options (`--ws`, `--ws-path`,
/// `--ws-header`), which `TransportOptions` declares.
extension TransportOptions {
    /// An HTTP request path: starts with '/', visible ASCII only (escape the rest as %XX).
    static func checkWebSocketPath(_ path: String) throws {
        guard path.hasPrefix("/"), path.utf8.count <= 1024 else {
            throw ValidationError("invalid --ws-path '\(path)': use an HTTP path starting with '/', such as /mqtt")
        }
        guard path.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw ValidationError(
                "invalid --ws-path '\(path)': only visible ASCII characters (write others as %XX escapes, spaces as %20)"
            )
        }
    }

    /// "Name: value": an HTTP token, a colon, a value without control characters.
    static func checkWebSocketHeader(_ header: String) throws {
        guard let colon = header.firstIndex(of: ":") else {
            throw ValidationError("invalid --ws-header '\(header)': use 'Name: value'")
        }
        let name = header[..<colon]
        let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        guard !name.isEmpty, name.utf8.count <= 250, name.utf8.allSatisfy({ tokenCharacters.contains($0) }) else {
            throw ValidationError(
                "invalid --ws-header '\(header)': the name before ':' must be an HTTP header name (letters, digits, '-'...)"
            )
        }
        let value = header[header.index(after: colon)...]
        guard value.utf8.count <= 4096, value.utf8.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            throw ValidationError(
                "invalid --ws-header '\(header)': the value must be one line without control characters (at most 4096 bytes)"
            )
        }
        let lower = name.lowercased()
        if ["upgrade", "connection", "content-length", "transfer-encoding"].contains(lower)
            || lower.hasPrefix("sec-websocket-")
        {
            throw ValidationError("--ws-header cannot set '\(name)': the WebSocket upgrade sets it itself")
        }
    }

    /// The WEBSOCKET section of `mqttctl --help` (and so of the man page).
    static let webSocketHelpText = """
        WEBSOCKET
        --ws, or -L ws://host[:port]/topic, carries MQTT over WebSocket (RFC 6455, MQTT \
        3.1.1 and 5.0 section 6); -L wss://... or --ws with any TLS option is WebSocket over \
        TLS, with every TLS option but --psk. As in mosquitto's -L the URL's path is the topic; \
        the HTTP path of the upgrade is --ws-path (default /mqtt), extra request headers come \
        from --ws-header 'Name: value' (repeatable; a Host header replaces host:port). The \
        port defaults to 1883 (8883 with TLS), as with mosquitto 2.1's clients. The subprotocol \
        mqtt is asked for and must be chosen. libmosquitto still does all of MQTT; \
        libwebsockets (libwebsockets17, loaded only when a WebSocket is used) carries its \
        bytes, passing each on at once, so keep-alive and take-over probes time the broker. \
        Failures: connection refused, no such host, an upgrade answered with another HTTP \
        status ("404 Not Found: is the path right? --ws-path"), no or another subprotocol: \
        status 3; a TLS failure: 6, with the same diagnosis as mqtts://; a close frame from the \
        broker, shown with its code and reason: 7 once connected (probes and conn --stay \
        report it, JSON closed_by "fin" with websocket_close_code and websocket_close_reason). \
        Reports name the endpoint as a URL (ws://host:port/path); JSON has "transport" \
        ("tcp", "tls", "websocket", "websocket-tls") and "websocket_path".

        """
}
