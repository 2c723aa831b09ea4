import ArgumentParser
import Mosquitto

/// The rest of mosquitto's connection options: other transports (`--unix`,
/// `--proxy`), socket settings (`-A`, `--nodelay`), `-S`, `--quiet`, and the
/// OpenSSL engine options. Part of `ConnectionOptions`, so every subcommand has
/// them; `apply` puts them into the library's settings.
struct ClientOptions: ParsableArguments {
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

    @Flag(
        name: .customLong("quiet"),
        help: "Print no errors or warnings, except for invalid options and values; the exit status still tells.")
    var quiet = false

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
        // Errors other than usage errors are suppressed from here on (mosquitto's --quiet).
        if quiet { Diagnostics.quiet = true }
        if unixSocket != nil && proxy != nil {
            throw ValidationError("--unix and --proxy cannot be used together (a proxy connects over TCP)")
        }
        if unixSocket != nil && bindAddress != nil {
            throw ValidationError("--unix and -A cannot be used together (-A binds a TCP connection)")
        }
        if srv && (unixSocket != nil || proxy != nil) {
            throw ValidationError("-S cannot be combined with --unix or --proxy")
        }
        if engineKeyPasswordSHA1 != nil && (tlsEngine == nil || keyForm == nil) {
            throw ValidationError("--tls-engine-kpass-sha1 needs --tls-engine and --keyform")
        }
        if keyForm?.engine == true && tlsEngine == nil {
            throw ValidationError("--keyform engine needs --tls-engine (the engine that holds the key)")
        }
    }

    /// Puts these settings into `options`; `connection` is checked for what they
    /// cannot be combined with.
    func apply(to options: inout ConnectOptions, connection: ConnectionOptions) throws(CommandFailure) {
        if let unixSocket {
            if connection.host != nil || connection.port != nil || connection.url != nil {
                throw .usage("--unix replaces -h, -p and -L: give the broker one way")
            }
            options.unixSocket = unixSocket.path
        }
        if let proxy {
            options.socksProxy = proxy.proxy
            if options.protocolVersion == .v5 && (options.sessionExpiry != nil || !options.connectProperties.isEmpty) {
                throw .usage(
                    "--proxy with MQTT 5 CONNECT properties (-x, -c, -D connect ...): libmosquitto 2.0.11 does not send them through a SOCKS proxy, so the session would not be what was asked"
                )
            }
        }
        options.bindAddress = bindAddress?.address
        if noDelay { options.tcpNoDelay = true }
        options.srvLookup = srv
        if keyForm != nil && connection.tls.keyFile == nil {
            throw .usage("--keyform needs --key (and --cert)")
        }
        if tlsEngine != nil || keyForm != nil {
            guard options.tls != nil else {
                throw .usage("--tls-engine and --keyform need TLS (--cafile, --capath, --cert or -L mqtts://)")
            }
            options.tls?.engine = tlsEngine
            options.tls?.keyForm = keyForm.map { $0.engine ? "engine" : "pem" }
            options.tls?.engineKeyPasswordSHA1 = engineKeyPasswordSHA1?.hex
        }
    }
}
