#if canImport(Glibc)
import Glibc
#endif

/// Descriptors 0, 1 and 2 as the parent left them. A closed one must not be
/// reused: the first pipe or socket opened (libmosquitto's wake-up socketpair,
/// the signal pipe, the broker connection) would take its number, and `pub -l`
/// would then read its own pipe as stdin and wait forever. So at start-up a
/// closed standard descriptor gets /dev/null opened the wrong way round
/// (stdin write-only, stdout and stderr read-only): the number is taken, and
/// using it still fails (EBADF), as it would have on the closed descriptor.
enum StandardStreams {
    nonisolated(unsafe) private(set) static var closedAtStart: Set<Int32> = []

    static func reserve() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            // open() returns the lowest free number, which is this one.
            let opened = open("/dev/null", (fd == 0 ? O_WRONLY : O_RDONLY) | O_CLOEXEC)
            if opened >= 0 && opened != fd {
                _ = dup2(opened, fd)
                close(opened)
            }
            closedAtStart.insert(fd)
        }
    }

    static func isClosed(_ fd: Int32) -> Bool { closedAtStart.contains(fd) }

    /// What a failed read or write on a standard descriptor means, for messages.
    static func describe(errno code: Int32, fd: Int32) -> String {
        if code == EBADF && isClosed(fd) { return "it is closed" }
        return String(cString: strerror(code))
    }
}
