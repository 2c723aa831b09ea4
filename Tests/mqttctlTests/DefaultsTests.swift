import ArgumentParser
import Foundation
import Testing
@testable import mqttctl

/// Defaults from MQTTCTL_* variables and the config file; precedence command
/// line > environment > file; --no-config; errors naming file and line.
@Suite struct DefaultsTests {
    /// A config directory for one test: `config(...)` writes `<dir>/mqttctl/config`
    /// and `environment` points XDG_CONFIG_HOME at it.
    final class Config {
        let scratch: ScratchDirectory
        var file: String { scratch.url.appendingPathComponent("xdg/mqttctl/config").path }

        init(_ text: String, mode: mode_t = 0o600) throws {
            scratch = try ScratchDirectory()
            try scratch.write("xdg/mqttctl/config", text, mode: mode)
        }

        func environment(_ extra: [String: String] = [:]) -> [String: String] {
            var env = ["XDG_CONFIG_HOME": scratch.url.appendingPathComponent("xdg").path]
            for (key, value) in extra { env[key] = value }
            return env
        }
    }

    /// Waits for mosquitto's log line of a client's CONNECT ("... as ID (p2,
    /// c1, k30)"): what the broker saw, not what we meant to send.
    func brokerSaw(_ broker: TestBroker, _ text: String) -> Bool {
        waitUntil(timeout: 10) { broker.log.contains(text) }
    }

    /// A port with nothing listening (connecting there fails at once).
    func closedPort() throws -> Int { try TestBroker.freePort() }

    @Test func environmentSetsHostAndPort() throws {
        let broker = try TestBroker.standard()
        let id = "env-\(UUID().uuidString.prefix(8))"
        let result = try mqttctl(
            ["pub", "-t", uniqueTopic(), "-m", "x", "-i", id],
            environment: ["MQTTCTL_HOST": "127.0.0.1", "MQTTCTL_PORT": "\(broker.port)"])
        #expect(result.status == 0, "\(result)")
        #expect(brokerSaw(broker, "as \(id) ("), "the environment's broker: \(broker.log)")
    }

    @Test func theCommandLineWinsOverTheEnvironment() throws {
        let broker = try TestBroker.standard()
        let id = "cli-\(UUID().uuidString.prefix(8))"
        let result = try mqttctl(
            ["pub", "-p", "\(broker.port)", "-h", "127.0.0.1", "-t", uniqueTopic(), "-m", "x", "-i", id, "-d"],
            environment: ["MQTTCTL_HOST": "nowhere.invalid", "MQTTCTL_PORT": "\(try closedPort())"])
        #expect(result.status == 0, "\(result)")
        #expect(brokerSaw(broker, "as \(id) ("), "the command line's broker: \(broker.log)")
        #expect(!result.stderr.contains("default from MQTTCTL_"), "no default applied: \(result)")
    }

    @Test func theConfigFileSetsDefaults() throws {
        let broker = try TestBroker.standard()
        let config = try Config("# my broker\n-h 127.0.0.1\n--port \(broker.port)\n-k 30\n")
        let id = "defaults-\(UUID().uuidString.prefix(8))"
        let result = try mqttctl(
            ["pub", "-t", uniqueTopic(), "-m", "x", "-d", "-i", id], environment: config.environment())
        #expect(result.status == 0, "\(result)")
        #expect(brokerSaw(broker, "as \(id) (p2, c1, k30)"), "the keep-alive from the file: \(broker.log)")
        #expect(result.stderr.contains("mqttctl: default from \(config.file):2: --host 127.0.0.1"), "\(result)")
        #expect(result.stderr.contains("mqttctl: default from \(config.file):4: --keepalive 30"), "\(result)")
    }

    @Test func precedenceIsCommandLineThenEnvironmentThenFile() throws {
        let broker = try TestBroker.standard()
        let config = try Config("-h 127.0.0.1\n-p \(try closedPort())\n")
        let base = ["pub", "-t", uniqueTopic(), "-m", "x"]
        // File alone: its (closed) port is used.
        let fileOnly = try mqttctl(base, environment: config.environment())
        #expect(fileOnly.status == 3, "\(fileOnly)")
        // The environment wins over the file.
        let envID = "env-\(UUID().uuidString.prefix(8))"
        let env = try mqttctl(
            base + ["-i", envID], environment: config.environment(["MQTTCTL_PORT": "\(broker.port)"]))
        #expect(env.status == 0, "\(env)")
        #expect(brokerSaw(broker, "as \(envID) ("), "MQTTCTL_PORT's broker: \(broker.log)")
        // The command line wins over both.
        let cliID = "cli-\(UUID().uuidString.prefix(8))"
        let cli = try mqttctl(
            base + ["-p", "\(broker.port)", "-i", cliID],
            environment: config.environment(["MQTTCTL_PORT": "\(try closedPort())"]))
        #expect(cli.status == 0, "\(cli)")
        #expect(brokerSaw(broker, "as \(cliID) ("), "-p's broker: \(broker.log)")
    }

    @Test func noConfigIgnoresTheFile() throws {
        let broker = try TestBroker.standard()
        let config = try Config("-h 127.0.0.1\n--port nonsense\n")
        let broken = try mqttctl(
            ["pub", "-p", "\(broker.port)", "-t", "t", "-m", "x"], environment: config.environment())
        #expect(broken.status == 2, "\(broken)")
        #expect(broken.stderr.contains("\(config.file):2: invalid port 'nonsense'"), "\(broken)")
        let ignored = try mqttctl(
            ["pub", "--no-config", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", uniqueTopic(), "-m", "x"],
            environment: config.environment())
        #expect(ignored.status == 0, "\(ignored)")
    }

    @Test(arguments: [
        ("--port\n", ":1: '--port' needs a value"),
        ("# comment\n\n-t some/topic\n", ":3: '-t' is not accepted in the config file"),
        ("--bogus 1\n", ":1: '--bogus' is not accepted in the config file"),
        ("-h localhost\n--port 0\n", ":2: invalid port '0'"),
        ("--insecure yes\n", ":1: '--insecure' takes no value"),
        ("host localhost\n", ":1: expected an option such as '--port 8883'"),
        ("-k 3\n", ":1: invalid keep-alive '3'"),
        ("-V 4\n", ":1: invalid protocol version '4'"),
        ("--tls-version ssl3\n", ":1: invalid --tls-version 'ssl3'"),
        ("--no-config\n", ":1: '--no-config' belongs on the command line"),
        ("--proxy socks5://127.0.0.1\n", ":1: invalid --proxy 'socks5://127.0.0.1': only socks5h://"),
        ("--keyform der\n", ":1: invalid --keyform 'der': use pem"),
    ])
    func malformedFilesNameTheFileAndLine(text: String, message: String) throws {
        let config = try Config(text)
        let result = try mqttctl(["sub", "-t", "t", "-E"], environment: config.environment())
        #expect(result.status == 2, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("mqttctl: error: \(config.file)\(message)"), "\(result)")
    }

    @Test func helpWorksWithABrokenFile() throws {
        let config = try Config("--bogus\n")
        let result = try mqttctl(["pub", "--help"], environment: config.environment())
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("--password-file"), "\(result)")
        #expect(result.stdout.contains("--cafile"), "\(result)")
    }

    @Test func aBadEnvironmentValueIsNamed() throws {
        let result = try mqttctl(["pub", "-t", "t", "-m", "x"], environment: ["MQTTCTL_PORT": "eighty"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("MQTTCTL_PORT: invalid port 'eighty'"), "\(result)")
    }

    @Test func valuesWithSpacesCRLFAndAPasswordInTheFile() throws {
        let broker = try SecureBrokers.passwords()
        let config = try Config(
            "  # credentials\r\n\r\n-h 127.0.0.1\r\n--port=\(broker.port)\r\n-u \(SecureBrokers.username)\r\n-P \(SecureBrokers.password)\r\n"
        )
        let result = try mqttctl(["pub", "-t", uniqueTopic(), "-m", "x", "-d"], environment: config.environment())
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("--password ***"), "\(result)")
        #expect(!result.stderr.contains(SecureBrokers.password), "\(result)")
        #expect(!result.stdout.contains(SecureBrokers.password), "\(result)")
    }

    @Test func aConfigFileWithAPasswordThatOthersCanReadIsRefused() throws {
        let config = try Config("-u someone\n-P hunter2-\(UUID().uuidString.prefix(4))\n", mode: 0o644)
        let result = try mqttctl(["pub", "-t", "t", "-m", "x"], environment: config.environment())
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("config file"), "\(result)")
        #expect(result.stderr.contains("readable by other users"), "\(result)")
        #expect(!result.stderr.contains("hunter2"), "\(result)")
    }

    @Test func passwordFileInTheFileAndTheEnvironmentPassword() throws {
        let broker = try SecureBrokers.passwords()
        let config = try Config("-u \(SecureBrokers.username)\n--password-file ~/pw\n")
        try config.scratch.write("pw", "\(SecureBrokers.password)\n")
        let environment = config.environment(["HOME": config.scratch.url.path])
        // The file's --password-file (with ~ expanded) works...
        let file = try mqttctl(
            ["pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", uniqueTopic(), "-m", "x"], environment: environment
        )
        #expect(file.status == 0, "\(file)")
        // ...but MQTTCTL_PASSWORD (environment) wins over the file.
        var wrongEnvironment = environment
        wrongEnvironment["MQTTCTL_PASSWORD"] = "env-wrong"
        let env = try mqttctl(
            ["pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "t", "-m", "x"], environment: wrongEnvironment)
        #expect(env.status == 5, "\(env)")
    }

    @Test func tlsDefaultsInTheFile() throws {
        let certs = try TestCertificates.get()
        let tlsBroker = try SecureBrokers.tls()
        let plainBroker = try TestBroker.standard()
        let config = try Config("-h localhost\n--cafile \(certs.caFile)\n--port \(tlsBroker.port)\n")
        let tls = try mqttctl(["pub", "-t", uniqueTopic(), "-m", "x"], environment: config.environment())
        #expect(tls.status == 0, "\(tls)")
        // A plain mqtt:// URL on the command line drops the TLS defaults (and host and port).
        let plainID = "plain-\(UUID().uuidString.prefix(8))"
        let plain = try mqttctl(
            ["pub", "-L", "mqtt://127.0.0.1:\(plainBroker.port)/\(uniqueTopic())", "-m", "x", "-i", plainID, "-d"],
            environment: config.environment())
        #expect(plain.status == 0, "\(plain)")
        #expect(brokerSaw(plainBroker, "as \(plainID) ("), "the URL's plain broker: \(plainBroker.log)")
        #expect(!plain.stderr.contains("default from"), "no TLS, host or port default: \(plain)")
    }

    @Test func aClientIDOnTheCommandLineReplacesADefaultPrefix() throws {
        let broker = try TestBroker.standard()
        let prefix = "prefix-\(UUID().uuidString.prefix(6))-"
        let config = try Config("-I \(prefix)\n")
        let id = "explicit-\(UUID().uuidString.prefix(6))"
        let result = try mqttctl(
            [
                "pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-i", id,
                "-t", uniqueTopic(), "-m", "x",
            ], environment: config.environment())
        #expect(result.status == 0, "\(result)")
        #expect(brokerSaw(broker, "as \(id) ("), "the broker saw the command line's id: \(broker.log)")
        #expect(!broker.log.contains("as \(prefix)"), "no id from the file's prefix: \(broker.log)")
    }

    /// A default unix socket gives way to -h/-p on the command line, and the reverse.
    @Test func aDefaultUnixSocketAndTheCommandLinesHost() throws {
        let broker = try TestBroker.unixSocket()
        let socket = try #require(broker.socketPath)
        let unixConfig = try Config("--unix /nonexistent/mosquitto.sock\n--nodelay\n")
        let tcp = try mqttctl(
            ["pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", uniqueTopic(), "-m", "x"],
            environment: unixConfig.environment())
        #expect(tcp.status == 0, "\(tcp)")
        let hostConfig = try Config("-h nowhere.invalid\n-p 1\n")
        let unix = try mqttctl(
            ["pub", "--unix", socket, "-t", uniqueTopic(), "-m", "x"], environment: hostConfig.environment())
        #expect(unix.status == 0, "\(unix)")
    }

    @Test func homeIsUsedWithoutXDGConfigHome() throws {
        let broker = try TestBroker.standard()
        let scratch = try ScratchDirectory()
        try scratch.write(".config/mqttctl/config", "-h 127.0.0.1\n-p \(broker.port)\n")
        let result = try mqttctl(
            ["pub", "-t", uniqueTopic(), "-m", "x"], environment: ["XDG_CONFIG_HOME": "", "HOME": scratch.url.path])
        #expect(result.status == 0, "\(result)")
    }

    @Test func pingAndTheProbesTakeDefaultsToo() throws {
        let broker = try TestBroker.standard()
        let environment = ["MQTTCTL_HOST": "127.0.0.1", "MQTTCTL_PORT": "\(broker.port)"]
        let ping = try mqttctl(["ping", "-C", "1", "--json"], environment: environment)
        #expect(ping.status == 0, "\(ping)")
        let takeover = try mqttctl(["probe", "takeover", "--json"], environment: environment)
        #expect(takeover.status == 0, "\(takeover)")
        #expect(
            takeover.stdout.contains("\"old_closed\": true") || takeover.stdout.contains("\"old_closed\":true"),
            "\(takeover)")
    }

    /// Each subcommand declares which defaulted option groups it has (so no
    /// reflection runs at start-up); reflection here checks the declarations.
    @Test func declaredOptionGroupsMatchTheCommands() {
        func reflectedOwners(of command: ParsableCommand.Type) -> Defaults.Owners {
            var owners: Defaults.Owners = []
            for child in Mirror(reflecting: command.init()).children {
                if child.value is OptionGroup<ConnectionOptions> { owners.insert(.connection) }
                if child.value is OptionGroup<TransportOptions> { owners.insert(.transport) }
                if child.value is OptionGroup<KeepAliveOption> { owners.insert(.keepAlive) }
            }
            return owners
        }
        func check(_ command: ParsableCommand.Type) {
            #expect(Defaults.declaredOwners(of: command) == reflectedOwners(of: command), "\(command)")
            command.configuration.subcommands.forEach(check)
        }
        MQTTCtl.configuration.subcommands.forEach(check)
    }
}
