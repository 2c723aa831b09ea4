import Foundation
import Testing

/// Parses a --json document (with Foundation, independently of mqttctl's writer).
func jsonDocument(_ result: RunResult) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: result.stdoutData)
    guard let document = object as? [String: Any] else {
        throw BrokerError("stdout is not a JSON object: \(result)")
    }
    return document
}

extension Dictionary where Key == String, Value == Any {
    func number(_ key: String) -> Double? { (self[key] as? NSNumber)?.doubleValue }
    func int(_ key: String) -> Int? { (self[key] as? NSNumber)?.intValue }
    func bool(_ key: String) -> Bool? { self[key] as? Bool }
    func string(_ key: String) -> String? { self[key] as? String }
    func object(_ key: String) -> [String: Any]? { self[key] as? [String: Any] }
    func objects(_ key: String) -> [[String: Any]] { self[key] as? [[String: Any]] ?? [] }
    /// The key is present and holds JSON null.
    func isNull(_ key: String) -> Bool { self[key] is NSNull }
    func hasKeys(_ keys: [String]) -> Bool { keys.allSatisfy { self[$0] != nil } }

    /// A take-over document's will came while the broker handled B's CONNECT (it
    /// publishes the will, closes A and answers B, in some order): after B's CONNECT
    /// was written and within 2 ms of B's CONNACK, so not held back by Nagle or a
    /// delayed ACK (40 ms). Timed against B's CONNACK rather than against A's close
    /// alone: on a loaded machine the broker can be preempted between two of those
    /// steps (a will 60 ms before A's close was seen with four busy processes on
    /// two cores, 4 ms after it with the suite's own load), which says nothing about
    /// the will's path.
    var willCameWithTheTakeover: Bool {
        guard let afterClose = number("will_after_close_ms"), let closed = number("closed_after_ms"),
            let connAck = number("connack_after_ms")
        else { return false }
        let willAt = closed + afterClose  // since B's CONNECT was written
        return willAt >= 0 && willAt < connAck + 2
    }
}

/// Runs `mqttctl` to completion without blocking a thread of the test pool
/// (which has one thread per core): probe tests wait tens of seconds each and
/// must all wait at the same time.
func runAsync(_ arguments: [String], timeout: Double = 60) async throws -> RunResult {
    let command = try RunningCommand(arguments)
    return await command.finish(timeout: timeout)
}

extension RunningCommand {
    /// `wait(timeout:)` that sleeps asynchronously.
    func finish(timeout: Double = 60) async -> RunResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return wait(timeout: 0)
    }
}

/// Runs `body` and also returns how long it took (monotonic, seconds).
func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let value = try await body()
    return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

/// A client id no other test uses.
func uniqueID(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8))"
}

/// Runs `mqttctl` under a pseudo-terminal (util-linux script(1)), so that stderr
/// is a terminal. Returns everything the terminal showed.
func mqttctlOnTerminal(_ arguments: [String], timeout: Double = 60) async throws -> RunResult {
    let command = ([mqttctlPath()] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        .joined(separator: " ")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
    process.arguments = ["-qefc", command, "/dev/null"]
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mqttctl-tty-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let out = directory.appendingPathComponent("out")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: out)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    var timedOut = false
    while process.isRunning {
        if Date() > deadline {
            timedOut = true
            process.terminate()
            break
        }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
    process.waitUntilExit()
    let data = (try? Data(contentsOf: out)) ?? Data()
    return RunResult(status: process.terminationStatus, stdoutData: data, stderr: "", timedOut: timedOut)
}
