import Foundation
import Synchronization

/// A real ejabberd (its mod_mqtt: MQTT 3.1.1 and 5, over TCP and WebSocket) for
/// the tests: the suite's second broker, because it behaves unlike mosquitto
/// (DISCONNECT 0x8D/0x8E with reason strings, MQTT 5 take-over wills, MQTT over
/// WebSocket).
///
/// It runs from a generated `ejabberd.yml` in a private temporary directory (its
/// own HOME, Mnesia spool, logs) on free 127.0.0.1 ports. The Erlang VM is
/// started directly (`erl -s ejabberd`, as `ejabberdctl foreground` does, but
/// without `su ejabberd`), as a node without distribution (`nonode@nohost`):
/// no epmd is started and no Erlang cookie is written. The same shell watchdog
/// as TestBroker's holds a pipe from the test process and kills the VM (SIGKILL)
/// when it closes; the VM's own helpers (erl_child_setup, inet_gethost) end
/// with it.
///
/// mod_mqtt refuses a CONNECT without a password (3.1.1 return code 5, MQTT 5
/// 0x87) even with anonymous authentication, so every client must pass
/// `credentials` (any user name, any non-empty password).
final class TestEjabberd: Sendable {
    /// mod_mqtt settings (nil: ejabberd's default, given in the comment).
    struct Options: Sendable {
        /// TLS listeners too (MQTT over TLS and WebSocket over TLS), with the test CA's server certificate.
        var tls = false
        /// `session_expiry` in seconds, the longest session a client may ask for (300; 0 disables sessions).
        var sessionExpiry: Int?
        /// `max_queue`, messages kept for an offline session (5000).
        var maxQueue: Int?
        /// `max_topic_depth`, levels allowed in a topic (8).
        var maxTopicDepth: Int?
        /// `queue_type`, "ram" or "file" ("ram").
        var queueType: String?
        /// The listeners' `max_payload_size` in bytes (unlimited).
        var maxPayloadSize: Int?

        init(
            tls: Bool = false, sessionExpiry: Int? = nil, maxQueue: Int? = nil, maxTopicDepth: Int? = nil,
            queueType: String? = nil, maxPayloadSize: Int? = nil
        ) {
            self.tls = tls
            self.sessionExpiry = sessionExpiry
            self.maxQueue = maxQueue
            self.maxTopicDepth = maxTopicDepth
            self.queueType = queueType
            self.maxPayloadSize = maxPayloadSize
        }
    }

    /// MQTT over TCP.
    let port: Int
    /// MQTT over WebSocket (`ws://127.0.0.1:webSocketPort/mqtt`, subprotocol `mqtt`).
    let webSocketPort: Int
    let webSocketPath = "/mqtt"
    /// MQTT over TLS, when started with `tls`.
    let tlsPort: Int?
    /// MQTT over WebSocket over TLS (`wss://`), when started with `tls`.
    let webSocketTLSPort: Int?
    let directory: URL
    let logFile: URL
    private let process: SpawnedProcess
    private let lifeline: Pipe

    /// Anonymous login takes any user name with any non-empty password.
    static let username = "mqttctl"
    static let password = "anonymous"
    /// The options every mqttctl command against it needs.
    static let credentials = ["-u", username, "-P", password]

    /// Shared instances, one per configuration name (see TestBroker.named).
    private final class Slot: Sendable {
        let broker = Mutex<TestEjabberd?>(nil)
    }
    private static let slots = Mutex<[String: Slot]>([:])

    /// The default: MQTT over TCP and WebSocket, mod_mqtt's defaults.
    static func standard() throws -> TestEjabberd {
        try named("standard", options: Options())
    }

    /// With TLS listeners as well (certificates from TestCertificates).
    static func tls() throws -> TestEjabberd {
        try named("tls", options: Options(tls: true))
    }

    /// A shared instance: the first call with a name starts it, later calls get it.
    static func named(_ name: String, options: Options) throws -> TestEjabberd {
        let slot = slots.withLock { slots in
            if let slot = slots[name] { return slot }
            let slot = Slot()
            slots[name] = slot
            return slot
        }
        return try slot.broker.withLock { broker in
            if let broker { return broker }
            let started = try TestEjabberd(name: name, options: options)
            broker = started
            return started
        }
    }

    /// An instance of its own (for tests that stop it).
    init(name: String, options: Options = Options()) throws {
        guard let application = Self.applicationDirectory() else {
            throw BrokerError("ejabberd is not installed (scripts/setup installs the Debian package ejabberd)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mqttctl-ejabberd-\(name)-\(UUID().uuidString)")
        let home = directory.appendingPathComponent("home")
        let spool = directory.appendingPathComponent("spool")
        let logs = directory.appendingPathComponent("logs")
        // ERL_LIBS holding only ejabberd (its dependencies are in Erlang's own lib directory):
        // scanning all of /usr/lib/<triple>, as ejabberdctl does, is slower.
        let libs = directory.appendingPathComponent("lib")
        for dir in [home, spool, logs, libs] {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        }
        try FileManager.default.createSymbolicLink(
            atPath: libs.appendingPathComponent(application.lastPathComponent).path,
            withDestinationPath: application.path)
        logFile = logs.appendingPathComponent("ejabberd.log")
        let certificate = options.tls ? try Self.certificateFile(in: directory) : nil

        var lastError: Error?
        for _ in 0..<5 {
            let port = try TestBroker.freePort()
            let webSocketPort = try TestBroker.freePort()
            let tlsPort = options.tls ? try TestBroker.freePort() : nil
            let webSocketTLSPort = options.tls ? try TestBroker.freePort() : nil
            let configFile = directory.appendingPathComponent("ejabberd.yml")
            try Self.config(
                options: options, port: port, webSocketPort: webSocketPort, tlsPort: tlsPort,
                webSocketTLSPort: webSocketTLSPort, certificate: certificate
            )
            .write(to: configFile, atomically: true, encoding: .utf8)
            var environment = ProcessInfo.processInfo.environment
            environment["HOME"] = home.path
            environment["EJABBERD_CONFIG_PATH"] = configFile.path
            environment["EJABBERD_LOG_PATH"] = logFile.path
            environment["ERL_LIBS"] = libs.path
            environment["ERL_CRASH_DUMP"] = logs.appendingPathComponent("erl_crash.dump").path
            // Only the watchdog may hold the write end (see makePipe).
            let lifeline = makePipe()
            // The watchdog (as TestBroker's): run the VM; when our end of the pipe
            // closes, kill it. `erl` execs erlexec, which execs beam.smp, so $pid
            // is the VM itself. The shell ends when the VM does (a failed start,
            // such as a port taken meanwhile, ends the VM), so that is seen at once.
            // `-mnesia dir` takes an Erlang string, hence the quotes.
            let script =
                "exec 3<&0; cd \"$1\"; shift; \"$@\" & pid=$!; (cat <&3 >/dev/null; kill -9 $pid 2>/dev/null) & wait $pid"
            let erl = ["/usr/bin/erl", "-noinput", "-mnesia", "dir", "\"\(spool.path)\"", "-s", "ejabberd"]
            let output = open(
                logs.appendingPathComponent("stdout.log").path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            defer { close(output) }
            let process = try SpawnedProcess(
                "/bin/sh", ["-c", script, "sh", directory.path] + erl,
                environment: environment,
                stdin: lifeline.fileHandleForReading.fileDescriptor,
                stdout: output, stderr: output)
            let ports = [port, webSocketPort] + [tlsPort, webSocketTLSPort].compactMap { $0 }
            if Self.waitForListeners(ports: ports, process: process, log: logFile) {
                self.port = port
                self.webSocketPort = webSocketPort
                self.tlsPort = tlsPort
                self.webSocketTLSPort = webSocketTLSPort
                self.process = process
                self.lifeline = lifeline
                return
            }
            try? lifeline.fileHandleForWriting.close()
            process.waitUntilExit()
            let log = Self.read(logFile)
            lastError = BrokerError("ejabberd did not start on ports \(ports); log: \(String(log.suffix(4000)))")
            // Only a port taken meanwhile is worth another try (not a bad configuration).
            if !log.contains("eaddrinuse") { break }
        }
        throw lastError ?? BrokerError("ejabberd did not start")
    }

    /// Stops it (kills the VM) and waits until it is gone.
    func stop() {
        try? lifeline.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    deinit {
        try? lifeline.fileHandleForWriting.close()
    }

    /// ejabberd's log (info level: connections, authentications, session ends with their reasons).
    var log: String { Self.read(logFile) }

    /// Whether the Debian package (or another install of the application) is there.
    static var isInstalled: Bool {
        applicationDirectory() != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/erl")
    }

    /// The ejabberd OTP application, `ejabberd-<version>` with `ebin/ejabberd.app`:
    /// Debian puts it in /usr/lib/<triple>/, a source install in Erlang's lib directory.
    static func applicationDirectory() -> URL? {
        var parents = ["/usr/lib/erlang/lib", "/usr/local/lib/erlang/lib", "/usr/lib"]
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib") {
            parents += entries.filter { $0.hasSuffix("-linux-gnu") }.sorted().map { "/usr/lib/\($0)" }
        }
        for parent in parents {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: parent) else { continue }
            for entry in entries.sorted()
            where entry.hasPrefix("ejabberd-")
                && FileManager.default.fileExists(atPath: "\(parent)/\(entry)/ebin/ejabberd.app")
            {
                return URL(fileURLWithPath: "\(parent)/\(entry)").resolvingSymlinksInPath()
            }
        }
        return nil
    }

    private static func config(
        options: Options, port: Int, webSocketPort: Int, tlsPort: Int?,
        webSocketTLSPort: Int?, certificate: String?
    ) -> String {
        let payload = options.maxPayloadSize.map { "\n    max_payload_size: \($0)" } ?? ""
        // backlog: ejabberd's default is 5, too few for tests that connect at once.
        func mqtt(_ port: Int, tls: Bool) -> String {
            """
              -
                port: \(port)
                ip: "127.0.0.1"
                module: mod_mqtt
                backlog: 128\(payload)\(tls ? "\n    tls: true" : "")

            """
        }
        func webSocket(_ port: Int, tls: Bool) -> String {
            """
              -
                port: \(port)
                ip: "127.0.0.1"
                module: ejabberd_http
                backlog: 128\(payload)\(tls ? "\n    tls: true" : "")
                request_handlers:
                  /mqtt: mod_mqtt

            """
        }
        var listen = mqtt(port, tls: false) + webSocket(webSocketPort, tls: false)
        if let tlsPort { listen += mqtt(tlsPort, tls: true) }
        if let webSocketTLSPort { listen += webSocket(webSocketTLSPort, tls: true) }
        var module = [String]()
        if let value = options.sessionExpiry { module.append("session_expiry: \(value)") }
        if let value = options.maxQueue { module.append("max_queue: \(value)") }
        if let value = options.maxTopicDepth { module.append("max_topic_depth: \(value)") }
        if let value = options.queueType { module.append("queue_type: \(value)") }
        return """
            # Generated by the mqttctl tests (TestEjabberd.swift).
            loglevel: info
            log_rotate_count: 0
            hosts:
              - localhost
            \(certificate.map { "# The TLS listeners' certificate (listeners take no certfile of their own).\ncertfiles:\n  - \"\($0)\"" } ?? "")
            listen:
            \(listen)
            # Any user name with any non-empty password; the same name may connect many times.
            auth_method: anonymous
            anonymous_protocol: login_anon
            allow_multiple_connections: true
            modules:
              mod_mqtt: {\(module.joined(separator: ", "))}

            """
    }

    /// ejabberd wants the certificate, its chain and the key in one PEM file.
    private static func certificateFile(in directory: URL) throws -> String {
        let certs = try TestCertificates.get()
        let pem = try [certs.serverCert, certs.caFile, certs.serverKey]
            .map { try String(contentsOfFile: $0, encoding: .utf8) }
            .joined(separator: "\n")
        let file = directory.appendingPathComponent("server.pem")
        try pem.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    private static func read(_ file: URL) -> String {
        (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    }

    /// Until every port accepts connections and the log says ejabberd opened it
    /// (so a port another program took meanwhile is not mistaken for ours).
    private static func waitForListeners(ports: [Int], process: SpawnedProcess, log: URL) -> Bool {
        // About 1.2 s on an idle machine; a loaded one takes several seconds.
        let deadline = Date().addingTimeInterval(60)
        var waiting = ports
        while Date() < deadline {
            let text = read(log)
            waiting.removeAll { text.contains("connections at 127.0.0.1:\($0) for") && TestBroker.canConnect(port: $0) }
            if waiting.isEmpty { return true }
            if !process.isRunning { return false }
            usleep(20_000)
        }
        return false
    }
}
