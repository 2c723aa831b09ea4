import Foundation
import Synchronization

/// The suite's second MQTT-over-WebSocket server, unlike ejabberd's:
/// `ws_relay.py` (Debian's python3-websockets) in front of a TestBroker
/// mosquitto, relaying each WebSocket connection to it byte for byte. Its
/// request path chooses what ejabberd never does: choosing no or another
/// subprotocol, refusing the upgrade with any HTTP status, a close frame with a
/// chosen code and reason right after CONNACK, wanting a header (see the
/// script's docstring).
///
/// It runs under the same shell watchdog as TestBroker's: when the test process
/// goes away, the pipe the watchdog holds closes and the relay is killed.
final class TestWebSocketRelay: Sendable {
    let port: Int
    /// The mosquitto behind it.
    let broker: TestBroker
    let logFile: URL
    private let process: SpawnedProcess
    private let lifeline: Pipe

    private static let shared = Mutex<TestWebSocketRelay?>(nil)

    /// One relay for the whole run, in front of TestBroker.standard().
    static func standard() throws -> TestWebSocketRelay {
        try shared.withLock { relay in
            if let relay { return relay }
            let started = try TestWebSocketRelay(broker: TestBroker.standard())
            relay = started
            return started
        }
    }

    static let python = "/usr/bin/python3"
    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("ws_relay.py").path
    }

    /// Whether Debian's python3-websockets is there (scripts/setup installs it).
    static var isInstalled: Bool {
        FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages/websockets/__init__.py")
    }

    init(broker: TestBroker) throws {
        guard Self.isInstalled else {
            throw BrokerError("python3-websockets is not installed (scripts/setup installs the Debian package)")
        }
        self.broker = broker
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mqttctl-wsrelay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        logFile = directory.appendingPathComponent("relay.log")
        var lastError: Error?
        for _ in 0..<5 {
            let port = try TestBroker.freePort()
            let lifeline = makePipe()
            let output = open(logFile.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            defer { close(output) }
            // As TestBroker's watchdog: when our end of the pipe closes, kill the relay.
            let script = "exec 3<&0; \"$@\" & pid=$!; (cat <&3 >/dev/null; kill -9 $pid 2>/dev/null) & wait $pid"
            let process = try SpawnedProcess(
                "/bin/sh",
                [
                    "-c", script, "sh", Self.python, "-u", Self.script,
                    "--port", "\(port)", "--broker-port", "\(broker.port)",
                ],
                stdin: lifeline.fileHandleForReading.fileDescriptor, stdout: output, stderr: output)
            if Self.waitUntilListening(port: port, process: process, log: logFile) {
                self.port = port
                self.process = process
                self.lifeline = lifeline
                return
            }
            try? lifeline.fileHandleForWriting.close()
            process.waitUntilExit()
            lastError = BrokerError(
                "ws_relay.py did not start on port \(port): \((try? String(contentsOf: logFile, encoding: .utf8)) ?? "")"
            )
        }
        throw lastError ?? BrokerError("ws_relay.py did not start")
    }

    deinit {
        try? lifeline.fileHandleForWriting.close()
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Until the relay says it listens on the port (ours, not another program's) and it accepts.
    private static func waitUntilListening(port: Int, process: SpawnedProcess, log: URL) -> Bool {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if !process.isRunning { return false }
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if text.contains("ws_relay listening on \(port)"), TestBroker.canConnect(port: port) { return true }
            usleep(20_000)
        }
        return false
    }
}
