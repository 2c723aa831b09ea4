import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

/// Defaults for the connection options, from the config file and the MQTTCTL_*
/// environment variables. They become ordinary arguments inserted right after the
/// subcommand name, before the user's own arguments:
///
///     mqttctl pub <config file options> <environment options> <command line>
///
/// swift-argument-parser keeps the last value of a repeated option, so the command
/// line wins over the environment, which wins over the file. Options that stand
/// for the same setting are resolved as a group: a password given one way on the
/// command line (-P or --password-file) drops every password from the
/// environment and the file, `-i` drops a default `-I`, certificates drop a
/// default `--psk` and the reverse, and `-L` drops default host and port (plus
/// the credentials it carries, and all TLS defaults for a plain mqtt:// URL).
///
/// The config file is `$XDG_CONFIG_HOME/mqttctl/config`, else `~/.config/mqttctl/config`:
/// one option per line as the command line spells it (`-h broker`, `--port 8883`,
/// `--insecure`), the value after the first space (it may contain spaces; no
/// quoting), `#` comments and blank lines. Only connection options are allowed;
/// one that the subcommand being run does not have (`-k` for a subcommand without
/// keep-alive) is skipped. `--no-config` on the command line ignores the file.
enum Defaults {
    enum Kind: Sendable {
        case flag, text, path
        /// A value the option's own type checks (`CheckedValue.problem`), as the
        /// parser does: the check and its wording exist once.
        case checked(@Sendable (String) -> String?)

        var takesValue: Bool {
            if case .flag = self { return false }
            return true
        }
    }

    /// Which option groups declare an option (a subcommand has it if it includes
    /// the group). An OptionSet rather than a Set of an enum: a Set's element type
    /// costs a Hashable conformance lookup at every start.
    struct Owners: OptionSet, Sendable {
        let rawValue: UInt8
        static let connection = Owners(rawValue: 1)
        static let keepAlive = Owners(rawValue: 2)
        static let transport = Owners(rawValue: 4)
    }

    struct Spec: Sendable {
        let long: String
        let short: Character?
        let kind: Kind
        let owner: Owners
    }

    /// The DEFAULTS and PASSWORDS sections of `mqttctl --help` (and so of the man page).
    static let helpText = """
        DEFAULTS
        Connection options take defaults from the environment (MQTTCTL_HOST, MQTTCTL_PORT, \
        MQTTCTL_USERNAME, MQTTCTL_PASSWORD) and from the config file \
        $XDG_CONFIG_HOME/mqttctl/config (else ~/.config/mqttctl/config). The command line \
        wins over the environment, which wins over the file; --no-config ignores the file. A \
        variable's value is checked only when it is used. \
        The file has one option per line, spelled as on the command line (-h broker.example, \
        --port 8883, --cafile ~/ca.pem, --insecure); the value is the rest of the line after \
        the first space (spaces allowed, no quoting); lines starting with # are comments. Only \
        these options are accepted: \(allowedList). A subcommand without one of them (-k) \
        ignores it. Anything else is an error naming the file and line. Options that set the \
        same thing are overridden together: -P or --password-file replaces every default \
        password, -i a default -I, --psk default certificates and the reverse, and -L the \
        default host and port (and its credentials, with mqtt:// all TLS defaults, and with \
        mqtt:// or mqtts:// the WebSocket defaults).

        PASSWORDS
        The password is taken from -P, else --password-file FILE (its first line; refused \
        when other users can read FILE), else MQTTCTL_PASSWORD. A -P on the command line is \
        visible to other local users (ps); the other two are not. The password goes only to \
        the broker: it is never printed, not even by --debug.

        """

    /// The options a config file may set.
    static let specs: [Spec] = [
        Spec(long: "--host", short: "h", kind: .text, owner: .connection),
        Spec(long: "--port", short: "p", kind: .checked(Port.problem), owner: .connection),
        Spec(long: "--username", short: "u", kind: .text, owner: .connection),
        Spec(long: "--password", short: "P", kind: .text, owner: .connection),
        Spec(long: "--password-file", short: nil, kind: .path, owner: .connection),
        Spec(long: "--id-prefix", short: "I", kind: .text, owner: .connection),
        Spec(long: "--protocol", short: "V", kind: .checked(ProtocolOption.problem), owner: .connection),
        Spec(long: "--connect-timeout", short: nil, kind: .checked(ConnectTimeout.problem), owner: .connection),
        Spec(long: "--keepalive", short: "k", kind: .checked(KeepAlive.problem), owner: .keepAlive),
        Spec(long: "--cafile", short: nil, kind: .path, owner: .transport),
        Spec(long: "--capath", short: nil, kind: .path, owner: .transport),
        Spec(long: "--tls-use-os-certs", short: nil, kind: .flag, owner: .transport),
        Spec(long: "--cert", short: nil, kind: .path, owner: .transport),
        Spec(long: "--key", short: nil, kind: .path, owner: .transport),
        Spec(long: "--insecure", short: nil, kind: .flag, owner: .transport),
        Spec(long: "--tls-version", short: nil, kind: .checked(TLSVersion.problem), owner: .transport),
        Spec(long: "--ciphers", short: nil, kind: .text, owner: .transport),
        Spec(long: "--tls-alpn", short: nil, kind: .text, owner: .transport),
        Spec(long: "--psk", short: nil, kind: .checked(PreSharedKey.problem), owner: .transport),
        Spec(long: "--psk-identity", short: nil, kind: .text, owner: .transport),
        Spec(long: "--ws", short: nil, kind: .flag, owner: .transport),
        Spec(long: "--ws-path", short: nil, kind: .text, owner: .transport),
        Spec(long: "--ws-header", short: nil, kind: .text, owner: .transport),
        Spec(long: "--unix", short: nil, kind: .checked(UnixSocketPath.problem), owner: .transport),
        Spec(long: "--proxy", short: nil, kind: .checked(ProxyURL.problem), owner: .transport),
        Spec(long: "--bind-address", short: "A", kind: .checked(BindAddress.problem), owner: .transport),
        Spec(long: "--nodelay", short: nil, kind: .flag, owner: .transport),
        Spec(long: "--tls-engine", short: nil, kind: .text, owner: .transport),
        Spec(long: "--keyform", short: nil, kind: .checked(KeyForm.problem), owner: .transport),
        Spec(long: "--tls-engine-kpass-sha1", short: nil, kind: .checked(SHA1Hex.problem), owner: .transport),
    ]

    /// The connection options a config file may not set, and why: they name one
    /// run (a client id, a URL's topic, a session) or steer mqttctl itself. With
    /// `specs` they cover every option the groups declare; a unit test checks it.
    static let commandLineOnly: Set<String> = [
        "--url", "--id", "--disable-clean-session", "--session-expiry", "--debug", "--no-config",
        "--options-file", "-S", "--quiet",
    ]

    /// Other long spellings of the same options (mosquitto's).
    static let aliases: [String: String] = ["--pw": "--password", "--protocol-version": "--protocol"]

    /// The environment variables and the option each one stands for.
    static let environment: [(variable: String, option: String)] = [
        ("MQTTCTL_HOST", "--host"),
        ("MQTTCTL_PORT", "--port"),
        ("MQTTCTL_USERNAME", "--username"),
        ("MQTTCTL_PASSWORD", "--password"),
    ]

    /// One default: an option (long name), its value, and where it came from.
    struct Entry {
        let option: String
        let value: String?
        let origin: String

        var argument: String { value.map { "\(option)=\($0)" } ?? option }
        /// For `--debug`: the value, except a password.
        var shown: String {
            guard let value else { return option }
            return option == "--password" ? "\(option) ***" : "\(option) \(value)"
        }
    }

    // MARK: Entry point

    /// `arguments` without the program name, after `ArgumentPreprocessor`.
    static func apply(to arguments: [String]) throws(CommandFailure) -> [String] {
        // The (nested) subcommand named at the start: `pub`, `probe takeover`, or
        // `probe` alone, which runs its default subcommand.
        var names: [String] = []
        var command: ParsableCommand.Type = MQTTCtl.self
        while let name = arguments.dropFirst(names.count).first,
            let subcommand = MQTTCtl.subcommands(of: command).first(where: { $0._commandName == name })
        {
            names.append(name)
            command = subcommand
        }
        if names.isEmpty { return arguments }
        if declared(command) == nil, let fallback = command.configuration.defaultSubcommand {
            command = fallback
        }
        let user = Array(arguments.dropFirst(names.count))
        let scan = scanCommandLine(user)
        if scan.help { return arguments }
        let owners = declaredOwners(of: command)
        guard owners.contains(.connection) else { return arguments }

        let envEntries = environmentEntries()
        var fileEntries: [Entry] = []
        if !scan.noConfig, let path = configFilePath() {
            fileEntries = try readConfigFile(path) ?? []
        }

        let applied = try layered(scan: scan, environment: envEntries, file: fileEntries, owners: owners)
        if scan.debug {
            for entry in applied {
                Diagnostics.note("default from \(entry.origin): \(entry.shown)")
            }
        }
        return names + applied.map(\.argument) + scan.rewritten
    }

    /// The defaults that apply, file's first (so that the environment's, later,
    /// win): command line > environment > file, a whole group of options at a time.
    static func layered(
        scan: CommandLineScan, environment: [Entry], file: [Entry],
        owners: Owners
    ) throws(CommandFailure) -> [Entry] {
        let userDrop = superseded(by: scan.options, url: scan.url)
        let keptEnv = environment.filter { !userDrop.contains($0.option) }
        try checkEnvironment(keptEnv)
        let envDrop = superseded(by: Set(keptEnv.map(\.option)), url: nil)
        let keptFile = file.filter { entry in
            guard !userDrop.contains(entry.option), !envDrop.contains(entry.option) else { return false }
            // An option this subcommand does not have is skipped for it.
            guard let spec = spec(named: entry.option) else { return false }
            return owners.contains(spec.owner)
        }
        return keptFile + keptEnv
    }

    // MARK: The command line

    struct CommandLineScan {
        /// Long names of the connection options given (`-P` → `--password`...).
        var options: Set<String> = []
        var url: BrokerURL?
        var noConfig = false
        var help = false
        var debug = false
        /// The arguments with `-P VALUE` joined into `--password=VALUE`, so that a
        /// password starting with '-' is taken as a value and never shown in an error.
        var rewritten: [String] = []
    }

    static func scanCommandLine(_ arguments: [String]) -> CommandLineScan {
        var scan = CommandLineScan()
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--" {
                scan.rewritten.append(contentsOf: arguments[i...])
                break
            }
            let (name, inlineValue) = ArgumentPreprocessor.optionName(in: argument)
            switch name {
            case "--no-config": scan.noConfig = true
            case "--help": scan.help = true
            case "-d", "--debug": scan.debug = true
            case "-i", "--id": scan.options.insert("--id")
            case "-L", "--url":
                let value = inlineValue ?? (i + 1 < arguments.count ? arguments[i + 1] : nil)
                if let value { scan.url = try? BrokerURL.once(value) }
                scan.options.insert("--url")
            default:
                if let spec = spec(named: name) {
                    scan.options.insert(spec.long)
                }
            }
            if (name == "-P" || name == "--password" || name == "--pw") && inlineValue == nil && i + 1 < arguments.count
            {
                scan.rewritten.append("--password=\(arguments[i + 1])")
                i += 2
                continue
            }
            scan.rewritten.append(argument)
            // Skip the value of an option that takes one, so it is not read as an option.
            if inlineValue == nil, ArgumentPreprocessor.takesValue(name), i + 1 < arguments.count {
                scan.rewritten.append(arguments[i + 1])
                i += 2
                continue
            }
            i += 1
        }
        return scan
    }

    /// The options of lower layers that an option given in a higher layer replaces.
    static func superseded(by options: Set<String>, url: BrokerURL?) -> Set<String> {
        let passwords: Set<String> = ["--password", "--password-file"]
        let psk: Set<String> = ["--psk", "--psk-identity"]
        let certificates: Set<String> = ["--cafile", "--capath", "--tls-use-os-certs", "--cert", "--key", "--insecure"]
        var drop = options
        for option in options {
            switch option {
            case "--password", "--password-file": drop.formUnion(passwords)
            case "--id", "--id-prefix": drop.formUnion(["--id", "--id-prefix"])
            case "--psk", "--psk-identity": drop.formUnion(psk.union(certificates))
            case "--cert", "--key":
                drop.formUnion(psk.union(["--cert", "--key", "--keyform", "--tls-engine", "--tls-engine-kpass-sha1"]))
            case "--cafile", "--capath", "--tls-use-os-certs", "--insecure": drop.formUnion(psk)
            // A unix socket replaces host and port, and the reverse.
            case "--unix": drop.formUnion(["--host", "--port", "--proxy", "--bind-address"])
            case "--host", "--port": drop.insert("--unix")
            default: break
            }
        }
        if let url {
            drop.formUnion(["--host", "--port", "--unix"])
            if url.username != nil { drop.insert("--username") }
            if url.password != nil { drop.formUnion(passwords) }
            if !url.tls {
                // mqtt:// says "plain": no TLS from the defaults.
                drop.formUnion(psk.union(certificates).union(["--tls-version", "--ciphers", "--tls-alpn"]))
            }
            if !url.webSocket {
                // mqtt(s):// says "TCP": no WebSocket from the defaults.
                drop.formUnion(["--ws", "--ws-path", "--ws-header"])
            }
        }
        return drop
    }

    // MARK: Environment

    /// The variables set. Their values are checked only once they are used
    /// (`checkEnvironment`): `MQTTCTL_PORT=abc mqttctl pub -p 1883` works, as
    /// the command line wins.
    static func environmentEntries() -> [Entry] {
        var entries: [Entry] = []
        for (variable, option) in environment {
            guard let raw = getenv(variable) else { continue }
            let value = String(cString: raw)
            if value.isEmpty { continue }
            entries.append(Entry(option: option, value: value, origin: variable))
        }
        return entries
    }

    static func checkEnvironment(_ entries: [Entry]) throws(CommandFailure) {
        for entry in entries {
            if let value = entry.value, let spec = spec(named: entry.option),
                let problem = problem(with: value, kind: spec.kind)
            {
                throw .usage("\(entry.origin): \(problem)")
            }
        }
    }

    // MARK: Config file

    /// `$XDG_CONFIG_HOME/mqttctl/config`, else `$HOME/.config/mqttctl/config`.
    static func configFilePath() -> String? {
        if let xdg = getenv("XDG_CONFIG_HOME"), xdg.pointee != 0 {
            return String(cString: xdg) + "/mqttctl/config"
        }
        if let home = getenv("HOME"), home.pointee != 0 {
            return String(cString: home) + "/.config/mqttctl/config"
        }
        return nil
    }

    /// The file's entries; nil when there is no such file.
    static func readConfigFile(_ path: String) throws(CommandFailure) -> [Entry]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT || e == ENOTDIR { return nil }
            throw .usage(
                "cannot read the config file '\(path)': \(String(cString: strerror(e))) (use --no-config to ignore it)")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR else {
            throw .usage("cannot read the config file '\(path)': it is a directory (use --no-config to ignore it)")
        }
        let bytes: [UInt8]
        do {
            bytes = try InputReading.readSmall(fd)
        } catch {
            throw .usage("cannot read the config file '\(path)': \(InputReading.reason(error))")
        }
        let entries = try parseConfig(bytes, path: path)
        if entries.contains(where: { $0.option == "--password" }) {
            try Credentials.checkPrivate(path: path, mode: st.st_mode, what: "config file (it holds a password)")
        }
        return entries
    }

    /// Parses the file's lines; errors name the file and the line.
    static func parseConfig(_ bytes: [UInt8], path: String) throws(CommandFailure) -> [Entry] {
        var entries: [Entry] = []
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (index, rawLine) in lines.enumerated() {
            let where_ = "\(path):\(index + 1)"
            func fail(_ message: String) -> CommandFailure {
                .usage("\(where_): \(message)")
            }
            guard let text = String(validating: rawLine, as: UTF8.self) else {
                throw fail("not valid UTF-8")
            }
            let line = trimmed(text)
            if line.isEmpty || line.hasPrefix("#") { continue }
            var name: String
            var value: String?
            if let space = line.firstIndex(where: { $0 == " " || $0 == "\t" }) {
                name = String(line[..<space])
                value = trimmed(String(line[space...]))
            } else {
                name = line
            }
            if name.hasPrefix("--"), let eq = name.firstIndex(of: "="), value == nil {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard name.hasPrefix("-") else {
                throw fail("expected an option such as '--port 8883', found '\(name)'")
            }
            guard let spec = spec(named: name) else {
                if name == "--no-config" {
                    throw fail("'--no-config' belongs on the command line")
                }
                throw fail(
                    "'\(name)' is not accepted in the config file, which takes only connection options: \(allowedList)")
            }
            if !spec.kind.takesValue {
                if value != nil { throw fail("'\(name)' takes no value") }
            } else {
                guard var given = value, !given.isEmpty else { throw fail("'\(name)' needs a value") }
                if let problem = problem(with: given, kind: spec.kind) { throw fail(problem) }
                if case .path = spec.kind { given = expandingTilde(given) }
                value = given
            }
            entries.append(Entry(option: spec.long, value: value, origin: where_))
        }
        return entries
    }

    static var allowedList: String {
        specs.map { spec in spec.short.map { "-\($0)/\(spec.long)" } ?? spec.long }.joined(separator: ", ")
    }

    // MARK: Helpers

    static func spec(named name: String) -> Spec? {
        if name.hasPrefix("--") {
            let long = aliases[name] ?? name
            return specs.first { $0.long == long }
        }
        if name.count == 2, name.hasPrefix("-"), let letter = name.last { return specs.first { $0.short == letter } }
        return nil
    }

    /// Why `value` is not acceptable for an option of this kind (nil if it is).
    static func problem(with value: String, kind: Kind) -> String? {
        if case .checked(let problem) = kind { return problem(value) }
        return nil
    }

    static func trimmed(_ text: String) -> String {
        var s = Substring(text)
        while let first = s.first, first == " " || first == "\t" { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\t" || last == "\r" { s = s.dropLast() }
        return String(s)
    }

    /// `~/x` → `$HOME/x` (no shell expands the file's paths).
    static func expandingTilde(_ path: String) -> String {
        guard path.hasPrefix("~/"), let home = getenv("HOME") else { return path }
        return String(cString: home) + path.dropFirst()
    }

    /// The option groups a subcommand includes, as it declares them (its
    /// `defaultOwners`); empty for one that takes no defaults.
    static func declaredOwners(of command: ParsableCommand.Type) -> Owners {
        declared(command) ?? []
    }

    /// Declared rather than found by reflection: a Mirror walk over a command's
    /// options costs about a millisecond at every start. A table rather than a
    /// protocol that the subcommands adopt: casting to a protocol scans every
    /// conformance record in the binary (0.16 M instructions). A test checks each
    /// entry against reflection, so a subcommand missing here fails it.
    private static func declared(_ command: ParsableCommand.Type) -> Owners? {
        let id = ObjectIdentifier(command)
        return declarations.first(where: { $0.command == id })?.owners
    }

    private static let declarations: [(command: ObjectIdentifier, owners: Owners)] = [
        (ObjectIdentifier(Publish.self), Publish.defaultOwners),
        (ObjectIdentifier(Subscribe.self), Subscribe.defaultOwners),
        (ObjectIdentifier(Request.self), Request.defaultOwners),
        (ObjectIdentifier(Conn.self), Conn.defaultOwners),
        (ObjectIdentifier(Ping.self), Ping.defaultOwners),
        (ObjectIdentifier(ProbeAll.self), ProbeAll.defaultOwners),
        (ObjectIdentifier(ProbeKeepAlive.self), ProbeKeepAlive.defaultOwners),
        (ObjectIdentifier(ProbeWill.self), ProbeWill.defaultOwners),
        (ObjectIdentifier(ProbeTakeover.self), ProbeTakeover.defaultOwners),
        (ObjectIdentifier(ProbeSession.self), ProbeSession.defaultOwners),
        (ObjectIdentifier(ProbeLimits.self), ProbeLimits.defaultOwners),
    ]
}
