import Foundation
import Testing

/// Endings that used to blame the wrong thing or say something false: one
/// line, the right code, true words.
@Suite struct TruthfulEndingTests {
    func expectUsageError(_ result: RunResult, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 2, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderrLines.count == 1, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("mqttctl: error: "), "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(text), "expected '\(text)' in \(result)", sourceLocation: sourceLocation)
    }

    /// Values MQTT 5 forbids are usage errors found before connecting, not a
    /// broker closing the connection (which used to give 7 or 8).
    @Test(arguments: [
        (
            ["pub", "-t", "a", "-m", "x", "-D", "publish", "topic-alias", "0"],
            "-D publish topic-alias 0: use 1 to 65535"
        ),
        (
            ["pub", "-t", "a", "-m", "x", "-D", "connect", "receive-maximum", "0"],
            "-D connect receive-maximum 0: use 1 to 65535"
        ),
        (
            ["pub", "-t", "a", "-m", "x", "-D", "connect", "maximum-packet-size", "0"],
            "-D connect maximum-packet-size 0"
        ),
        (
            ["sub", "-t", "a", "-D", "subscribe", "subscription-identifier", "0"],
            "-D subscribe subscription-identifier 0"
        ),
        (["pub", "-t", "a", "-m", "x", "-D", "publish", "response-topic", "a/#"], "a response topic is a topic name"),
        (
            ["pub", "-t", "a", "-m", "x", "--will-topic", "w", "-D", "will", "response-topic", "a/+"],
            "a response topic is a topic name"
        ),
        (["pub", "-t", "a", "-m", "x", "-D", "publish", "content-type", "a\tb"], "not valid MQTT UTF-8"),
        (["pub", "-t", "a", "-m", "x", "-D", "connect", "request-problem-information", "2"], "use 0 or 1"),
    ])
    func invalidPropertyValuesAreUsageErrors(arguments: [String], text: String) throws {
        let closedPort = try TestBroker.freePort()
        expectUsageError(try mqttctl(arguments + ["-p", "\(closedPort)"]), text)
    }

    @Test func aTopicAliasBeyondTheBrokersMaximumIsAUsageError() throws {
        let broker = try TestBroker.standard()  // Topic Alias Maximum 10
        let result = try mqttctl([
            "pub", "-p", "\(broker.port)", "-t", uniqueTopic(), "-m", "x", "-D", "publish", "topic-alias", "11",
        ])
        expectUsageError(result, "the broker takes topic aliases 1 to 10 only")
        let fine = try mqttctl([
            "pub", "-p", "\(broker.port)", "-t", uniqueTopic(), "-m", "x", "-q", "1", "-D", "publish", "topic-alias",
            "10",
        ])
        #expect(fine.status == 0, "\(fine)")
    }

    @Test func anEmptyClientIDIsNamedAsSuch() throws {
        let result = try mqttctl(["pub", "-t", "a", "-m", "x", "-i", ""])
        expectUsageError(result, "-i: the client id is empty")
        #expect(!result.stderr.contains("clean session"), "\(result)")
    }

    @Test func aNULInAURLTopicIsRefusedAndNeverPrinted() throws {
        let result = try mqttctl(["pub", "-L", "mqtt://localhost/a%00b", "-m", "x"])
        expectUsageError(result, "bad percent-escape in the topic")
        #expect(!result.stderr.utf8.contains(0), "\(result)")
    }

    @Test func controlCharactersInAQuotedValueStayOnOneLine() throws {
        let result = try mqttctl(["pub", "-t", "a\nb\u{1}", "-m", "x"])
        expectUsageError(result, "the topic 'a\\nb\\x01' is not valid MQTT UTF-8")
    }

    @Test func theCommandLineWinsOverABadEnvironmentValue() throws {
        let broker = try TestBroker.standard()
        let ok = try mqttctl(
            ["pub", "-p", "\(broker.port)", "-t", uniqueTopic(), "-m", "x"], environment: ["MQTTCTL_PORT": "abc"])
        #expect(ok.status == 0, "\(ok)")
        let used = try mqttctl(["pub", "-t", uniqueTopic(), "-m", "x"], environment: ["MQTTCTL_PORT": "abc"])
        expectUsageError(used, "MQTTCTL_PORT: invalid port 'abc'")
    }

    @Test func aPasswordFileThatIsNoFileGetsNoChmodAdvice() throws {
        let result = try mqttctl(["pub", "-t", "a", "-m", "x", "-u", "user", "--password-file", "/dev/null"])
        expectUsageError(result, "the password file '/dev/null' has an empty first line")
        #expect(!result.stderr.contains("chmod"), "\(result)")
    }
}
