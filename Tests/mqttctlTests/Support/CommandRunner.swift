import Foundation
import Synchronization

/// Runs the built `mqttctl` as a user would: real argv, stdin, stdout, stderr,
/// exit status. Output goes to files (no pipe can fill up and block the child).
struct RunResult: CustomStringConvertible {
    let status: Int32
    let stdoutData: Data
    let stderr: String
    let timedOut: Bool
    /// Seconds from spawn to exit, taken by the process's own termination
    /// handler: not inflated when busy tests keep the test pool from noticing.
    var runtime: Double = 0
    /// CPU seconds (user + system) the command used: what a busy loop would show
    /// however loaded the machine is.
    var cpuSeconds: Double = 0
    /// Peak resident memory of the command, KiB.
    var maxRSS = 0

    var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    var stdoutLines: [String] {
        stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast(stdout.hasSuffix("\n") ? 1 : 0).map(
            String.init)
    }
    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }

    var description: String {
        "status \(status)\(timedOut ? " (killed after timeout)" : "")\n--- stdout ---\n\(stdout.prefix(4000))\n--- stderr ---\n\(stderr.prefix(4000))"
    }
}

/// The binary under test: $MQTTCTL_BINARY, else `mqttctl` next to the test bundle.
func mqttctlPath() -> String {
    if let override = ProcessInfo.processInfo.environment["MQTTCTL_BINARY"] { return override }
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var directory = exe.deletingLastPathComponent()
    // swift-testing on Linux runs `.build/<triple>/debug/<Package>PackageTests.xctest`.
    if directory.lastPathComponent.hasSuffix(".xctest") { directory = directory.deletingLastPathComponent() }
    return directory.appendingPathComponent("mqttctl").path
}

/// Where a command's stdin or stdout goes instead of the usual (a file the test reads).
enum Redirect: Sendable {
    /// A path opened for it (`/dev/full`, `/tmp`).
    case path(String)
    /// The descriptor is closed when the command starts (`<&-`, `>&-`).
    case closed
    /// An open descriptor of the test (a pipe end).
    case descriptor(Int32)
}

/// A running `mqttctl`. Killed on deinit if still running.
final class RunningCommand: @unchecked Sendable {
    private(set) var process: ChildProcess!
    let stdoutFile: URL
    let stderrFile: URL
    private let stdinPipe: Pipe?
    private let startedAt = DispatchTime.now().uptimeNanoseconds
    private let directory: URL

    /// `executable`: another program than mqttctl (mosquitto's clients, a symlink to mqttctl).
    init(
        _ arguments: [String], stdin: Data? = nil, keepStdinOpen: Bool = false, environment: [String: String] = [:],
        stdinRedirect: Redirect? = nil, stdoutRedirect: Redirect? = nil, executable: String? = nil,
        unsetting: [String] = []
    ) throws {
        ignoreSIGPIPE
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mqttctl-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        stdoutFile = directory.appendingPathComponent("stdout")
        stderrFile = directory.appendingPathComponent("stderr")
        var env = ProcessInfo.processInfo.environment
        // Tests must not pick up a developer's defaults.
        env["XDG_CONFIG_HOME"] = directory.appendingPathComponent("config").path
        for key in env.keys where key.hasPrefix("MQTTCTL_") && key != "MQTTCTL_BINARY" { env[key] = nil }
        for (key, value) in environment { env[key] = value }
        for key in unsetting { env[key] = nil }

        let out = open(stdoutFile.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let err = open(stderrFile.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { close(out); close(err) }
        guard out >= 0, err >= 0 else { throw BrokerError("cannot create output files in \(directory.path)") }
        var input: Int32? = nil
        if keepStdinOpen {
            let pipe = makePipe()
            stdinPipe = pipe
            input = pipe.fileHandleForReading.fileDescriptor
        } else if let stdin {
            stdinPipe = nil
            let stdinFile = directory.appendingPathComponent("stdin")
            try stdin.write(to: stdinFile)
            input = open(stdinFile.path, O_RDONLY | O_CLOEXEC)
        } else {
            stdinPipe = nil
        }
        defer { if !keepStdinOpen, let input { close(input) } }
        var closed: Set<Int32> = []
        var opened: [Int32] = []
        defer { opened.forEach { close($0) } }
        func target(_ redirect: Redirect?, fd: Int32, flags: Int32, otherwise: Int32?) throws -> Int32? {
            switch redirect {
            case nil: return otherwise
            case .closed?:
                closed.insert(fd)
                return otherwise
            case .descriptor(let d)?: return d
            case .path(let path)?:
                let d = open(path, flags | O_CLOEXEC)
                guard d >= 0 else { throw BrokerError("cannot open \(path)") }
                opened.append(d)
                return d
            }
        }
        let stdinFD = try target(stdinRedirect, fd: 0, flags: O_RDONLY, otherwise: input)
        let stdoutFD = try target(stdoutRedirect, fd: 1, flags: O_WRONLY, otherwise: out)
        process = try ChildProcess(
            executable ?? mqttctlPath(), arguments, environment: env, stdin: stdinFD, stdout: stdoutFD, stderr: err,
            closed: closed)
        // Our copy of the read end would keep the pipe open after the command ends.
        try? stdinPipe?.fileHandleForReading.close()
    }

    /// Spawn-to-exit time, once it has exited.
    var runtime: Double {
        let end = process.exitedAt ?? DispatchTime.now().uptimeNanoseconds
        return Double(end - startedAt) / 1e9
    }

    deinit {
        if process.isRunning { kill(process.pid, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    var stdout: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    func writeStdin(_ text: String) {
        // The command may already have exited (EPIPE): that is for the test to judge.
        try? stdinPipe?.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    func closeStdin() {
        try? stdinPipe?.fileHandleForWriting.close()
    }

    func signal(_ sig: Int32) {
        kill(process.pid, sig)
    }

    /// Waits for the process to end; kills it after `timeout` seconds.
    func wait(timeout: Double = 60) -> RunResult {
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                timedOut = true
                kill(process.pid, SIGKILL)
                process.waitUntilExit()
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        let out = (try? Data(contentsOf: stdoutFile)) ?? Data()
        return RunResult(
            status: process.terminationStatus, stdoutData: out, stderr: stderr, timedOut: timedOut, runtime: runtime,
            cpuSeconds: process.cpuSeconds ?? 0, maxRSS: process.maxRSS)
    }

    /// Waits until `condition` holds for (stdout, stderr). False on timeout or exit.
    @discardableResult
    func waitFor(timeout: Double = 10, _ condition: (String, String) -> Bool) -> Bool {
        waitUntil(timeout: timeout) { condition(stdout, stderr) || !process.isRunning }
            && condition(stdout, stderr)
    }
}

/// Runs `mqttctl` to completion.
func mqttctl(
    _ arguments: [String], stdin: Data? = nil, timeout: Double = 60, environment: [String: String] = [:],
    stdinRedirect: Redirect? = nil, stdoutRedirect: Redirect? = nil
) throws -> RunResult {
    try RunningCommand(
        arguments, stdin: stdin, environment: environment,
        stdinRedirect: stdinRedirect, stdoutRedirect: stdoutRedirect
    ).wait(timeout: timeout)
}

/// Runs `mqttctl` to completion through `peak_rss.py`, so that `maxRSS` is the
/// command's own peak memory: the `ru_maxrss` the test process gets from wait4
/// also counts the test process's memory (see the script).
func mqttctlMeasuringMemory(
    _ arguments: [String], timeout: Double = 60, stdinRedirect: Redirect? = nil
) throws -> RunResult {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("peak_rss.py").path
    let report = FileManager.default.temporaryDirectory.appendingPathComponent("mqttctl-peak-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: report) }
    var result = try RunningCommand(
        [script, report.path, mqttctlPath()] + arguments, stdinRedirect: stdinRedirect,
        executable: "/usr/bin/python3"
    ).wait(timeout: timeout)
    guard let text = try? String(contentsOf: report, encoding: .utf8), let peak = Int(text) else {
        throw BrokerError("peak_rss.py reported nothing: \(result)")
    }
    result.maxRSS = peak
    return result
}

func mqttctl(_ arguments: String..., stdin: String? = nil, timeout: Double = 60) throws -> RunResult {
    try mqttctl(arguments, stdin: stdin.map { Data($0.utf8) }, timeout: timeout)
}

/// Runs another program (mosquitto_pub, strace, mqttctl through a symlink) as `mqttctl` runs mqttctl.
func runProgram(
    _ path: String, _ arguments: [String], stdin: Data? = nil, timeout: Double = 60,
    environment: [String: String] = [:]
) throws -> RunResult {
    try RunningCommand(arguments, stdin: stdin, environment: environment, executable: path).wait(timeout: timeout)
}

/// Starts another program; see `runProgram`.
func RunningProgram(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws -> RunningCommand
{
    try RunningCommand(arguments, environment: environment, executable: path)
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// A fresh topic prefix per test, so tests sharing a broker never see each other.
func uniqueTopic(_ name: String = #function) -> String {
    let clean = name.filter { $0.isLetter || $0.isNumber }
    return "test/\(clean)/\(UUID().uuidString.prefix(8))"
}

/// Starts `mqttctl sub` and returns once its subscription is acknowledged (it
/// runs with -d and we wait for libmosquitto's "received SUBACK" line).
func startSubscriber(_ arguments: [String], environment: [String: String] = [:]) throws -> RunningCommand {
    let command = try RunningCommand(["sub", "-d"] + arguments, environment: environment)
    guard command.waitFor(timeout: 15, { _, err in err.contains("received SUBACK") }) else {
        throw BrokerError("subscriber did not get SUBACK: \(command.stderr)")
    }
    return command
}

/// A Pipe whose ends are not inherited by other children. Tests run in parallel
/// and spawn processes all the time; an inherited write end keeps the reader
/// from ever seeing EOF (a stdin that never ends, a broker that never stops).
func makePipe() -> Pipe {
    let pipe = Pipe()
    _ = fcntl(pipe.fileHandleForWriting.fileDescriptor, F_SETFD, FD_CLOEXEC)
    _ = fcntl(pipe.fileHandleForReading.fileDescriptor, F_SETFD, FD_CLOEXEC)
    return pipe
}

/// Writing to the stdin of a command that already ended must be an error the
/// test sees (EPIPE), not a SIGPIPE that kills the whole test run.
let ignoreSIGPIPE: Void = {
    signal(SIGPIPE, SIG_IGN)
}()
