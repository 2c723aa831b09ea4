import Foundation
import Synchronization

/// A real SOCKS5 server for the tests: Debian's `microsocks`, on a free
/// 127.0.0.1 port, optionally requiring a username and password. It runs under
/// the same kind of watchdog as `TestBroker` (a pipe from the test process;
/// when that closes, microsocks is killed), so it never outlives the tests.
/// `log` is what microsocks prints: a line per connection it made
/// ("client[5] 127.0.0.1: connected to 127.0.0.1:1883").
final class TestSocks: Sendable {
    let port: Int
    let username: String?
    let password: String?
    let logFile: URL
    private let process: SpawnedProcess
    private let lifeline: Pipe

    private static let shared = Mutex<[String: TestSocks]>([:])

    /// One proxy per kind, shared by the run: open, or with credentials.
    static func get(username: String? = nil, password: String? = nil) throws -> TestSocks {
        try shared.withLock { proxies in
            let key = "\(username ?? "")\u{0}\(password ?? "")"
            if let proxy = proxies[key] { return proxy }
            let proxy = try TestSocks(username: username, password: password)
            proxies[key] = proxy
            return proxy
        }
    }

    init(username: String? = nil, password: String? = nil) throws {
        self.username = username
        self.password = password
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mqttctl-socks-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        logFile = directory.appendingPathComponent("microsocks.log")
        guard
            let path = ["/usr/bin/microsocks", "/usr/local/bin/microsocks"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else {
            throw BrokerError("microsocks is not installed (scripts/setup installs it: apt-get install microsocks)")
        }
        var lastError: Error?
        for _ in 0..<5 {
            let port = try TestBroker.freePort()
            var arguments = ["-i", "127.0.0.1", "-p", "\(port)"]
            if let username, let password { arguments += ["-u", username, "-P", password] }
            let lifeline = makePipe()
            // As TestBroker's watchdog: microsocks dies when our end of the pipe closes.
            let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(
                separator: " ")
            let script =
                "exec 3<&0; \(path) \(quoted) >\"$1\" 2>&1 & pid=$!; (cat <&3 >/dev/null; kill -9 $pid 2>/dev/null) & wait $pid"
            let process = try SpawnedProcess(
                "/bin/sh", ["-c", script, "sh", logFile.path],
                stdin: lifeline.fileHandleForReading.fileDescriptor)
            if waitUntil(timeout: 10, { !process.isRunning || TestBroker.canConnect(port: port) }), process.isRunning {
                self.port = port
                self.process = process
                self.lifeline = lifeline
                return
            }
            try? lifeline.fileHandleForWriting.close()
            process.waitUntilExit()
            lastError = BrokerError(
                "microsocks did not start on port \(port): \((try? String(contentsOf: logFile, encoding: .utf8)) ?? "")"
            )
        }
        throw lastError ?? BrokerError("microsocks did not start")
    }

    deinit {
        try? lifeline.fileHandleForWriting.close()
    }

    var log: String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// socks5h://[user:password@]127.0.0.1:PORT
    var url: String {
        let credentials = username.map { user in "\(user):\(password ?? "")@" } ?? ""
        return "socks5h://\(credentials)127.0.0.1:\(port)"
    }
}
