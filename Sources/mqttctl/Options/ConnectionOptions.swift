import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

/// Which broker, as whom, for how long: the connection options every subcommand
/// shares, spelled as mosquitto_pub/mosquitto_sub spell them. `--help` is help
/// because `-h` is the host. How the bytes travel (-L's scheme, TLS, WebSocket,
/// other sockets) is `TransportOptions`, a group of its own so that a one-shot
/// publish can be parsed without it (`QuickPublish`).
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

    @Flag(
        name: .customLong("quiet"),
        help: "Print no errors or warnings, except for invalid options and values; the exit status still tells.")
    var quiet = false

    /// Read before parsing (`OptionsFile.expand`); declared for --help and the parser.
    @Option(
        name: [.customShort("o"), .customLong("options-file")], parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "Read options from this file: any option this subcommand takes, one per line, as in the config file (# comments, the value after the first space). The command line wins. Repeatable.",
            valueName: "file"))
    var optionsFiles: [String] = []

    func validate() throws {
        // Errors other than usage errors are suppressed from here on (mosquitto's --quiet).
        if quiet { Diagnostics.quiet = true }
        if id != nil && idPrefix != nil {
            throw ValidationError("-i/--id and -I/--id-prefix cannot be used together")
        }
        if id == "" {
            throw ValidationError("-i: the client id is empty; leave -i out and the broker assigns one")
        }
        if let id, id.utf8.count > 65535 {
            throw ValidationError("the client id is longer than 65535 bytes")
        }
    }
}

/// `-k/--keepalive` for the subcommands that hold one connection.
struct KeepAliveOption: ParsableArguments {
    @Option(
        name: [.short, .customLong("keepalive")],
        parsing: .unconditional,
        help: ArgumentHelp(
            "Keep-alive interval in seconds: 0 (off) or 5 to 65535 (default: 60).", valueName: "seconds"),
        transform: KeepAlive.value)
    var keepAlive = KeepAliveOption.defaultSeconds

    /// -k's default, also the keep-alive of a command that does not declare -k.
    static let defaultSeconds = 60
}
