#if canImport(Glibc)
import Glibc
#endif

/// The largest payload MQTT can carry: a PUBLISH's remaining length is at most
/// 268,435,455 bytes (four bytes of variable-length integer), payload included.
let largestMQTTPayload = 268_435_455

/// Bytes in memory that malloc gave, so that running out of memory (a huge
/// file, a line that never ends) is an error message rather than a trap.
final class Payload {
    private(set) var base: UnsafeMutablePointer<UInt8>?
    private(set) var count = 0
    private(set) var capacity = 0

    init() {}

    init(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { source in
            guard let from = source.baseAddress, grow(to: source.count), let base else { return }
            base.update(from: from, count: source.count)
            count = source.count
        }
    }

    deinit { free(base) }

    /// Makes `capacity` at least `size`; false when memory ran out.
    func grow(to size: Int) -> Bool {
        guard size > capacity else { return true }
        guard let bigger = realloc(base, size) else { return false }
        base = bigger.assumingMemoryBound(to: UInt8.self)
        capacity = size
        return true
    }

    /// Reads once from `fd` into the free capacity. read(2)'s result.
    func read(from fd: Int32) -> Int {
        guard let base, capacity > count else { return 0 }
        let n = Glibc.read(fd, base + count, capacity - count)
        if n > 0 { count += n }
        return n
    }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// Reading publish payloads: whole files, all of stdin, or stdin line by line.
/// Every way in ends with one message and status 2 when the input is unusable
/// (unreadable, closed, a directory, larger than a payload can be).
enum InputReading {
    enum ReadError: Error {
        case system(Int32)
        /// More than the limit: reading stopped there.
        case tooLarge
        case outOfMemory(Int)
    }

    /// The whole content of `path` (`-f`). Throws a failure naming the file.
    static func readFile(_ path: String) throws(CommandFailure) -> Payload {
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
            return try readAll(fd, limit: largestMQTTPayload)
        } catch {
            throw failure(error, what: "'\(path)'", fd: fd)
        }
    }

    /// All of stdin (`-s`).
    static func readStdin() throws(CommandFailure) -> Payload {
        try requireStdin(for: "-s")
        do {
            return try readAll(0, limit: largestMQTTPayload)
        } catch {
            throw failure(error, what: "stdin", fd: 0)
        }
    }

    /// A usage failure when stdin was closed when mqttctl started (`<&-`).
    static func requireStdin(for option: String) throws(CommandFailure) {
        if StandardStreams.isClosed(0) {
            throw .usage("stdin is closed, and \(option) reads the message\(option == "-l" ? "s" : "") from it")
        }
    }

    static func failure(_ error: ReadError, what: String, fd: Int32) -> CommandFailure {
        switch error {
        case .system(let code):
            let reason = fd <= 2 ? StandardStreams.describe(errno: code, fd: fd) : String(cString: strerror(code))
            return .usage("cannot read \(what): \(code == EISDIR ? "it is a directory" : reason)")
        case .tooLarge:
            return .usage("\(what) holds more than \(largestMQTTPayload) bytes, the largest MQTT payload")
        case .outOfMemory(let bytes):
            return CommandFailure(.failure, "out of memory reading \(what) (\(bytes) bytes)")
        }
    }

    /// Everything `fd` gives, at most `limit` bytes (more is `.tooLarge`).
    /// Memory grows with the input, never beyond the limit.
    static func readAll(_ fd: Int32, limit: Int) throws(ReadError) -> Payload {
        let payload = Payload()
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG {
            // A regular file says its size: refuse at once, or allocate once.
            if Int(st.st_size) > limit { throw .tooLarge }
            if !payload.grow(to: Int(st.st_size) + 1) { throw .outOfMemory(Int(st.st_size)) }
        }
        while true {
            if payload.capacity - payload.count < 1 << 16 && payload.capacity <= limit {
                let size = min(max(payload.capacity * 2, payload.count + (1 << 16)), limit + 1)
                if !payload.grow(to: size) { throw .outOfMemory(size) }
            }
            let n = payload.read(from: fd)
            if payload.count > limit { throw .tooLarge }
            if n == 0 { return payload }
            if n < 0 && errno != EINTR && errno != EAGAIN { throw .system(errno) }
        }
    }

    /// Why a small file could not be read, for messages.
    static func reason(_ error: ReadError) -> String {
        switch error {
        case .system(let code): return String(cString: strerror(code))
        case .tooLarge: return "it is larger than 1 MiB"
        case .outOfMemory: return "out of memory"
        }
    }

    /// Small files (config, password): at most 1 MiB, as bytes.
    static func readSmall(_ fd: Int32) throws(ReadError) -> [UInt8] {
        try readAll(fd, limit: 1 << 20).bytes
    }
}

/// Splits a stream into lines without copying each line: `withNextLine` hands
/// out a view into the buffer. Lines end at '\n' (which is not part of the
/// message); a last line without '\n' is still a line. A line longer than
/// `limit` stops the reading as soon as the limit is passed (`problem`), so
/// memory stays within the limit whatever the input (`< /dev/zero`).
final class LineReader {
    enum Problem: Equatable {
        case read(Int32)
        case lineTooLong(line: Int)
        case outOfMemory(Int)
    }

    private let buffer = Payload()
    private var start = 0  // first unconsumed byte
    private var scanned = 0  // bytes from `start` known to hold no '\n'
    private(set) var endOfInput = false
    /// Why reading stopped early, if it did.
    private(set) var problem: Problem?
    /// Lines handed out so far.
    private(set) var lineNumber = 0
    /// The longest line taken: the largest payload, or less once the broker has
    /// said (MQTT 5 Maximum Packet Size).
    var limit = largestMQTTPayload
    let fd: Int32

    init(fd: Int32, capacity: Int = 1 << 17) {
        self.fd = fd
        if !buffer.grow(to: capacity) { stop(.outOfMemory(capacity)) }
    }

    private var end: Int { buffer.count }

    private func stop(_ problem: Problem) {
        self.problem = problem
        endOfInput = true
        start = 0
        scanned = 0
        buffer.drop()
    }

    /// Reads once from the fd (call when poll says it is readable).
    func fill() {
        guard !endOfInput else { return }
        if start > 0 {
            buffer.dropFirst(start)
            start = 0
        }
        if buffer.capacity - end < 1 << 16 {
            // A long line: grow, but never much beyond the longest line allowed.
            let size = min(max(buffer.capacity * 2, end + (1 << 16)), limit + 1 + (1 << 16))
            if size > buffer.capacity && !buffer.grow(to: size) {
                stop(.outOfMemory(size))
                return
            }
        }
        let got = buffer.read(from: fd)
        if got == 0 {
            endOfInput = true
        } else if got < 0 {
            let savedErrno = errno
            if savedErrno != EINTR && savedErrno != EAGAIN { stop(.read(savedErrno)) }
        } else if end - start > limit, !hasNewline(from: start, count: limit + 1) {
            stop(.lineTooLong(line: lineNumber + 1))
        }
    }

    private func hasNewline(from: Int, count: Int) -> Bool {
        guard let base = buffer.base else { return false }
        return memchr(base + from, 10, min(count, end - from)) != nil
    }

    /// The index of the next '\n' at or after `start`, if buffered.
    private func nextNewline() -> Int? {
        let from = start + scanned
        guard from < end, let base = buffer.base, let hit = memchr(base + from, 10, end - from) else {
            scanned = end - start
            return nil
        }
        return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
    }

    /// Whether a complete line (or the last unterminated one) is buffered.
    var hasLine: Bool {
        nextNewline() != nil || (endOfInput && start < end)
    }

    /// Whether everything has been read and handed out (or reading stopped).
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
        if lineEnd - start > limit {
            stop(.lineTooLong(line: lineNumber + 1))
            return nil
        }
        lineNumber += 1
        let line = UnsafeRawBufferPointer(start: buffer.base.map { $0 + start }, count: lineEnd - start)
        start = next
        scanned = 0
        return try body(line)
    }
}

extension Payload {
    /// Forgets the first `n` bytes, moving the rest to the front.
    func dropFirst(_ n: Int) {
        guard let base, n > 0 else { return }
        let rest = count - n
        if rest > 0 { base.update(from: base + n, count: rest) }
        count = max(0, rest)
    }

    /// Forgets everything and gives the memory back.
    func drop() {
        free(base)
        base = nil
        count = 0
        capacity = 0
    }
}
