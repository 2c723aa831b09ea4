#if canImport(Glibc)
import Glibc
#endif

/// Reading publish payloads: whole files, all of stdin, or stdin line by line.
enum InputReading {
    /// The whole content of `path` (`-f`). Throws a usage failure naming the file.
    static func readFile(_ path: String) throws(CommandFailure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .usage("cannot read '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            throw .usage("cannot read '\(path)': it is a directory")
        }
        do {
            return try readAll(fd)
        } catch {
            throw .usage("cannot read '\(path)': \(String(cString: strerror(error.code)))")
        }
    }

    /// All of stdin (`-s`).
    static func readStdin() throws(CommandFailure) -> [UInt8] {
        do {
            return try readAll(0)
        } catch {
            throw .usage("cannot read stdin: \(String(cString: strerror(error.code)))")
        }
    }

    struct ReadError: Error { let code: Int32 }

    static func readAll(_ fd: Int32) throws(ReadError) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                result.append(contentsOf: chunk[0..<n])
                if result.count > 268_435_455 { throw ReadError(code: EFBIG) }
            } else if n == 0 {
                return result
            } else if errno != EINTR && errno != EAGAIN {
                throw ReadError(code: errno)
            }
        }
    }
}

/// Splits a stream into lines without copying each line: `withNextLine` hands
/// out a view into the buffer. Lines end at '\n' (which is not part of the
/// message); a last line without '\n' is still a line; any length is allowed.
final class LineReader {
    private var storage: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var start = 0        // first unconsumed byte
    private var end = 0          // one past the last buffered byte
    private var scanned = 0      // bytes from `start` known to hold no '\n'
    private(set) var endOfInput = false
    /// Lines handed out so far.
    private(set) var lineNumber = 0
    let fd: Int32

    init(fd: Int32, capacity: Int = 1 << 17) {
        self.fd = fd
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit { storage.deallocate() }

    /// Reads once from the fd (call when poll says it is readable). Returns an
    /// errno on a read failure.
    func fill() -> Int32? {
        if start > 0 {
            // Move the unconsumed tail to the front.
            let pending = end - start
            if pending > 0 { storage.update(from: storage + start, count: pending) }
            start = 0
            end = pending
        }
        if capacity - end < (1 << 16) {
            // A long line: grow so that any length fits.
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
            bigger.update(from: storage, count: end)
            storage.deallocate()
            storage = bigger
            capacity *= 2
        }
        let got = read(fd, storage + end, capacity - end)
        if got > 0 {
            end += got
            return nil
        }
        if got == 0 {
            endOfInput = true
            return nil
        }
        let savedErrno = errno
        if savedErrno == EINTR || savedErrno == EAGAIN { return nil }
        endOfInput = true
        return savedErrno
    }

    /// The index of the next '\n' at or after `start`, if buffered.
    private func nextNewline() -> Int? {
        let from = start + scanned
        guard from < end, let hit = memchr(storage + from, 10, end - from) else {
            scanned = end - start
            return nil
        }
        return storage.distance(to: hit.assumingMemoryBound(to: UInt8.self))
    }

    /// Whether a complete line (or the last unterminated one) is buffered.
    var hasLine: Bool {
        nextNewline() != nil || (endOfInput && start < end)
    }

    /// Whether everything has been read and handed out.
    var isExhausted: Bool { endOfInput && start >= end }

    /// Calls `body` with the next line, if one is buffered. The view is valid
    /// only during the call.
    func withNextLine<R>(_ body: (UnsafeRawBufferPointer) throws(CommandFailure) -> R) throws(CommandFailure) -> R? {
        let lineEnd: Int
        let next: Int
        if let newline = nextNewline() {
            lineEnd = newline
            next = newline + 1
        } else if endOfInput && start < end {
            lineEnd = end
            next = end
        } else {
            return nil
        }
        lineNumber += 1
        let line = UnsafeRawBufferPointer(start: storage + start, count: lineEnd - start)
        start = next
        scanned = 0
        return try body(line)
    }
}
