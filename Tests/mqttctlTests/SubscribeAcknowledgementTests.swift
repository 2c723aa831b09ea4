import Foundation
import Testing

/// sub acknowledges a message only once its output was written: a full disk, a
/// closed stdout or a reader that went away never cost a message of a
/// persistent session, and the exit status says what happened, with counts.
@Suite struct SubscribeAcknowledgementTests {
    /// A persistent session with `messages` queued for it while it was offline.
    func queuedSession(
        _ broker: TestBroker, qos: Int, version: String = "311", messages: [String],
        name: String = #function
    ) throws -> [String] {
        let id = "ack-\(name.filter { $0.isLetter }.prefix(20))-\(UUID().uuidString.prefix(8))"
        let topic = uniqueTopic(name)
        let base = ["sub", "-p", "\(broker.port)", "-V", version, "-c", "-i", id, "-q", "\(qos)", "-t", topic]
        let create = try mqttctl(base + ["-E"])
        #expect(create.status == 0, "\(create)")
        let pub = try mqttctl(
            ["pub", "-p", "\(broker.port)", "-t", topic, "-q", "\(qos)", "-l"],
            stdin: Data((messages.joined(separator: "\n") + "\n").utf8))
        #expect(pub.status == 0, "\(pub)")
        return base
    }

    static let failingOutputs: [(String, Redirect)] = [("/dev/full", .path("/dev/full")), ("closed", .closed)]

    @Test(arguments: failingOutputs)
    func countedMessageThatCannotBeWrittenIsNotAcknowledged(name: String, output: Redirect) throws {
        let broker = try TestBroker.standard()
        let session = try queuedSession(broker, qos: 1, messages: ["msg1", "msg2", "msg3"])
        let failed = try mqttctl(session + ["-C", "1", "-W", "10"], stdoutRedirect: output)
        #expect(failed.status == 1, "\(failed)")
        #expect(failed.stderrLines.count == 1, "\(failed)")
        #expect(failed.stderr.hasPrefix("mqttctl: error: cannot write to stdout: "), "\(failed)")
        #expect(failed.stderr.contains(name == "closed" ? "it is closed" : "No space left on device"), "\(failed)")
        #expect(failed.stderr.contains("1 message was received and not written, and not acknowledged"), "\(failed)")
        // msg1 is still there: nothing was lost.
        let after = try mqttctl(session + ["-C", "3", "-W", "10"])
        #expect(after.status == 0, "\(after)")
        #expect(after.stdout == "msg1\nmsg2\nmsg3\n", "\(after)")
    }

    @Test(arguments: [["-W", "3"], []])
    func uncountedRunThatCannotWriteFailsWithStatus1(extra: [String]) throws {
        let broker = try TestBroker.standard()
        let session = try queuedSession(broker, qos: 1, messages: ["msg1", "msg2", "msg3"])
        let failed = try mqttctl(session + extra, timeout: 30, stdoutRedirect: .path("/dev/full"))
        // Status 1, not 27: -W never reports messages that did not reach stdout as received.
        #expect(failed.status == 1, "\(failed)")
        #expect(failed.stderrLines.count == 1, "\(failed)")
        #expect(failed.stderr.contains("received and not written, and not acknowledged"), "\(failed)")
        let after = try mqttctl(session + ["-C", "3", "-W", "10"])
        #expect(after.stdout == "msg1\nmsg2\nmsg3\n", "\(after)")
    }

    @Test func readerGoneEndsQuietlyWith141AndKeepsTheMessages() throws {
        let broker = try TestBroker.standard()
        let session = try queuedSession(broker, qos: 1, messages: ["msg1", "msg2"])
        // A pipe whose reader is gone before the first write: EPIPE at once.
        let pipe = makePipe()
        try pipe.fileHandleForReading.close()
        let gone = try mqttctl(
            session + ["-W", "10"], stdoutRedirect: .descriptor(pipe.fileHandleForWriting.fileDescriptor))
        try pipe.fileHandleForWriting.close()
        #expect(gone.status == 141, "\(gone)")
        #expect(gone.stderr.isEmpty, "\(gone)")
        let after = try mqttctl(session + ["-C", "2", "-W", "10"])
        #expect(after.stdout == "msg1\nmsg2\n", "\(after)")
    }

    @Test func qos2MessageThatCannotBeWrittenIsReportedLost() throws {
        let broker = try TestBroker.standard()
        let session = try queuedSession(broker, qos: 2, messages: ["msg1", "msg2", "msg3"])
        let failed = try mqttctl(session + ["-C", "1", "-W", "10"], stdoutRedirect: .path("/dev/full"))
        #expect(failed.status == 1, "\(failed)")
        #expect(failed.stderrLines.count == 1, "\(failed)")
        // libmosquitto acknowledged receipt (PUBREC) before it handed msg1 over: it is gone, and said so.
        #expect(failed.stderr.contains("1 message was received and not written and is lost (QoS 0 or 2)"), "\(failed)")
        // Only msg1 (whose PUBREC went out): -C 1 took no more.
        let after = try mqttctl(session + ["-C", "2", "-W", "10"])
        #expect(after.stdout == "msg2\nmsg3\n", "\(after)")
    }

    @Test func aQoS2ReleaseDueWhenTimeRunsOutIsAwaitedAndPrinted() throws {
        // PUBREL comes 1.5 s after PUBREC: after -W 1, within the 2 s grace.
        let peer = try RawPeer(.qos2Publisher(pubrelAfter: 1.5))
        let result = try mqttctl(["sub", "-p", "\(peer.port)", "-t", "t", "-q", "2", "-W", "1"], timeout: 20)
        #expect(result.status == 27, "\(result)")
        #expect(result.stdout == "held\n", "\(result)")
        #expect(result.stderrLines == ["mqttctl: error: timed out after 1 s (-W) with 1 message received"], "\(result)")
    }

    @Test func aQoS2MessageNeverReleasedIsReportedLost() throws {
        let peer = try RawPeer(.qos2Publisher(pubrelAfter: nil))
        let result = try mqttctl(["sub", "-p", "\(peer.port)", "-t", "t", "-q", "2", "-W", "1"], timeout: 20)
        #expect(result.status == 27, "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(
            result.stderr.contains(
                "1 QoS 2 message acknowledged to the broker (PUBREC) but not yet released by it (PUBREL) is lost"),
            "\(result)")
        #expect(result.runtime < 10, "the grace is 2 s, took \(result.runtime) s")
    }

    @Test func mqtt5QoS2BacklogBeyondTheInflightWindowArrivesWhole() throws {
        // mosquitto 2.0.11 sends more QoS 2 messages than the 20 in flight that
        // libmosquitto announces; that was a protocol error after 20 messages.
        let broker = try TestBroker.standard()
        let messages = (1...100).map(String.init)
        let session = try queuedSession(broker, qos: 2, version: "5", messages: messages)
        let result = try mqttctl(session + ["-C", "100", "-W", "20"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines == messages, "\(result.stderr)")
    }

    @Test(arguments: [["-W", "1"], []])
    func reconnectSaysNothingWhenTheRunEndsOnPurpose(extra: [String]) throws {
        let broker = try TestBroker.standard()
        if extra.isEmpty {
            for (sig, status) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
                let sub = try startSubscriber(["-p", "\(broker.port)", "-t", uniqueTopic(), "--reconnect"])
                sub.signal(sig)
                let result = sub.wait(timeout: 10)
                #expect(result.status == status, "\(result)")
                #expect(!result.stderr.contains("mqttctl:"), "\(result)")
            }
        } else {
            let result = try mqttctl(["sub", "-p", "\(broker.port)", "-t", uniqueTopic(), "--reconnect"] + extra)
            #expect(result.status == 27, "\(result)")
            #expect(
                result.stderrLines == ["mqttctl: error: timed out after 1 s (-W) with 0 messages received"], "\(result)"
            )
        }
    }

    @Test func reconnectDoesNotRetryAFirstConnectThatFailed() throws {
        let port = try TestBroker.freePort()
        let result = try mqttctl(["sub", "-p", "\(port)", "-t", "x", "--reconnect"], timeout: 20)
        #expect(result.status == 3, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(!result.stderr.contains("reconnecting"), "\(result)")
    }
}
