#if canImport(Glibc)
import Glibc
#endif

// The handler may only touch async-signal-safe state: a pipe and a flag.
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1
nonisolated(unsafe) private var signalPipeReadEnd: Int32 = -1
nonisolated(unsafe) private var lastSignal: sig_atomic_t = 0
nonisolated(unsafe) private var pendingSignal: sig_atomic_t = 0
nonisolated(unsafe) private var alarmFired: sig_atomic_t = 0

/// SIGINT/SIGTERM handling for a single-threaded program that spends its time in
/// `poll`: the handler writes to a pipe the event loop watches, and records which
/// signal came. Handlers are installed without SA_RESTART so a blocking `connect`
/// returns EINTR at once. The library never installs them itself: a program that
/// wants `EventLoop.run` and `MQTTClient.connect` to stop on a signal calls
/// `install()` from its entry point.
public enum Signals {
    /// Installs the SIGINT/SIGTERM handlers once, ignores SIGPIPE (the library
    /// handles EPIPE where it writes; without this, call `signal(SIGPIPE, SIG_IGN)`
    /// yourself), and unblocks these signals. Safe to call again.
    public static func install() {
        guard signalPipeWrite < 0 else { return }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        signalPipeReadEnd = fds[0]
        signalPipeWrite = fds[1]
        for sig in [SIGINT, SIGTERM] {
            setHandler(sig) { sig in
                lastSignal = sig
                pendingSignal = sig
                var byte = UInt8(truncatingIfNeeded: sig)
                _ = write(signalPipeWrite, &byte, 1)
            }
        }
        signal(SIGPIPE, SIG_IGN)
        // A parent may hand us these signals blocked (a test runner's worker
        // thread, some supervisors); then a handler alone would never run.
        var mask = sigset_t()
        sigemptyset(&mask)
        for sig in [SIGINT, SIGTERM, SIGALRM] { sigaddset(&mask, sig) }
        sigprocmask(SIG_UNBLOCK, &mask, nil)
    }

    /// Sets `handler` for `sig` (no SA_RESTART); `previous` receives the old action.
    private static func setHandler(
        _ sig: Int32, previous: UnsafeMutablePointer<sigaction>? = nil,
        _ handler: @convention(c) (Int32) -> Void
    ) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handler
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(sig, &action, previous)
    }

    /// The last signal that asked us to stop, if one came (stays set).
    public static var received: Int32? {
        lastSignal == 0 ? nil : lastSignal
    }

    /// Puts a signal that a short, inner wait (sending DISCONNECT) took from the
    /// loop back, so that the outer loop still sees it and stops.
    public static func repost(_ sig: Int32) {
        lastSignal = sig
        pendingSignal = sig
    }

    /// A signal not yet reported by the event loop; clears it. The loop reports
    /// each signal once, so a command can still run the loop to send DISCONNECT.
    static func takePending() -> Int32? {
        let sig = pendingSignal
        guard sig != 0 else { return nil }
        pendingSignal = 0
        return sig
    }

    /// The read end of the pipe, for `poll`.
    static var pipeFD: Int32 { signalPipeReadEnd }

    static func drainPipe() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(signalPipeReadEnd, &buffer, buffer.count) > 0 {}
    }

    /// Runs `body` (a blocking call) with SIGALRM set to interrupt it after
    /// `seconds`. Returns whether the alarm went off. The SIGALRM handler is ours
    /// only for the call: the previous one is put back.
    static func withAlarm<R>(seconds: Double, _ body: () -> R) -> (result: R, timedOut: Bool) {
        alarmFired = 0
        var previous = sigaction()
        setHandler(SIGALRM, previous: &previous) { _ in alarmFired = 1 }
        defer { sigaction(SIGALRM, &previous, nil) }
        var timer = itimerval()
        if seconds > 0 && seconds < 1e7 {
            timer.it_value.tv_sec = Int(seconds)
            timer.it_value.tv_usec = Int((seconds - Double(Int(seconds))) * 1e6)
            if timer.it_value.tv_sec == 0 && timer.it_value.tv_usec == 0 { timer.it_value.tv_usec = 1 }
        }
        setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &timer, nil)
        let result = body()
        var off = itimerval()
        setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &off, nil)
        return (result, alarmFired != 0)
    }
}
