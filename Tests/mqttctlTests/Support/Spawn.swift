import Foundation

/// Starts a program with a clean signal mask and default signal handlers.
/// Foundation's Process spawns from libdispatch threads, which block almost
/// every signal, and a child inherits that mask: a shell then never sees
/// SIGCHLD (its `wait` hangs) and a daemon ignores SIGTERM. posix_spawn with
/// POSIX_SPAWN_SETSIGMASK/SETSIGDEF avoids both.
struct SpawnedProcess: Sendable {
    let pid: pid_t

    init(_ path: String, _ arguments: [String], stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil) throws {
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

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
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
