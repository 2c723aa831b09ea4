#if canImport(Glibc)
import Glibc
#endif

/// A buffered writer for stdout. Per-message output is appended here (no
/// `print`, no per-message allocation) and written in large chunks: when the
/// buffer fills and whenever the event loop is about to wait, so a pipe sees
/// each batch as soon as it has arrived. A closed reader (EPIPE) is remembered
/// in `closed`, another error in `failure`; `written` and `appended` let `sub`
/// tell which messages really reached stdout.
final class OutputBuffer {
    private var storage: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    private(set) var count = 0
    let fd: Int32
    /// The reader went away (EPIPE). Nothing more will be written.
    private(set) var closed = false
    /// Another write error (disk full...), as errno.
    private(set) var failure: Int32?
    /// Bytes the kernel took (write(2) returned them).
    private(set) var written = 0
    /// Bytes thrown away because writing had failed.
    private var dropped = 0
    /// Bytes ever appended: a message ending at or before `written` is out.
    var appended: Int { written + dropped + count }
    /// Writing failed or the reader went away: nothing more gets out.
    var broken: Bool { closed || failure != nil }

    init(fd: Int32 = 1, capacity: Int = 1 << 16) {
        self.fd = fd
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit {
        storage.deallocate()
    }

    @inline(__always)
    func append(_ byte: UInt8) {
        if count == capacity { flush() }
        storage[count] = byte
        count += 1
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if bytes.count > capacity - count {
            flush()
            if bytes.count >= capacity {
                writeAll(base, bytes.count)
                return
            }
        }
        (storage + count).update(from: base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        count += bytes.count
    }

    func append(_ string: String) {
        var s = string
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    func append(_ string: StaticString) {
        append(UnsafeRawBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount))
    }

    /// Appends a decimal integer without going through String.
    func append(integer value: Int) {
        var sink = self
        DecimalText.append(value, to: &sink)
    }

    /// What is buffered and not yet written, as text (for tests of the renderers).
    var pendingText: String { String(decoding: UnsafeBufferPointer(start: storage, count: count), as: UTF8.self) }

    /// Flushes, and turns a failed write into the command's failure: 141,
    /// quietly, when the reader went away (as SIGPIPE would), 1 with the reason
    /// otherwise (a full disk). For the reports written once at the end.
    func finish() throws(CommandFailure) {
        flush()
        if closed { throw CommandFailure(.outputClosed, "") }
        if let failure {
            throw CommandFailure(
                .failure, "cannot write to stdout: \(StandardStreams.describe(errno: failure, fd: fd))")
        }
    }

    func flush() {
        guard count > 0 else { return }
        writeAll(UnsafeRawPointer(storage), count)
        count = 0
    }

    private func writeAll(_ base: UnsafeRawPointer, _ length: Int) {
        guard !closed, failure == nil else {
            dropped += length
            return
        }
        var offset = 0
        while offset < length {
            let n = write(fd, base + offset, length - offset)
            if n > 0 {
                offset += n
                written += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && errno == EAGAIN {
                // stdout set non-blocking by someone else: wait until writable.
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 1000)
            } else {
                if errno == EPIPE { closed = true } else { failure = n == 0 ? EIO : errno }
                dropped += length - offset
                return
            }
        }
    }
}
