import Foundation
import Synchronization

/// A real mosquitto for the tests, on a free 127.0.0.1 port with a generated
/// config. It runs under a small shell watchdog that holds a pipe from the test
/// process: when the tests end (or crash) the pipe closes and the broker is
/// killed, so no broker outlives the test run.
final class TestBroker: Sendable {
    let port: Int
    let directory: URL
    let logFile: URL
    private let process: SpawnedProcess
    private let lifeline: Pipe

    /// Brokers shared by the whole run, one per configuration name. Each name has
    /// its own slot, so starting one broker never holds up tests that need another.
    private final class Slot: Sendable {
        let broker = Mutex<TestBroker?>(nil)
    }
    private static let slots = Mutex<[String: Slot]>([:])

    /// The default broker (anonymous, no persistence).
    static func standard() throws -> TestBroker {
        try named("standard", config: "")
    }

    /// A broker with `max_keepalive 10`, which imposes Server Keep Alive on MQTT 5 clients.
    static func maxKeepAlive10() throws -> TestBroker {
        try named("max_keepalive_10", config: "max_keepalive 10\n")
    }

    /// A broker that also listens on a unix domain socket (`listener 0 PATH`): `socketPath`.
    static func unixSocket() throws -> TestBroker {
        try named("unix", config: "", unixSocket: true)
    }

    /// The unix socket it listens on (`unixSocket: true`), else nil.
    var socketPath: String? {
        hasUnixSocket ? directory.appendingPathComponent("mosquitto.sock").path : nil
    }
    private let hasUnixSocket: Bool

    /// A shared broker with extra configuration lines.
    static func named(
        _ name: String, config: String, listenerConfig: String = "", unixSocket: Bool = false
    ) throws -> TestBroker {
        let slot = slots.withLock { slots in
            if let slot = slots[name] { return slot }
            let slot = Slot()
            slots[name] = slot
            return slot
        }
        return try slot.broker.withLock { broker in
            if let broker { return broker }
            let started = try TestBroker(
                name: name, extraConfig: config, listenerConfig: listenerConfig, unixSocket: unixSocket)
            broker = started
            return started
        }
    }

    /// A broker of its own (for tests that stop or restart it).
    init(
        name: String, extraConfig: String = "", listenerConfig: String = "", port fixedPort: Int? = nil,
        unixSocket: Bool = false
    ) throws {
        // Short: a unix socket's path has at most 107 bytes.
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mqttctl-test-\(name)-\(UUID().uuidString.prefix(8))")
        hasUnixSocket = unixSocket
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        logFile = directory.appendingPathComponent("mosquitto.log")
        var lastError: Error?
        for _ in 0..<5 {
            let port = try fixedPort ?? Self.freePort()
            let config = """
                listener \(port) 127.0.0.1
                # Run as root, mosquitto would switch to user mosquitto and could not write its log here.
                user root
                \(listenerConfig)
                \(unixSocket ? "listener 0 \(directory.appendingPathComponent("mosquitto.sock").path)" : "")
                allow_anonymous true
                persistence false
                log_dest file \(logFile.path)
                log_type error
                log_type warning
                log_type notice
                log_type information
                connection_messages true
                max_queued_messages 0
                \(extraConfig)
                """
            let configFile = directory.appendingPathComponent("mosquitto.conf")
            try config.write(to: configFile, atomically: true, encoding: .utf8)
            // Only the watchdog may hold the write end (see makePipe).
            let lifeline = makePipe()
            // The watchdog: run mosquitto; when our end of the pipe closes (the tests
            // ended or crashed), kill it. fd 3 carries the pipe into the background
            // job (whose own stdin sh sets to /dev/null). The shell ends when
            // mosquitto does, so a broker that fails to start is seen at once.
            let script =
                "exec 3<&0; \(Self.mosquittoPath()) -c \"$1\" & pid=$!; (cat <&3 >/dev/null; kill -9 $pid 2>/dev/null) & wait $pid"
            let process = try SpawnedProcess(
                "/bin/sh", ["-c", script, "sh", configFile.path],
                stdin: lifeline.fileHandleForReading.fileDescriptor)
            if Self.waitForListener(port: port, process: process, log: logFile) {
                self.port = port
                self.process = process
                self.lifeline = lifeline
                return
            }
            try? lifeline.fileHandleForWriting.close()
            process.waitUntilExit()
            lastError = BrokerError(
                "mosquitto did not start on port \(port); log: \((try? String(contentsOf: logFile, encoding: .utf8)) ?? "")"
            )
        }
        throw lastError ?? BrokerError("mosquitto did not start")
    }

    /// Stops the broker (used by tests that need it to go away).
    func stop() {
        try? lifeline.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    deinit {
        try? lifeline.fileHandleForWriting.close()
    }

    var log: String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    static func mosquittoPath() -> String {
        for candidate in ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        return "mosquitto"
    }

    /// A port that was free a moment ago (bind to port 0 and ask the kernel).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BrokerError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw BrokerError("bind() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// Waits until this mosquitto, not merely something, listens on the port: its
    /// log says it is running (written after every listener is bound) and the
    /// port accepts. Another test's peer may have been handed the same free port
    /// a moment earlier; then mosquitto cannot bind and exits.
    private static func waitForListener(port: Int, process: SpawnedProcess, log: URL) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if !process.isRunning { return false }
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if text.contains(" running"), connectionPort(port: port) != nil { return process.isRunning }
            usleep(20_000)
        }
        return false
    }

    /// Connects to the port; the local port of the connection, or nil.
    private static func connectionPort(port: Int) -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                connect(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        return ok ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }
}

struct BrokerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
