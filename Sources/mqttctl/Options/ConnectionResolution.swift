import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

/// From the options to the connection to make: the protocol version, and the
/// library's settings as a value (`makeConnectOptions`, pure) that the
/// subcommands get through `resolveConnection`.
extension ConnectionOptions {
    /// The protocol to use: `-V` if given, else `defaultVersion`; `-D` properties force MQTT 5.
    func resolvedProtocol(
        default defaultVersion: ProtocolVersion = .v311, needsV5: Bool = false
    ) throws(CommandFailure) -> ProtocolVersion {
        let chosen = protocolVersion
        if needsV5 {
            if let chosen, chosen != .v5 {
                throw .usage("MQTT 5 properties (-D, --will-delay, -x) need MQTT 5, but -V asks for MQTT \(chosen)")
            }
            return .v5
        }
        return chosen ?? defaultVersion
    }

    /// The connection to make, with what it needs from outside the options read
    /// here (the password file, the process id), and `--insecure`'s warning shown
    /// once per run, however many connections a subcommand opens.
    /// `transport` nil: a command without those options (`QuickPublish`), as if
    /// none of them were given.
    func resolveConnection(
        transport: TransportOptions?, keepAlive: Int, protocolVersion: ProtocolVersion, will: WillOptions?,
        properties: ParsedProperties?
    ) throws(CommandFailure) -> (ConnectOptions, urlTopic: String?) {
        let resolved = try makeConnectOptions(
            transport: transport, keepAlive: keepAlive, protocolVersion: protocolVersion, will: will,
            properties: properties, inputs: try ConnectionInputs.gather(for: self, transport: transport))
        if let warning = resolved.warning, !Self.insecureWarningShown {
            Self.insecureWarningShown = true
            Diagnostics.warning(warning)
        }
        return (resolved.options, resolved.urlTopic)
    }

    nonisolated(unsafe) private static var insecureWarningShown = false

    /// The library's connection settings from the options alone: a pure function
    /// of them and `inputs` (no file read, no output), so it can be tested as a
    /// value. `keepAlive` comes from the subcommand (each has its own rules).
    func makeConnectOptions(
        transport: TransportOptions?, keepAlive: Int, protocolVersion: ProtocolVersion, will: WillOptions?,
        properties: ParsedProperties?, inputs: ConnectionInputs
    ) throws(CommandFailure) -> ResolvedConnection {
        var options = ConnectOptions()
        var urlTopic: String?
        var urlTLS = false
        var urlPort: Int?
        var urlWebSocket = false
        if let parsed = try transport?.url.map(BrokerURL.once) {
            options.host = parsed.host
            urlPort = parsed.port
            options.username = parsed.username
            options.password = parsed.password
            urlTLS = parsed.tls
            urlTopic = parsed.topic
            urlWebSocket = parsed.webSocket
        }
        if let transport, transport.webSocket || urlWebSocket {
            options.transport = .webSocket(
                WebSocketOptions(path: transport.webSocketPath ?? "/mqtt", headers: transport.webSocketHeaders))
        }
        options.tls = transport?.makeTLSOptions(urlTLS: urlTLS)
        options.port = port ?? urlPort ?? (options.tls != nil ? 8883 : 1883)
        if let host { options.host = host }
        if let username { options.username = username }
        // The password: -P (or the -L URL's), else --password-file, else MQTTCTL_PASSWORD, which
        // Defaults turns into --password unless -P or --password-file is on the command line.
        if let password {
            options.password = password
        } else if options.password == nil, passwordFile != nil {
            options.password = inputs.passwordFromFile
        }
        if options.password != nil && options.username == nil && protocolVersion != .v5 {
            throw .usage("a password needs a username (-u) before MQTT 5")
        }
        options.protocolVersion = protocolVersion
        options.keepAlive = keepAlive
        options.connectTimeout = connectTimeout
        if let idPrefix {
            options.clientID = "\(idPrefix)\(inputs.processID)"
        } else {
            options.clientID = id
        }
        if let clientID = options.clientID, protocolVersion == .v31, clientID.utf8.count > 23 {
            throw .usage("MQTT 3.1 allows client ids of at most 23 bytes; '\(clientID)' has \(clientID.utf8.count)")
        }
        options.cleanSession = !disableCleanSession
        if disableCleanSession && options.clientID == nil && protocolVersion != .v5 {
            throw .usage(
                "-c/--disable-clean-session needs a client id (-i or -I): the broker keeps the session under that id")
        }
        if protocolVersion == .v5 {
            if let sessionExpiry {
                options.sessionExpiry = sessionExpiry
            } else if disableCleanSession {
                options.sessionExpiry = UInt32.max  // as mosquitto's clients: -c means "keep it"
            }
        } else if sessionExpiry != nil {
            throw .usage("-x/--session-expiry needs MQTT 5 (-V 5)")
        }
        if let will { options.will = try will.makeWill(protocolVersion: protocolVersion, properties: properties) }
        if let properties { options.connectProperties = properties.connect }
        try transport?.applyClientOptions(to: &options, connection: self)
        let warning =
            options.tls?.insecure == true
            ? "--insecure: the broker's certificate is not checked against the host name '\(options.host)'; the connection can be intercepted"
            : nil
        return ResolvedConnection(options: options, urlTopic: urlTopic, warning: warning)
    }
}

/// A connection as the options describe it.
struct ResolvedConnection {
    var options: ConnectOptions
    /// The -L URL's path: the topic (pub, rr) or filter (sub).
    var urlTopic: String?
    /// For the user, once: `--insecure` leaves the connection open to interception.
    var warning: String?
}

/// What resolving a connection needs from outside the command line.
struct ConnectionInputs {
    /// Appended to `-I`'s prefix.
    var processID: Int32
    /// The first line of --password-file, when it is the password used.
    var passwordFromFile: String?

    /// Reads the password file only when no -P and no -L password comes first.
    static func gather(
        for connection: ConnectionOptions, transport: TransportOptions?
    ) throws(CommandFailure) -> ConnectionInputs {
        var inputs = ConnectionInputs(processID: getpid(), passwordFromFile: nil)
        let urlPassword = (try? transport?.url.map(BrokerURL.once))?.password
        if connection.password == nil, urlPassword == nil, let file = connection.passwordFile {
            inputs.passwordFromFile = try Credentials.readPasswordFile(file)
        }
        return inputs
    }
}
