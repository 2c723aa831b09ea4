import Foundation
import Testing

/// pub's input, however hostile: a line that never ends, a closed stdin, a
/// directory, more than a payload can hold. One line, status 2 (the same cause,
/// the same code), bounded memory, never a hang or a trap.
@Suite struct PublishInputTests {
    /// A broker that takes packets of at most 1000 bytes (announced to MQTT 5 clients).
    static func smallPacketBroker() throws -> TestBroker {
        try TestBroker.named("max_packet_size_1000", config: "max_packet_size 1000\n")
    }

    func expectOneLine(
        _ result: RunResult, status: Int32, _ text: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(result.status == status, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderrLines.count == 1, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(text), "expected '\(text)' in \(result)", sourceLocation: sourceLocation)
        #expect(!result.timedOut, sourceLocation: sourceLocation)
    }

    @Test func aLineThatNeverEndsIsRefusedAtTheLimit() throws {
        let broker = try TestBroker.standard()
        let result = try mqttctlMeasuringMemory(
            ["pub", "-p", "\(broker.port)", "-t", uniqueTopic(), "-l"], timeout: 120,
            stdinRedirect: .path("/dev/zero"))
        expectOneLine(result, status: 2, "line 1 of stdin is longer than 268435455 bytes, the largest MQTT payload")
        // The line buffer stops at the limit (it once doubled past it, and then aborted).
        #expect(result.maxRSS < 400_000, "peak \(result.maxRSS) KiB")
    }

    @Test func theBrokersMaximumPacketSizeIsTheLimit() throws {
        let broker = try Self.smallPacketBroker()
        let topic = uniqueTopic()
        let zero = try mqttctlMeasuringMemory(
            ["pub", "-p", "\(broker.port)", "-V", "5", "-t", topic, "-l"], timeout: 60,
            stdinRedirect: .path("/dev/zero"))
        expectOneLine(zero, status: 2, "(Maximum Packet Size 1000)")
        #expect(zero.maxRSS < 100_000, "peak \(zero.maxRSS) KiB")

        // Lines before the long one are delivered (and acknowledged) first.
        let sub = try startSubscriber(["-p", "\(broker.port)", "-t", topic, "-q", "1", "-C", "2"])
        let long = String(repeating: "x", count: 2000)
        // 1000 = 1 (type) + 2 (remaining length) + 2 + topic + 2 (message id) + 1 (no properties) + payload
        let largest = 1000 - 1 - 2 - 2 - topic.utf8.count - 2 - 1
        let lines = try mqttctl(
            ["pub", "-p", "\(broker.port)", "-V", "5", "-t", topic, "-q", "1", "-l"],
            stdin: Data("one\ntwo\n\(long)\nfour\n".utf8))
        expectOneLine(
            lines, status: 2,
            "line 3 of stdin is longer than \(largest) bytes, the largest payload the broker takes on '\(topic)'")
        #expect(lines.stderr.contains("the 2 lines before it were sent and acknowledged"), "\(lines)")
        #expect(sub.wait(timeout: 10).stdout == "one\ntwo\n")

        let file = try mqttctl(
            ["pub", "-p", "\(broker.port)", "-V", "5", "-t", topic, "-q", "1", "-s"], stdin: Data(long.utf8))
        expectOneLine(file, status: 2, "the message is 2000 bytes, more than \(largest) bytes")
    }

    @Test(arguments: ["-l", "-s"])
    func aClosedStdinIsAnErrorNotAHang(mode: String) throws {
        let broker = try TestBroker.standard()
        let result = try mqttctl(
            ["pub", "-p", "\(broker.port)", "-t", uniqueTopic(), mode], timeout: 20, stdinRedirect: .closed)
        expectOneLine(result, status: 2, "stdin is closed, and \(mode) reads the message")
    }

    @Test(arguments: ["-l", "-s"])
    func aDirectoryAsStdinIsTheSameUsageError(mode: String) throws {
        let broker = try TestBroker.standard()
        let result = try mqttctl(
            ["pub", "-p", "\(broker.port)", "-t", uniqueTopic(), mode], timeout: 20, stdinRedirect: .path("/tmp"))
        expectOneLine(result, status: 2, "cannot read stdin: it is a directory")
    }

    @Test func aRepeatThatLosesTheConnectionCountsWhatWasNeverSent() throws {
        let peer = try RawPeer(.connackThenIgnore)
        let pub = try RunningCommand(["pub", "-p", "\(peer.port)", "-t", "a", "-q", "1", "-m", "x", "--repeat", "50"])
        // 20 in flight (-M), none acknowledged; then the connection goes.
        #expect(waitUntil(timeout: 20) { peer.publishesReceived == 20 }, "\(peer.publishesReceived) publishes")
        peer.close()
        let result = pub.wait(timeout: 20)
        expectOneLine(result, status: 8, "50 of 50 messages were not acknowledged (30 never sent)")
    }

    @Test(arguments: [
        (["pub", "-t", "a", "-m", "x", "--repeat", "99999999999999999999"], "--repeat"),
        (["sub", "-t", "a", "-C", "99999999999999999999"], "-C"),
        (["sub", "-t", "a", "-W", "1e300"], "-W 1e+300: use at most 31536000 seconds"),
        (["pub", "-t", "a", "-m", "x", "--connect-timeout", "1e300"], "--connect-timeout"),
        (["pub", "-t", "a", "-m", "x", "--repeat-delay", "1e300"], "--repeat-delay"),
        (["pub", "-t", "a", "-m", "x", "--ack-timeout", "1e300"], "--ack-timeout"),
        (["ping", "--interval", "1e300"], "--interval"),
        (["ping", "-W", "1e300"], "-W"),
        (["pub", "-t", "a", "-m", "x", "-M", "99999999999999999999"], "-M"),
    ])
    func hugeCountsAndDurationsAreOneLine(arguments: [String], text: String) throws {
        let result = try mqttctl(arguments, timeout: 20)
        expectOneLine(result, status: 2, text)
    }
}
