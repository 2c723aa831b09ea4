import Testing
@testable import mqttctl
import Mosquitto
import ArgumentParser

/// The two groups every connecting subcommand declares, parsed from one argv.
struct ConnectionGroups: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var transport: TransportOptions
}

/// `makeConnectOptions` as the pure function it is: options in, settings out.
@Suite struct ConnectionResolutionTests {
    let inputs = ConnectionInputs(processID: 4242, passwordFromFile: "from-file")

    func resolve(
        _ arguments: [String], version: ProtocolVersion = .v311, keepAlive: Int = 60
    ) throws -> ResolvedConnection {
        let groups = try ConnectionGroups.parse(arguments)
        return try groups.connection.makeConnectOptions(
            transport: groups.transport, keepAlive: keepAlive, protocolVersion: version, will: nil,
            properties: nil, inputs: inputs)
    }

    @Test func theURLGivesWayToHostPortAndCredentialsGivenApart() throws {
        let url = try resolve(["-L", "mqtts://alice:pw@broker.example:8884/a/b"])
        #expect(url.options.host == "broker.example" && url.options.port == 8884 && url.urlTopic == "a/b")
        #expect(url.options.username == "alice" && url.options.password == "pw" && url.options.tls != nil)
        let given = try resolve([
            "-L", "mqtt://alice:pw@broker.example/t", "-h", "other", "-p", "1999", "-u", "bob", "-P", "x",
        ])
        #expect(given.options.host == "other" && given.options.port == 1999)
        #expect(given.options.username == "bob" && given.options.password == "x" && given.options.tls == nil)
    }

    @Test func portsDefaultByTransport() throws {
        #expect(try resolve([]).options.port == 1883)
        #expect(try resolve(["--cafile", "/etc/hostname"]).options.port == 8883)
        #expect(try resolve(["-L", "mqtts://h/t"]).options.port == 8883)
    }

    /// -P, else the URL's password, else the password file's (read by the caller).
    @Test func thePasswordsOrder() throws {
        #expect(try resolve(["-u", "u", "--password-file", "pw"]).options.password == "from-file")
        #expect(try resolve(["-u", "u", "-P", "cli", "--password-file", "pw"]).options.password == "cli")
        #expect(try resolve(["-L", "mqtt://u:url@h/t", "--password-file", "pw"]).options.password == "url")
        #expect(throws: CommandFailure.self) { try resolve(["-P", "x"]) }
        #expect(try resolve(["-P", "x"], version: .v5).options.password == "x")
    }

    @Test func idsSessionsAndTheWarning() throws {
        #expect(try resolve(["-I", "app-"]).options.clientID == "app-4242")
        #expect(try resolve(["-i", "me", "-c"]).options.cleanSession == false)
        #expect(try resolve(["-c", "-i", "me"], version: .v5).options.sessionExpiry == UInt32.max)
        #expect(try resolve(["-x", "never", "-i", "me"], version: .v5).options.sessionExpiry == UInt32.max)
        #expect(throws: CommandFailure.self) { try resolve(["-x", "10"]) }
        #expect(throws: CommandFailure.self) { try resolve(["-i", String(repeating: "a", count: 24)], version: .v31) }
        #expect(try resolve([]).warning == nil)
        let insecure = try resolve(["--cafile", "/etc/hostname", "--insecure", "-h", "b.example"])
        #expect(insecure.warning?.contains("'b.example'") == true)
        #expect(try resolve([], keepAlive: 0).options.keepAlive == 0)
    }

    /// -L is parsed once, when read; its refusal never shows the password.
    @Test func aBadURLIsRefusedWithoutItsPassword() {
        do {
            _ = try TransportOptions.parse(["-L", "mqtt://u:topsecret@h:0/t"])
            Issue.record("port 0 accepted")
        } catch {
            let message = TransportOptions.message(for: error)
            #expect(message.contains("invalid URL") && !message.contains("topsecret"), "\(message)")
        }
    }
}
