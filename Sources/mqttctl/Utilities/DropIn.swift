#if canImport(Glibc)
import Glibc
#endif

/// Drop-in mode: run as `mosquitto_pub`, `mosquitto_sub` or `mosquitto_rr` (a
/// symlink to mqttctl; `make install-compat`), mqttctl is that client: it reads
/// that client's options file, `$XDG_CONFIG_HOME/mosquitto_pub` (else
/// `~/.config/mosquitto_pub`), in mosquitto's syntax, and takes exactly that
/// client's options (mosquitto_pub(1), mosquitto_sub(1), mosquitto_rr(1) of
/// 2.0.11), with mqttctl's behaviour behind them: nothing lost, true exit
/// statuses, one-line errors. mqttctl's own config file and MQTTCTL_*
/// variables do not apply; nor do options only mqttctl has.
enum DropIn: String, CaseIterable {
    case pub = "mosquitto_pub"
    case sub = "mosquitto_sub"
    case rr = "mosquitto_rr"

    /// The client being run as, if any (set by `MQTTCtl.main`).
    nonisolated(unsafe) static var current: DropIn?

    /// The client named by the program's name (argv[0]'s last component).
    init?(programName: String) {
        let base = programName.split(separator: "/").last.map(String.init) ?? programName
        self.init(rawValue: base)
    }

    var subcommand: String {
        switch self {
        case .pub: return "pub"
        case .sub: return "sub"
        case .rr: return "rr"
        }
    }

    /// Options all three clients take (client/client_shared.c, 2.0.11).
    private static let common: Set<String> = [
        "-A", "--cafile", "--capath", "--cert", "--ciphers", "-c", "--disable-clean-session", "-d", "--debug",
        "-D", "--property", "--help", "-h", "--host", "--insecure", "-i", "--id", "-I", "--id-prefix", "-k",
        "--keepalive",
        "--key", "--keyform", "-L", "--url", "-M", "--nodelay", "-p", "--port", "-P", "--pw", "--proxy", "--psk",
        "--psk-identity", "-q", "--qos", "--quiet", "-S", "-t", "--topic", "--tls-alpn", "--tls-engine",
        "--tls-engine-kpass-sha1", "--tls-use-os-certs", "--tls-version", "-u", "--username", "--unix", "-V",
        "--protocol-version", "--version", "--will-payload", "--will-qos", "--will-retain", "--will-topic", "-x",
    ]

    /// The options this client takes, as mosquitto spells them.
    var options: Set<String> {
        switch self {
        case .pub:
            return Self.common.union([
                "-f", "--file", "-l", "--stdin-line", "-m", "--message", "-n", "--null-message",
                "-r", "--retain", "-s", "--stdin-file", "--repeat", "--repeat-delay",
            ])
        case .sub:
            return Self.common.union([
                "-C", "-E", "-F", "-N", "--pretty", "-R", "--random-filter", "--remove-retained",
                "--retain-as-published", "--retained-only", "-T", "--filter-out", "-U",
                "--unsubscribe", "-v", "--verbose", "-W",
            ])
        case .rr:
            return Self.common.union([
                "-e", "-f", "--file", "-F", "-m", "--message", "-n", "--null-message", "-N",
                "--pretty", "-R", "--retain-as-published", "-s", "--stdin-file", "-v",
                "--verbose", "-W",
            ])
        }
    }

    /// `$XDG_CONFIG_HOME/mosquitto_pub` when XDG_CONFIG_HOME is set (even empty,
    /// as mosquitto reads it), else `$HOME/.config/mosquitto_pub`.
    var optionsFilePath: String? {
        if let xdg = getenv("XDG_CONFIG_HOME") { return String(cString: xdg) + "/" + rawValue }
        if let home = getenv("HOME") { return String(cString: home) + "/.config/" + rawValue }
        return nil
    }

    /// mqttctl's arguments for this client's command line (after ArgumentPreprocessor).
    func arguments(_ commandLine: [String]) throws(CommandFailure) -> [String] {
        try check(commandLine, origin: nil)
        if commandLine.contains("--version") && !commandLine.contains("--help") {
            return ["--version"]
        }
        var lines: [OptionsFile.Line] = []
        if let path = optionsFilePath, let read = try OptionsFile.read(path, dialect: .mosquitto, optional: true) {
            for line in read { try check(line.arguments, origin: line.origin) }
            lines = read
        }
        // mosquitto_rr sends no Correlation Data and takes any message on the response topic.
        let own = self == .rr ? ["--no-correlation"] : []
        return [subcommand] + own + OptionsFile.inserting(lines, before: commandLine)
    }

    /// Refuses an option this client does not have.
    private func check(_ arguments: [String], origin: String?) throws(CommandFailure) {
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--" { return }
            let name = ArgumentPreprocessor.optionName(in: argument).name
            if name.hasPrefix("-") && name.count > 1 && !options.contains(name) {
                let own = "mqttctl \(subcommand)"
                throw .usage(
                    "\(origin.map { "\($0): " } ?? "")\(rawValue) has no option '\(name)' (mqttctl's own options need '\(own)')"
                )
            }
            i += !argument.contains("=") && ArgumentPreprocessor.takesValue(name) ? 2 : 1
        }
    }
}
