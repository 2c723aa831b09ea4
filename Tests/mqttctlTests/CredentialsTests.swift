import Foundation
import Testing

/// A scratch directory with files of chosen permissions, removed at deinit.
final class ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("mqttctl-scratch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `text` to `name` with `mode` and returns the path.
    @discardableResult
    func write(_ name: String, _ text: String, mode: mode_t = 0o600) throws -> String {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: file, atomically: false, encoding: .utf8)
        chmod(file.path, mode)
        return file.path
    }
}

/// Usernames and passwords: where the password comes from, refusals, and that it
/// is never printed.
@Suite struct CredentialsTests {
    let user = SecureBrokers.username
    let password = SecureBrokers.password

    func expectNoPassword(
        _ result: RunResult, _ secret: String = SecureBrokers.password,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(!result.stdout.contains(secret), "password on stdout: \(result)", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains(secret), "password on stderr: \(result)", sourceLocation: sourceLocation)
    }

    @Test func passwordOnTheCommandLine() throws {
        let broker = try SecureBrokers.passwords()
        let result = try mqttctl([
            "pub", "-p", "\(broker.port)", "-u", user, "-P", password, "-t", uniqueTopic(), "-m", "x", "-d",
        ])
        #expect(result.status == 0, "\(result)")
        expectNoPassword(result)
    }

    @Test func aPasswordStartingWithADashIsTakenAsAValue() throws {
        let broker = try SecureBrokers.passwords()
        let result = try mqttctl(["pub", "-p", "\(broker.port)", "-u", user, "-P", "-not-it", "-t", "t", "-m", "x"])
        #expect(result.status == 5, "\(result)")
        expectNoPassword(result, "-not-it")
    }

    @Test(arguments: ["31", "311", "5"])
    func wrongPasswordIsNotAuthorised(version: String) throws {
        let broker = try SecureBrokers.passwords()
        let secret = "wrong-\(UUID().uuidString.prefix(6))"
        let result = try mqttctl([
            "sub", "-p", "\(broker.port)", "-V", version, "-u", user, "-P", secret, "-t", "t", "-E", "-d",
        ])
        #expect(result.status == 5, "\(result)")
        #expect(result.stderr.contains("not authorised") || result.stderr.contains("Not authorized"), "\(result)")
        #expect(result.stderr.contains("check the username and password"), "\(result)")
        expectNoPassword(result, secret)
    }

    @Test func noCredentialsIsNotAuthorised() throws {
        let broker = try SecureBrokers.passwords()
        let result = try mqttctl(["pub", "-p", "\(broker.port)", "-t", "t", "-m", "x"])
        #expect(result.status == 5, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("not authorised"), "\(result)")
        #expect(result.stderr.contains("the broker wants credentials"), "\(result)")
    }

    /// mosquitto answers 5 / 0x87 for a bad password; a fake broker gives the other codes.
    @Test(arguments: [
        ("311", [0x20, 0x02, 0x00, 0x04] as [UInt8], "bad user name or password"),
        ("5", [0x20, 0x03, 0x00, 0x86, 0x00] as [UInt8], "Bad User Name or Password (0x86)"),
        ("5", [0x20, 0x03, 0x00, 0x87, 0x00] as [UInt8], "Not authorized (0x87)"),
    ])
    func refusalCodesForCredentials(version: String, connack: [UInt8], message: String) throws {
        let fake = try FakeBroker(reply: connack)
        let result = try mqttctl(
            ["pub", "-p", "\(fake.port)", "-V", version, "-u", user, "-P", password, "-t", "t", "-m", "x"], timeout: 20)
        #expect(result.status == 5, "\(result)")
        #expect(result.stderr.contains(message), "\(result)")
        expectNoPassword(result)
    }

    @Test func passwordFile() throws {
        let broker = try SecureBrokers.passwords()
        let scratch = try ScratchDirectory()
        // First line only; CRLF is fine.
        let file = try scratch.write("pw", "\(password)\r\nsecond line\n")
        let result = try mqttctl([
            "pub", "-p", "\(broker.port)", "-u", user, "--password-file", file, "-t", uniqueTopic(), "-m", "x", "-d",
        ])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("sending CONNECT"), "\(result)")
        expectNoPassword(result)
    }

    @Test func aPasswordFileOthersCanReadIsRefused() throws {
        let broker = try SecureBrokers.passwords()
        let scratch = try ScratchDirectory()
        let file = try scratch.write("pw", "\(password)\n", mode: 0o644)
        let result = try mqttctl([
            "pub", "-p", "\(broker.port)", "-u", user, "--password-file", file, "-t", "t", "-m", "x",
        ])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("readable by other users"), "\(result)")
        #expect(result.stderr.contains("chmod 600"), "\(result)")
        expectNoPassword(result)
    }

    @Test func aPasswordFileItsGroupCanReadGetsAWarning() throws {
        let broker = try SecureBrokers.passwords()
        let scratch = try ScratchDirectory()
        let file = try scratch.write("pw", "\(password)\n", mode: 0o640)
        let result = try mqttctl([
            "pub", "-p", "\(broker.port)", "-u", user, "--password-file", file, "-t", uniqueTopic(), "-m", "x",
        ])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.hasPrefix("mqttctl: warning: "), "\(result)")
        #expect(result.stderr.contains("readable by its group"), "\(result)")
    }

    @Test func missingOrEmptyPasswordFile() throws {
        let scratch = try ScratchDirectory()
        let empty = try scratch.write("empty", "\n")
        for (file, message) in [
            ("/nonexistent/pw", "cannot read --password-file '/nonexistent/pw'"), (empty, "empty first line"),
        ] {
            let result = try mqttctl(["pub", "-u", user, "--password-file", file, "-t", "t", "-m", "x"])
            #expect(result.status == 2, "\(result)")
            #expect(result.stderr.contains(message), "\(result)")
        }
    }

    @Test func passwordFromTheEnvironment() throws {
        let broker = try SecureBrokers.passwords()
        let result = try mqttctl(
            ["pub", "-p", "\(broker.port)", "-u", user, "-t", uniqueTopic(), "-m", "x", "-d"],
            environment: ["MQTTCTL_PASSWORD": password])
        #expect(result.status == 0, "\(result)")
        expectNoPassword(result)
    }

    /// -P, then --password-file, then MQTTCTL_PASSWORD: each wins over the next.
    @Test func passwordSourcesInOrder() throws {
        let broker = try SecureBrokers.passwords()
        let scratch = try ScratchDirectory()
        let good = try scratch.write("good", "\(password)\n")
        let bad = try scratch.write("bad", "file-wrong\n")
        let base = ["pub", "-p", "\(broker.port)", "-u", user, "-t", uniqueTopic(), "-m", "x"]
        let cases: [([String], [String: String], Int32)] = [
            (["-P", password, "--password-file", bad], ["MQTTCTL_PASSWORD": "env-wrong"], 0),
            (["-P", "cli-wrong", "--password-file", good], ["MQTTCTL_PASSWORD": password], 5),
            (["--password-file", good], ["MQTTCTL_PASSWORD": "env-wrong"], 0),
            (["--password-file", bad], ["MQTTCTL_PASSWORD": password], 5),
            ([], ["MQTTCTL_PASSWORD": password], 0),
        ]
        for (arguments, environment, status) in cases {
            let result = try mqttctl(base + arguments, environment: environment)
            #expect(result.status == status, "\(arguments) \(environment): \(result)")
            expectNoPassword(result)
        }
    }

    @Test func credentialsOverTLS() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.tlsPasswords()
        let scratch = try ScratchDirectory()
        let file = try scratch.write("pw", "\(password)\n")
        let topic = uniqueTopic()
        let connection = [
            "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile, "-u", user, "--password-file", file,
        ]
        let sub = try startSubscriber(connection + ["-t", topic, "-C", "1", "--json"])
        let pub = try mqttctl(["pub"] + connection + ["-t", topic, "-q", "1", "-m", "secure"], timeout: 20)
        #expect(pub.status == 0, "\(pub)")
        let result = sub.wait(timeout: 20)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("\"secure\""), "\(result)")
        expectNoPassword(result)
        let refused = try mqttctl(
            [
                "pub", "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile,
                "-u", user, "-P", "nope-\(password)", "-t", "t", "-m", "x",
            ], timeout: 20)
        #expect(refused.status == 5, "\(refused)")
    }

    @Test func aURLPasswordIsNeverShown() throws {
        let broker = try SecureBrokers.passwords()
        let secret = "url-secret-\(UUID().uuidString.prefix(6))"
        let refused = try mqttctl(["pub", "-L", "mqtt://\(user):\(secret)@127.0.0.1:\(broker.port)/t", "-m", "x", "-d"])
        #expect(refused.status == 5, "\(refused)")
        expectNoPassword(refused, secret)
        let invalid = try mqttctl(["pub", "-L", "mqtt://\(user):\(secret)@127.0.0.1:99999/t", "-m", "x"])
        #expect(invalid.status == 2, "\(invalid)")
        expectNoPassword(invalid, secret)
    }
}
