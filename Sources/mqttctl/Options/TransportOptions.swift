import ArgumentParser

/// How the bytes travel: the -L URL (whose scheme picks plain, TLS or WebSocket),
/// WebSocket (`--ws`, `--ws-path`, `--ws-header`; WebSocketOptions.swift), TLS
/// (TLSOptions.swift), and mosquitto's other client options: `--unix`,
/// `--proxy`, `-A`, `--nodelay`, `-S`, the TLS engine options
/// (ClientOptions.swift). Every subcommand with `ConnectionOptions` has them.
/// Resolution reads them as an optional group (`resolveConnection(transport:)`):
/// nil is a command that declares none of them, as `QuickPublish`, and means
/// every one left out.
struct TransportOptions: ParsableArguments {

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

    // The TLS options (their checks and help: TLSOptions.swift). Declared here,
    // not in an @OptionGroup of their own: each group costs swift-argument-parser
    // three protocol-conformance scans and a reflection pass at every start
    // (about 0.8 M instructions; bench/README.md).
    @Option(
        name: .customLong("cafile"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "TLS: file of PEM CA certificates to trust for the broker's certificate. Turns TLS on.", valueName: "file"))
    var caFile: String?

    @Option(
        name: .customLong("capath"),
        parsing: .unconditional,
        help: ArgumentHelp("TLS: directory of hashed PEM CA certificates (c_rehash). Turns TLS on.", valueName: "dir"))
    var caPath: String?

    @Flag(
        name: .customLong("tls-use-os-certs"),
        help: "TLS: trust the system's CA certificates (default for mqtts:// without --cafile/--capath). Turns TLS on.")
    var useOSCertificates = false

    @Option(
        name: .customLong("cert"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "TLS: client certificate (PEM) for brokers that require one; needs --key.", valueName: "file"))
    var certFile: String?

    @Option(
        name: .customLong("key"),
        parsing: .unconditional,
        help: ArgumentHelp("TLS: private key (PEM, not encrypted) of --cert.", valueName: "file"))
    var keyFile: String?

    @Flag(
        name: .customLong("insecure"),
        help:
            "TLS: do not check that the broker's certificate names the host connected to (a warning is printed). The certificate chain is still verified."
    )
    var insecure = false

    @Option(
        name: .customLong("tls-version"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "TLS: lowest TLS version allowed: tlsv1.3, tlsv1.2 (default) or tlsv1.1.", valueName: "version"),
        transform: TLSVersion.value)
    var tlsVersion: String?

    @Option(
        name: .customLong("ciphers"),
        parsing: .unconditional,
        help: ArgumentHelp("TLS: OpenSSL cipher list for TLS 1.2 and below (see ciphers(1)).", valueName: "list"))
    var ciphers: String?

    @Option(
        name: .customLong("tls-alpn"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "TLS: ALPN protocol to offer (e.g. mqtt, for brokers sharing port 443).", valueName: "protocol"))
    var alpn: String?

    @Option(
        name: .customLong("psk"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "TLS-PSK: pre-shared key in hexadecimal, instead of certificates; needs --psk-identity.", valueName: "hex"))
    var psk: String?

    @Option(
        name: .customLong("psk-identity"),
        parsing: .unconditional, help: ArgumentHelp("TLS-PSK: identity sent with --psk.", valueName: "identity"))
    var pskIdentity: String?

    // --unix, --proxy, -A, --nodelay, -S, the TLS engine options (their checks:
    // ClientOptions.swift).
    @Option(
        name: .customLong("unix"), parsing: .unconditional,
        help: ArgumentHelp(
            "Connect over this unix domain socket instead of TCP (replaces -h, -p and -L; mosquitto: listener 0 PATH).",
            valueName: "path"),
        transform: UnixSocketPath.parse)
    var unixSocket: UnixSocketPath?

    @Option(
        name: .customLong("proxy"), parsing: .unconditional,
        help: ArgumentHelp(
            "Connect through a SOCKS5 proxy: socks5h://[user[:password]@]host[:port] (port 1080 unless given; the proxy resolves the broker's name; %25 %3A %40 in the user and password are %, : and @).",
            valueName: "url"),
        transform: ProxyURL.parse)
    var proxy: ProxyURL?

    @Option(
        name: [.customShort("A"), .customLong("bind-address")], parsing: .unconditional,
        help: ArgumentHelp(
            "Bind the connection to this local address or host name (the interface to use).", valueName: "address"),
        transform: BindAddress.parse)
    var bindAddress: BindAddress?

    @Flag(
        name: .customLong("nodelay"),
        help: "Disable Nagle's algorithm (TCP_NODELAY): less latency for small messages, possibly more packets.")
    var noDelay = false

    @Flag(
        name: .customShort("S"),
        help:
            "Find the broker by a DNS SRV lookup of -h (_mqtt._tcp.HOST). Refused with one line when libmosquitto lacks SRV support, as Debian's does."
    )
    var srv = false

    @Option(
        name: .customLong("tls-engine"), parsing: .unconditional,
        help: ArgumentHelp(
            "TLS: OpenSSL engine to use (see 'openssl engine'); refused with one line when OpenSSL has no such engine.",
            valueName: "engine"))
    var tlsEngine: String?

    @Option(
        name: .customLong("keyform"), parsing: .unconditional,
        help: ArgumentHelp(
            "TLS: form of --key: pem (a key file, default) or engine (a key held by --tls-engine, e.g. a TPM).",
            valueName: "form"),
        transform: KeyForm.parse)
    var keyForm: KeyForm?

    @Option(
        name: .customLong("tls-engine-kpass-sha1"), parsing: .unconditional,
        help: ArgumentHelp(
            "TLS: SHA-1 (40 hex digits) of the engine key's password, so the engine does not ask for it; needs --tls-engine and --keyform.",
            valueName: "hex"),
        transform: SHA1Hex.parse)
    var engineKeyPasswordSHA1: SHA1Hex?

    func validate() throws {
        try validateTLS()
        try validateClientOptions()
        let urlWebSocket = try url.map(BrokerURL.once)?.webSocket
        if webSocket && urlWebSocket == false {
            throw ValidationError(
                "--ws cannot be combined with an mqtt:// or mqtts:// URL: use -L ws://... or wss://...")
        }
        let usesWebSocket = webSocket || urlWebSocket == true
        if !usesWebSocket {
            if webSocketPath != nil { throw ValidationError("--ws-path needs --ws (or a ws:// or wss:// URL)") }
            if !webSocketHeaders.isEmpty { throw ValidationError("--ws-header needs --ws (or a ws:// or wss:// URL)") }
        } else if psk != nil {
            throw ValidationError("--psk is not available over WebSocket (wss:// uses certificates)")
        } else if unixSocket != nil || proxy != nil || srv || bindAddress != nil {
            // The WebSocket bridge opens its own TCP connection (libwebsockets), which
            // has no unix-socket, SOCKS, SRV or bind-address path; --nodelay is
            // accepted because libwebsockets always sets TCP_NODELAY.
            throw ValidationError("--unix, --proxy, -S and -A are not available over WebSocket")
        }
        if let webSocketPath { try Self.checkWebSocketPath(webSocketPath) }
        for header in webSocketHeaders { try Self.checkWebSocketHeader(header) }
    }
}
