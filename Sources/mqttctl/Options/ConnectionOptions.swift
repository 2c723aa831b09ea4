import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

/// Where and how to connect: the options every subcommand shares, spelled as
/// mosquitto_pub/mosquitto_sub spell them. `--help` is help because `-h` is the host.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: [.customShort("h"), .long], parsing: .unconditional,
        help: "Broker host name or address (default: MQTTCTL_HOST, the config file, or localhost).")
    var host: String?

    @Option(
        name: [.short, .long], parsing: .unconditional,
        help: "Broker port (default: MQTTCTL_PORT, the config file, or 1883; 8883 with TLS).",
        transform: Port.value)
    var port: Int?

    @Option(
        name: [.customShort("L"), .long],
        parsing: .unconditional,
        help: ArgumentHelp(
            "Broker URL: mqtt://[user[:password]@]host[:port]/topic (mqtts:// for TLS). Sets host, port, credentials and topic; %XX escapes are decoded (%23 is #, %40 is @; %00 is refused).",
            valueName: "url"))
    var url: String?

    @Flag(
        name: .customLong("ws"),
        help:
            "MQTT over WebSocket (subprotocol mqtt, path --ws-path); wss:// with any TLS option. Same as -L ws://... (wss://...)."
    )
    var webSocket = false

    @Option(
        name: .customLong("ws-path"),
        parsing: .unconditional,
        help: ArgumentHelp("WebSocket: the HTTP path of the upgrade (default: /mqtt).", valueName: "path"))
    var webSocketPath: String?

    @Option(
        name: .customLong("ws-header"),
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "WebSocket: an extra request header 'Name: value' (repeatable), e.g. a token a gateway wants; a Host header replaces host:port.",
            valueName: "header"))
    var webSocketHeaders: [String] = []

    @Option(
        name: [.short, .customLong("id")], parsing: .unconditional, help: "Client id (default: assigned by the broker)."
    )
    var id: String?

    @Option(
        name: [.customShort("I"), .customLong("id-prefix")], parsing: .unconditional,
        help: "Client id prefix; the process id is appended.")
    var idPrefix: String?

    @Option(
        name: [.customShort("V"), .customLong("protocol"), .customLong("protocol-version")],
        parsing: .unconditional,
        help: ArgumentHelp(
            "MQTT version: mqttv31 or 31, mqttv311 or 311, mqttv5 or 5 (default: 311).", valueName: "version"),
        transform: ProtocolOption.value)
    var protocolVersion: ProtocolVersion?

    @Flag(
        name: [.customShort("c"), .customLong("disable-clean-session")],
        help:
            "Keep the session after disconnecting (MQTT 5: clean start off, session expiry infinite unless -x). Needs -i."
    )
    var disableCleanSession = false

    @Option(
        name: [.customShort("x"), .customLong("session-expiry")],
        parsing: .unconditional,
        help: ArgumentHelp(
            "MQTT 5 session expiry interval in seconds; -1 or 'never' for no expiry.", valueName: "seconds"),
        transform: SessionExpiry.value)
    var sessionExpiry: UInt32?

    @Option(
        name: [.short, .long], parsing: .unconditional, help: "Username (default: MQTTCTL_USERNAME or the config file)."
    )
    var username: String?

    @Option(
        name: [.customShort("P"), .long, .customLong("pw")],
        parsing: .unconditional,
        help:
            "Password. Visible to other local users in the process list; prefer --password-file or the MQTTCTL_PASSWORD environment variable."
    )
    var password: String?

    @Option(
        name: .customLong("password-file"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "Read the password from the first line of this file (refused if other users can read it). Used when -P is not given; the MQTTCTL_PASSWORD environment variable is the next choice.",
            valueName: "file"))
    var passwordFile: String?

    @Option(
        name: .customLong("connect-timeout"), parsing: .unconditional,
        help: ArgumentHelp("Seconds allowed to connect and receive CONNACK (default: 10).", valueName: "seconds"),
        transform: ConnectTimeout.parse)
    var connectTimeout: Double = 10

    @Flag(name: [.short, .long], help: "Show libmosquitto's log (packets sent and received) on stderr.")
    var debug = false

    @Flag(
        name: .customLong("no-config"),
        help:
            "Ignore the config file ($XDG_CONFIG_HOME/mqttctl/config or ~/.config/mqttctl/config). MQTTCTL_* environment variables still apply."
    )
    var noConfig = false

    /// TLS options: part of the connection options so every subcommand has them.
    @OptionGroup var tls: TLSOptionGroup

    /// --unix, --proxy, -A, --nodelay, -S, --quiet, the TLS engine options.
    @OptionGroup var client: ClientOptions

    /// Read before parsing (`OptionsFile.expand`); declared for --help and the parser.
    @Option(
        name: [.customShort("o"), .customLong("options-file")], parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "Read options from this file: any option this subcommand takes, one per line, as in the config file (# comments, the value after the first space). The command line wins. Repeatable.",
            valueName: "file"))
    var optionsFiles: [String] = []

    func validate() throws {
        if id != nil && idPrefix != nil {
            throw ValidationError("-i/--id and -I/--id-prefix cannot be used together")
        }
        if id == "" {
            throw ValidationError("-i: the client id is empty; leave -i out and the broker assigns one")
        }
        if let id, id.utf8.count > 65535 {
            throw ValidationError("the client id is longer than 65535 bytes")
        }
        let urlWebSocket = try url.map(BrokerURL.once)?.webSocket
        if webSocket && urlWebSocket == false {
            throw ValidationError(
                "--ws cannot be combined with an mqtt:// or mqtts:// URL: use -L ws://... or wss://...")
        }
        let usesWebSocket = webSocket || urlWebSocket == true
        if !usesWebSocket {
            if webSocketPath != nil { throw ValidationError("--ws-path needs --ws (or a ws:// or wss:// URL)") }
            if !webSocketHeaders.isEmpty { throw ValidationError("--ws-header needs --ws (or a ws:// or wss:// URL)") }
        } else if tls.psk != nil {
            throw ValidationError("--psk is not available over WebSocket (wss:// uses certificates)")
        } else if client.unixSocket != nil || client.proxy != nil || client.srv || client.bindAddress != nil {
            // The WebSocket bridge opens its own TCP connection (libwebsockets), which
            // has no unix-socket, SOCKS, SRV or bind-address path; --nodelay is
            // accepted because libwebsockets always sets TCP_NODELAY.
            throw ValidationError("--unix, --proxy, -S and -A are not available over WebSocket")
        }
        if let webSocketPath { try Self.checkWebSocketPath(webSocketPath) }
        for header in webSocketHeaders { try Self.checkWebSocketHeader(header) }
    }

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

/// `-k/--keepalive` for the subcommands that hold one connection.
struct KeepAliveOption: ParsableArguments {
    @Option(
        name: [.short, .customLong("keepalive")],
        parsing: .unconditional,
        help: ArgumentHelp(
            "Keep-alive interval in seconds: 0 (off) or 5 to 65535 (default: 60).", valueName: "seconds"),
        transform: KeepAlive.value)
    var keepAlive = 60
}
