import Foundation
import Testing

/// How sub decides what to print and when to stop: -C, -W, -E, -U, -T, -R,
/// --retained-only, --remove-retained, closed pipes, signals, --reconnect.
@Suite struct SubscribeControlTests {
    @Test func timeoutExitsWith27AndPrintsWhatArrived() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let start = Date()
        let result = try mqttctl(["sub", "-p", "\(broker.port)", "-t", topic, "-W", "1"])
        #expect(result.status == 27, "\(result)")
        #expect(result.stderr.contains("timed out after 1 s"), "\(result)")
        #expect(Date().timeIntervalSince(start) < 60)
    }

    @Test func countBeatsTimeout() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let sub = try startSubscriber(["-p", "\(broker.port)", "-t", topic, "-C", "2", "-W", "30"])
        _ = try mqttctl(["pub", "-p", "\(broker.port)", "-t", topic, "-m", "a", "--repeat", "3"])
        let result = sub.wait(timeout: 20)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "a\na\n")
    }

    @Test func exitAfterSubscribeAndUnsubscribe() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let result = try mqttctl(["sub", "-p", "\(broker.port)", "-t", topic, "-E", "-d"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("received SUBACK"), "-d shows libmosquitto's log on stderr")
        let unsub = try mqttctl(["sub", "-p", "\(broker.port)", "-t", topic, "-U", topic, "-E", "-d"])
        #expect(unsub.status == 0, "\(unsub)")
        #expect(unsub.stderr.contains("received UNSUBACK"), "\(unsub)")
    }

    @Test func filterOutAndRetainedHandling() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        #expect(
            try mqttctl(["pub", "-p", "\(broker.port)", "-t", "\(topic)/old", "-r", "-q", "1", "-m", "stale"]).status
                == 0)
        // -R: the retained message is not printed; -T: topics matching the filter are not printed.
        let sub = try startSubscriber([
            "-p", "\(broker.port)", "-t", "\(topic)/#", "-R", "-T", "\(topic)/noise/#", "-C", "1", "-v",
        ])
        _ = try mqttctl(["pub", "-p", "\(broker.port)", "-t", "\(topic)/noise/a", "-m", "n"])
        _ = try mqttctl(["pub", "-p", "\(broker.port)", "-t", "\(topic)/new", "-m", "fresh"])
        let result = sub.wait(timeout: 10)
        #expect(result.stdout == "\(topic)/new fresh\n", "\(result)")

        // --retained-only prints the retained message and stops at the first live one.
        let only = try startSubscriber(["-p", "\(broker.port)", "-t", "\(topic)/#", "--retained-only", "-v"])
        #expect(only.waitFor { out, _ in out.contains("stale") })
        _ = try mqttctl(["pub", "-p", "\(broker.port)", "-t", "\(topic)/new", "-m", "live"])
        let onlyResult = only.wait(timeout: 10)
        #expect(onlyResult.status == 0, "\(onlyResult)")
        #expect(onlyResult.stdout == "\(topic)/old stale\n")

        // --remove-retained clears it: a later subscriber sees nothing retained.
        let remove = try mqttctl(["sub", "-p", "\(broker.port)", "-t", "\(topic)/#", "--remove-retained", "-C", "1"])
        #expect(remove.status == 0, "\(remove)")
        #expect(remove.stdout == "stale\n")
        let after = try mqttctl(["sub", "-p", "\(broker.port)", "-t", "\(topic)/#", "--retained-only", "-W", "1"])
        #expect(after.status == 27)
        #expect(after.stdout.isEmpty, "\(after)")
    }

    @Test func closedPipeEndsQuietlyWithStatus141() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let script =
            "\(mqttctlPath()) sub -p \(broker.port) -t '\(topic)' -q 1 | head -1; echo \"status=${PIPESTATUS[0]}\" >&2"
        let out = makePipe()
        let err = makePipe()
        let process = try ChildProcess(
            "/bin/bash", ["-c", script], environment: ProcessInfo.processInfo.environment,
            stdin: nil, stdout: out.fileHandleForWriting.fileDescriptor,
            stderr: err.fileHandleForWriting.fileDescriptor)
        try out.fileHandleForWriting.close()
        try err.fileHandleForWriting.close()
        // Keep publishing until the pipeline ends (head exits after one line, the next write hits EPIPE).
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline {
            _ = try mqttctl(["pub", "-p", "\(broker.port)", "-t", topic, "-q", "1", "-m", "line", "--repeat", "20"])
        }
        process.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "line\n")
        // Quiet, and 141 as for a tool killed by SIGPIPE (`yes | head -1`).
        #expect(stderr == "status=141\n", "\(stderr)")
    }

    @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
    func signalsDisconnectCleanly(signal: Int32, status: Int32) throws {
        let broker = try TestBroker.standard()
        let id = "sig-\(UUID().uuidString.prefix(8))"
        let sub = try startSubscriber(["-p", "\(broker.port)", "-t", uniqueTopic(), "-i", id])
        sub.signal(signal)
        let result = sub.wait(timeout: 10)
        #expect(result.status == status, "\(result)")
        #expect(result.stderr.contains("error") == false, "\(result)")
        // mosquitto logs "disconnected." for a DISCONNECT, "closed its connection." otherwise.
        #expect(
            waitUntil(timeout: 5) { broker.log.contains("Client \(id) disconnected.") }, "\(broker.log.suffix(500))")
    }

    @Test func brokerGoingAwayIsConnectionLost() throws {
        let broker = try TestBroker(name: "sub-lost")
        let sub = try startSubscriber(["-p", "\(broker.port)", "-t", "x"])
        broker.stop()
        let result = sub.wait(timeout: 20)
        #expect(result.status == 7, "\(result)")
        #expect(result.stderrLines.filter { $0.hasPrefix("mqttctl:") }.count == 1, "\(result)")
    }

    @Test func reconnectRestoresTheSubscription() throws {
        let first = try TestBroker(name: "reconnect-a")
        let port = first.port
        let topic = uniqueTopic()
        let sub = try startSubscriber(["-p", "\(port)", "-t", topic, "-C", "1", "--reconnect"])
        first.stop()
        #expect(sub.waitFor(timeout: 10) { _, err in err.contains("reconnecting in") }, "\(sub.stderr)")
        let second = try TestBroker(name: "reconnect-b", port: port)
        #expect(
            sub.waitFor(timeout: 30) { _, err in err.components(separatedBy: "received SUBACK").count > 2 },
            "\(sub.stderr)")
        _ = try mqttctl(["pub", "-p", "\(second.port)", "-t", topic, "-m", "after"])
        let result = sub.wait(timeout: 20)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "after\n")
        second.stop()
    }
}
