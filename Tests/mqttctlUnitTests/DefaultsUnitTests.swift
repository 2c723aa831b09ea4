import Foundation
import Testing
@testable import mqttctl
import ArgumentParser

/// `Defaults` without a process: its option table against the parser's own
/// declarations, and the precedence of command line, environment and file.
@Suite struct DefaultsUnitTests {
    /// Every option of the defaulted groups is in the table, spelled and typed as
    /// declared, or deliberately command-line only; nothing in the table is undeclared.
    /// (The table is not derived at run time: that would cost every start.)
    @Test func theTableIsTheParsersOwn() throws {
        let groups: [(ParsableArguments.Type, Defaults.Owners)] = [
            (ConnectionOptions.self, .connection), (TransportOptions.self, .transport),
            (KeepAliveOption.self, .keepAlive),
        ]
        var covered = Set<String>()
        for (group, owner) in groups {
            for option in try declaredOptions(group) where !option.names.contains("--help") {
                let longs = option.names.filter { $0.hasPrefix("--") }
                let shorts = option.names.filter { !$0.hasPrefix("--") }.compactMap { $0.last }
                if let commandLineOnly = option.names.first(where: Defaults.commandLineOnly.contains) {
                    covered.insert(commandLineOnly)
                    continue
                }
                guard let spec = Defaults.specs.first(where: { longs.contains($0.long) }) else {
                    Issue.record("\(option.names) is neither in Defaults.specs nor in Defaults.commandLineOnly")
                    continue
                }
                covered.insert(spec.long)
                #expect(spec.kind.takesValue == option.takesValue, "\(spec.long)")
                #expect(spec.short == shorts.first && shorts.count <= 1, "\(spec.long): declared \(shorts)")
                #expect(spec.owner == owner, "\(spec.long)")
                for other in longs where other != spec.long {
                    #expect(Defaults.aliases[other] == spec.long, "\(other) should be an alias of \(spec.long)")
                }
            }
        }
        #expect(covered.count == Defaults.specs.count + Defaults.commandLineOnly.count)
        let listed = Set(Defaults.specs.map(\.long)).union(Defaults.commandLineOnly)
        #expect(listed == covered, "listed but not declared: \(listed.subtracting(covered))")
        for (alias, long) in Defaults.aliases { #expect(Defaults.spec(named: alias)?.long == long) }
    }

    /// The options argv scans skip the value of (`Defaults`, `-D` grouping) are
    /// exactly those that take one in some subcommand, as the parser declares them.
    @Test func theValueOptionsAreTheParsersOwn() throws {
        let json = try #require(MQTTCtl._dumpHelp().data(using: .utf8))
        let root = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        var names = Set<String>()
        func walk(_ command: [String: Any]) {
            for argument in command["arguments"] as? [[String: Any]] ?? [] where argument["kind"] as? String == "option"
            {
                for name in argument["names"] as? [[String: Any]] ?? [] {
                    guard let text = name["name"] as? String else { continue }
                    names.insert((name["kind"] as? String == "short" ? "-" : "--") + text)
                }
            }
            (command["subcommands"] as? [[String: Any]] ?? []).forEach(walk)
        }
        walk(try #require(root["command"] as? [String: Any]))
        #expect(names.contains("--topic-prefix") && names.contains("-k"))
        #expect(
            names == Set(ArgumentPreprocessor.valueOptions),
            "missing: \(names.subtracting(ArgumentPreprocessor.valueOptions)), extra: \(Set(ArgumentPreprocessor.valueOptions).subtracting(names))"
        )
    }

    /// `takesValue` is a binary search: the list must be sorted, without repeats.
    @Test func theValueOptionsAreSortedForTheSearch() {
        let options = ArgumentPreprocessor.valueOptions
        #expect(options == options.sorted())
        #expect(Set(options).count == options.count)
        for option in options { #expect(ArgumentPreprocessor.takesValue(option)) }
        for other in ["", "-", "--", "-r", "--retain", "--hostx", "-hh", "~", "--zzz"] {
            #expect(!ArgumentPreprocessor.takesValue(other), "\(other)")
        }
    }

    func entry(_ option: String, _ value: String? = "v", from origin: String) -> Defaults.Entry {
        Defaults.Entry(option: option, value: value, origin: origin)
    }

    func layered(
        _ commandLine: [String], environment: [Defaults.Entry], file: [Defaults.Entry],
        owners: Defaults.Owners = [.connection, .transport, .keepAlive]
    ) throws -> [String] {
        let scan = Defaults.scanCommandLine(commandLine)
        return try Defaults.layered(scan: scan, environment: environment, file: file, owners: owners).map(\.argument)
    }

    @Test func theCommandLineWinsOverTheEnvironmentWhichWinsOverTheFile() throws {
        let file = [
            entry("--host", "file-host", from: "f:1"), entry("--port", "1884", from: "f:2"),
            entry("--keepalive", "30", from: "f:3"),
        ]
        let environment = [entry("--host", "env-host", from: "MQTTCTL_HOST")]
        // The file's host is dropped by the environment's; its port and keep-alive stay.
        #expect(
            try layered([], environment: environment, file: file) == [
                "--port=1884", "--keepalive=30", "--host=env-host",
            ])
        // The command line's -h drops both hosts; -k drops the file's keep-alive.
        #expect(try layered(["-h", "cli", "-k", "10"], environment: environment, file: file) == ["--port=1884"])
        // A subcommand without -k skips the file's.
        #expect(
            try layered([], environment: [], file: file, owners: [.connection]) == ["--host=file-host", "--port=1884"])
    }

    @Test func optionsForTheSameThingGiveWayTogether() throws {
        let file = [
            entry("--password", "p", from: "f:1"), entry("--id-prefix", "x", from: "f:2"),
            entry("--psk", "ab", from: "f:3"),
            entry("--psk-identity", "i", from: "f:4"), entry("--unix", "/s", from: "f:5"),
        ]
        #expect(try layered(["--password-file", "pw"], environment: [], file: file).contains("--password=p") == false)
        #expect(try layered(["-i", "me"], environment: [], file: file).contains("--id-prefix=x") == false)
        let certificates = try layered(["--cafile", "ca.pem"], environment: [], file: file)
        #expect(!certificates.contains("--psk=ab") && !certificates.contains("--psk-identity=i"))
        #expect(try layered(["-p", "1883"], environment: [], file: file).contains("--unix=/s") == false)
        // An mqtt:// URL drops the default host, port, password and every TLS default.
        let tlsFile = [
            entry("--host", "h", from: "f:1"), entry("--cafile", "ca", from: "f:2"), entry("--ws", nil, from: "f:3"),
        ]
        #expect(
            try layered(
                ["-L", "mqtt://u:p@broker/t"], environment: [entry("--password", "e", from: "MQTTCTL_PASSWORD")],
                file: tlsFile) == [])
        #expect(try layered(["-L", "ws://broker/t"], environment: [], file: tlsFile) == ["--ws"])
    }

    /// An environment value is checked only when it is used, and then named.
    @Test func environmentValuesAreCheckedWhenUsed() throws {
        let bad = [entry("--port", "eighty", from: "MQTTCTL_PORT")]
        #expect(try layered(["-p", "1883"], environment: bad, file: []) == [])
        do {
            _ = try layered([], environment: bad, file: [])
            Issue.record("MQTTCTL_PORT=eighty accepted")
        } catch {
            #expect(
                (error as? CommandFailure)?.message
                    == "MQTTCTL_PORT: invalid port 'eighty': use a number from 1 to 65535")
        }
    }

    @Test func configLinesAreCheckedByTheOptionsOwnType() throws {
        let entries = try Defaults.parseConfig(
            Array("# c\n-p 1884\n--keepalive=0\n-V mqttv5\n--insecure\n".utf8), path: "cfg")
        #expect(entries.map(\.argument) == ["--port=1884", "--keepalive=0", "--protocol=mqttv5", "--insecure"])
        #expect(entries.map(\.origin) == ["cfg:2", "cfg:3", "cfg:4", "cfg:5"])
        for (text, message) in [
            ("-p 0\n", "cfg:1: invalid port '0'"), ("-k 4\n", "cfg:1: invalid keep-alive '4'"),
            ("--protocol-version 4\n", "cfg:1: invalid protocol version '4'"),
            ("--tls-version x\n", "cfg:1: invalid --tls-version 'x'"),
            ("--psk secret!\n", "cfg:1: invalid --psk: use the key in hexadecimal"),
            ("--connect-timeout 0\n", "cfg:1: invalid --connect-timeout '0'"),
            ("--topic-prefix a\n", "cfg:1: '--topic-prefix' is not accepted in the config file"),
        ] {
            do {
                _ = try Defaults.parseConfig(Array(text.utf8), path: "cfg")
                Issue.record("\(text) accepted")
            } catch {
                #expect(error.message.hasPrefix(message), "\(error.message)")
                #expect(!error.message.contains("secret!"))
            }
        }
    }

    /// A -P value that looks like an option is joined to it, so it is never read as one.
    @Test func thePasswordIsJoinedToItsOption() {
        let scan = Defaults.scanCommandLine(["-P", "-k", "-t", "a", "--pw", "x y"])
        #expect(scan.rewritten == ["--password=-k", "-t", "a", "--password=x y"])
        #expect(scan.options == ["--password"])
    }
}
