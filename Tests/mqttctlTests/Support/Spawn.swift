import Foundation
import Synchronization

/// Starts a program with a clean signal mask and default signal handlers.
/// Foundation's Process spawns from libdispatch threads, which block almost
/// every signal, and a child inherits that mask: a shell then never sees
/// SIGCHLD (its `wait` hangs) and a daemon ignores SIGTERM. posix_spawn with
/// POSIX_SPAWN_SETSIGMASK/SETSIGDEF avoids both.
struct SpawnedProcess: Sendable {
    let pid: pid_t

    /// `closed`: standard descriptors (0, 1, 2) the program starts with closed.
    init(
        _ path: String, _ arguments: [String], environment: [String: String]? = nil,
        stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil, closed: Set<Int32> = []
    ) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devNull) }
        posix_spawn_file_actions_adddup2(&actions, stdin ?? devNull, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout ?? devNull, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr ?? devNull, 2)
        for fd in closed.sorted() { posix_spawn_file_actions_addclose(&actions, fd) }
        // Nothing else leaks in (another test's pipe end would keep its reader waiting).
        // glibc ≥ 2.34 has the call; Swift's Glibc module does not show it.
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        }

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map {
            $0.map { strdup("\($0.key)=\($0.value)") } + [nil]
        }
        defer { envp?.forEach { free($0) } }
        var pid: pid_t = 0
        let rc =
            envp.map { posix_spawn(&pid, path, &actions, &attributes, argv, $0) }
            ?? posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw BrokerError("posix_spawn \(path) failed: \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    /// Whether it still runs (reaps it if it ended).
    var isRunning: Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    func waitUntilExit() {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}

/// A child whose end is noticed at once by a thread of its own blocked in
/// waitpid: the exit status and the exit time (monotonic) are exact however
/// busy the test pool is. (Foundation's Process was dropped for commands under
/// test: under load its waitUntilExit could spin forever on a child that had
/// already exited.)
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    private let exit = Mutex<(status: Int32, at: UInt64, cpu: Double, maxRSS: Int)?>(nil)
    private let exited = DispatchSemaphore(value: 0)

    init(
        _ path: String, _ arguments: [String], environment: [String: String],
        stdin: Int32?, stdout: Int32?, stderr: Int32?, closed: Set<Int32> = []
    ) throws {
        pid = try SpawnedProcess(
            path, arguments, environment: environment, stdin: stdin, stdout: stdout, stderr: stderr,
            closed: closed
        ).pid
        let watcher = Thread { [self] in
            var status: Int32 = 0
            var usage = rusage()
            while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
            let at = DispatchTime.now().uptimeNanoseconds
            // Like Foundation: the exit code, or the signal number if it was killed.
            let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : status & 0x7f
            func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
            let cpu = seconds(usage.ru_utime) + seconds(usage.ru_stime)
            self.exit.withLock { $0 = (code, at, cpu, usage.ru_maxrss) }
            self.exited.signal()
        }
        watcher.start()
    }

    var isRunning: Bool { exit.withLock { $0 == nil } }
    /// The exit status (0 while running).
    var terminationStatus: Int32 { exit.withLock { $0?.status ?? 0 } }
    /// When it exited (monotonic nanoseconds), nil while running.
    var exitedAt: UInt64? { exit.withLock { $0?.at } }
    /// CPU time it used, user and system (seconds), once it exited.
    var cpuSeconds: Double? { exit.withLock { $0?.cpu } }
    /// Its peak resident memory in KiB (0 while running).
    var maxRSS: Int { exit.withLock { $0?.maxRSS ?? 0 } }

    func waitUntilExit() {
        exited.wait()
        exited.signal()
    }
}
