#if canImport(Glibc)
import Glibc
#endif
import CWebSocketBridge

/// MQTT over WebSocket for a libmosquitto without a WebSocket transport (2.0):
/// libmosquitto keeps doing all of MQTT over a private unix socket, and this
/// bridge carries those bytes over one ws:// or wss:// connection with
/// libwebsockets (`Sources/CWebSocketBridge`, loaded with dlopen on first use,
/// so a TCP run never maps it).
///
/// libwebsockets runs its own poll loop on one thread per connection (Debian
/// builds it without external-poll support, so its sockets cannot join the
/// `EventLoop`); that thread blocks every signal, so SIGINT, SIGTERM and SIGALRM
/// stay with the main thread. What crosses between the threads is the unix
/// socket itself (bytes never wait in a queue of ours) and a status pipe that
/// the `EventLoop` watches: the upgrade's outcome, a close frame, the end of the
/// broker's TCP connection, a certificate verification error.
///
/// Order of a connect: the WebSocket upgrade completes first (`awaitUpgrade`,
/// so that nothing the broker is timed by includes the handshake), then
/// libmosquitto connects to the unix socket and its CONNECT goes out.
final class WebSocketBridge {
    /// What the bridge thread reported.
    enum Event: Equatable {
        /// The upgrade succeeded; the server chose this subprotocol.
        case ready(subprotocol: String)
        /// The server answered the upgrade with this HTTP status (not 101).
        case httpStatus(code: Int, statusLine: String, location: String)
        /// The server chose another subprotocol (empty: none).
        case subprotocol(String)
        /// OpenSSL's certificate verification failed (an X509_V_ERR_* code).
        case tlsVerify(code: Int, depth: Int)
        /// The connection failed before the upgrade, in libwebsockets' words, with errno as it was then.
        case error(String, errno: Int32)
        /// The host name could not be resolved.
        case nameLookup(String)
        /// The server sent a close frame (1005: without a code).
        case closeFrame(code: Int, reason: String)
        /// The server's TCP connection ended.
        case ended(TransportEnd)
        /// The server sent a text frame, which MQTT does not allow.
        case textFrame
    }

    /// Read end of the status pipe (watched by the EventLoop).
    let statusFD: Int32
    private let statusWriteFD: Int32
    private let bridge: OpaquePointer
    private var thread: pthread_t?
    private var partialLine: [UInt8] = []
    /// Every event read so far, in order.
    private(set) var events: [Event] = []
    /// The unix socket libmosquitto connects to, until it is handed over.
    private var listener: Int32 = -1
    private var directory: String?
    /// The local socket was handed to the bridge thread.
    private var handedOver = false

    /// Starts the connection to `host`:`port` on a thread of its own. Throws
    /// when libwebsockets cannot be loaded or TLS cannot be set up.
    init(host: String, port: Int, webSocket: WebSocketOptions, tls: TLSOptions?, timeout: Double) throws(MQTTError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw MQTTError(.other, "WebSocket: cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        statusFD = fds[0]
        statusWriteFD = fds[1]

        let hostHeader =
            webSocket.headers.first { Self.headerName($0).lowercased() == "host" }
            .map { Self.headerValue($0) }
            ?? (host.includes(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
        let extraHeaders = webSocket.headers.filter { Self.headerName($0).lowercased() != "host" }
        var error = [CChar](repeating: 0, count: 512)
        let created: OpaquePointer? = withCStrings(
            [
                host, webSocket.path, hostHeader, webSocket.subprotocol,
                tls?.caFile, tls?.caPath, tls?.certFile, tls?.keyFile,
                tls?.ciphers, tls?.alpn,
            ] + extraHeaders
        ) { strings in
            var config = wsb_config()
            config.host = strings[0]
            config.port = Int32(port)
            config.path = strings[1]
            config.host_header = strings[2]
            config.subprotocol = strings[3]
            config.tls = tls != nil ? 1 : 0
            config.ca_file = strings[4]
            config.ca_path = strings[5]
            config.cert_file = strings[6]
            config.key_file = strings[7]
            config.ciphers = strings[8]
            config.alpn = strings[9]
            config.use_os_certs = tls?.useOSCertificates == true ? 1 : 0
            config.insecure = tls?.insecure == true ? 1 : 0
            config.tls_min_version =
                switch tls?.version {
                case "tlsv1.3"?: 0x0304
                case "tlsv1.1"?: 0x0302
                default: 0x0303  // TLS 1.2, libmosquitto's default
                }
            config.timeout_s = Int32(max(1, min(3600, timeout.rounded(.up))))
            let headers = Array(strings[10...])
            return headers.withUnsafeBufferPointer { list in
                config.headers = list.baseAddress.map { UnsafePointer($0) }
                config.header_count = Int32(list.count)
                return wsb_new(&config, fds[1], &error, error.count)
            }
        }
        guard let created else {
            close(fds[0])
            close(fds[1])
            let text = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("tls: ") {
                throw MQTTError(.tls, String(text.dropFirst(5)))
            }
            throw MQTTError(.other, text)
        }
        bridge = created
        try start()
    }

    private func start() throws(MQTTError) {
        // Every signal blocked while the thread is created: it inherits the mask.
        var all = sigset_t()
        var previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, &previous)
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { argument in
                guard let argument else { return nil }
                wsb_run(OpaquePointer(argument))
                return nil
            }, UnsafeMutableRawPointer(bridge))
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        guard rc == 0 else {
            wsb_destroy(bridge)
            close(statusFD)
            close(statusWriteFD)
            throw MQTTError(.other, "WebSocket: cannot start a thread: \(String(cString: strerror(rc)))")
        }
        self.thread = thread
    }

    deinit {
        close(listener)
        removeLocalPath()
        finish()
    }

    /// Stops the thread and frees the connection. A close handshake under way is
    /// given a moment to complete; a thread that does not return (stuck in a name
    /// lookup) is left to end by itself, with what it uses.
    private func finish() {
        guard let thread else { return }
        // Once libmosquitto's side has ended the bridge sends a close frame and
        // waits for the server's: let that finish (briefly).
        if !waitForThread(milliseconds: handedOver ? 1000 : 0) {
            wsb_stop(bridge)
            guard waitForThread(milliseconds: 1000) else {
                pthread_detach(thread)
                return
            }
        }
        pthread_join(thread, nil)
        wsb_destroy(bridge)
        close(statusFD)
        close(statusWriteFD)
    }

    private func waitForThread(milliseconds: Int) -> Bool {
        var waited = 0
        while true {
            if wsb_returned(bridge) != 0 { return true }
            if waited >= milliseconds { return false }
            usleep(1000)
            waited += 1
        }
    }

    // MARK: Connecting

    /// The outcome of the upgrade.
    enum Upgrade {
        case ready
        /// Every event up to the failure.
        case failed([Event])
        case timedOut
        case interrupted(Int32)
    }

    /// Waits until the upgrade has succeeded or failed, the monotonic `deadline`
    /// passes, or SIGINT/SIGTERM arrives.
    func awaitUpgrade(deadline: UInt64) -> Upgrade {
        while true {
            for (index, event) in events.enumerated() {
                switch event {
                case .ready: return .ready
                case .httpStatus, .subprotocol, .error, .nameLookup, .closeFrame, .ended, .textFrame:
                    return .failed(Array(events[...index]))
                case .tlsVerify: continue
                }
            }
            if let sig = Signals.received { return .interrupted(sig) }
            let now = MonotonicClock.now()
            if now >= deadline { return .timedOut }
            let ms = deadline == .max ? -1 : Int32(min((deadline - now + 999_999) / 1_000_000, 3_600_000))
            var fds = [
                pollfd(fd: statusFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: Signals.pipeFD, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, ms)
            _ = readEvents()
        }
    }

    /// A listening unix socket in a private directory for libmosquitto to
    /// connect to (`mosquitto_connect(path, port 0)`): the connect completes on
    /// the backlog, then `handOver` accepts it.
    func makeLocalPath() throws(MQTTError) -> String {
        var base = "/tmp"
        if let tmp = getenv("TMPDIR"), tmp.pointee == UInt8(ascii: "/"), strlen(tmp) < 60 {
            base = String(cString: tmp)
        }
        var template = Array("\(base)/mqttctl-ws-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let start = buffer.baseAddress else { return false }
            return mkdtemp(start) != nil
        }
        guard made else {
            throw MQTTError(
                .other, "WebSocket: cannot create a private directory in \(base): \(String(cString: strerror(errno)))")
        }
        let directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.directory = directory
        let path = directory + "/s"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            removeLocalPath()
            throw MQTTError(.other, "WebSocket: cannot create a unix socket: \(String(cString: strerror(errno)))")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let fits = withUnsafeMutableBytes(of: &address.sun_path) { raw -> Bool in
            guard bytes.count < raw.count else { return false }
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
            return true
        }
        let bound =
            fits
            && withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
                }
            }
        guard bound, listen(fd, 1) == 0 else {
            let e = errno
            close(fd)
            removeLocalPath()
            throw MQTTError(
                .other, "WebSocket: cannot listen on a unix socket in \(base): \(String(cString: strerror(e)))")
        }
        listener = fd
        return path
    }

    /// After libmosquitto's connect: accepts its connection, removes the path,
    /// and hands the socket to the bridge thread.
    func handOver() throws(MQTTError) {
        defer {
            close(listener)
            listener = -1
            removeLocalPath()
        }
        let fd = accept(listener, nil, nil)
        if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        guard fd >= 0 else {
            throw MQTTError(
                .other, "WebSocket: cannot accept the local connection: \(String(cString: strerror(errno)))")
        }
        // The directory is ours alone (mode 0700), and the peer must be this process:
        // libmosquitto's socket, nobody else's.
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (Glibc shows it only with _GNU_SOURCE).
        var credentials: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0, credentials.pid == getpid() else {
            close(fd)
            throw MQTTError(.other, "WebSocket: the local connection does not come from this process")
        }
        guard wsb_attach(bridge, fd) == 0 else {
            close(fd)
            throw MQTTError(.other, "WebSocket: cannot hand the local connection to the bridge")
        }
        handedOver = true
    }

    private func removeLocalPath() {
        guard let directory else { return }
        unlink(directory + "/s")
        rmdir(directory)
        self.directory = nil
    }

    // MARK: Events

    /// Reads what the bridge reported since the last call (never blocks) and
    /// returns the new events; all of them stay in `events`.
    @discardableResult
    func readEvents() -> [Event] {
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(statusFD, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            partialLine += buffer[0..<n]
        }
        var new: [Event] = []
        while let newline = partialLine.firstIndex(of: 10) {
            let line = Array(partialLine[..<newline])
            partialLine.removeSubrange(...newline)
            if let event = Self.parse(line) { new.append(event) }
        }
        events += new
        return new
    }

    /// The last close frame the server sent, if any.
    var closeFrame: (code: Int, reason: String)? {
        for event in events.reversed() {
            if case .closeFrame(let code, let reason) = event { return (code, reason) }
        }
        return nil
    }

    var tlsVerifyResult: Int? {
        for event in events {
            if case .tlsVerify(let code, _) = event { return code }
        }
        return nil
    }

    static func parse(_ line: [UInt8]) -> Event? {
        let words = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map { Array($0) }
        guard let kind = words.first.map({ String(decoding: $0, as: UTF8.self) }) else { return nil }
        func text(_ i: Int) -> String { i < words.count ? unhex(words[i]) : "" }
        func number(_ i: Int) -> Int? { i < words.count ? Int(String(decoding: words[i], as: UTF8.self)) : nil }
        switch kind {
        case "ready": return .ready(subprotocol: text(1))
        case "http": return .httpStatus(code: number(1) ?? 0, statusLine: text(2), location: text(3))
        case "subprotocol": return .subprotocol(text(1))
        case "tls-verify": return .tlsVerify(code: number(1) ?? 0, depth: number(2) ?? 0)
        case "error": return .error(text(2), errno: Int32(number(1) ?? 0))
        case "dns": return .nameLookup(text(1))
        case "close": return .closeFrame(code: number(1) ?? 1005, reason: text(2))
        case "end": return .ended(words.count > 1 && words[1] == Array("reset".utf8) ? .reset : .fin)
        case "text-frame": return .textFrame
        default: return nil
        }
    }

    /// Hex digits to text (invalid UTF-8 repaired, as it is only shown).
    private static func unhex(_ digits: [UInt8]) -> String {
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var bytes: [UInt8] = []
        var i = 0
        while i + 1 < digits.count, let hi = value(digits[i]), let lo = value(digits[i + 1]) {
            bytes.append(hi << 4 | lo)
            i += 2
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func headerName(_ header: String) -> Substring {
        header.prefix { $0 != ":" }
    }

    static func headerValue(_ header: String) -> String {
        guard let colon = header.firstIndex(of: ":") else { return "" }
        return String(header[header.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
    }
}

/// Calls `body` with C copies of `strings` (nil stays NULL) that live for the call.
private func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { copies.forEach { free($0) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}

/// A WebSocket close frame's status code and reason, as shown in messages.
public enum WebSocketClose {
    /// "1001 (going away) \"shutting down\"": the code, its name from RFC 6455
    /// section 7.4.1 when it has one, and the reason when there is one.
    public static func describe(code: Int, reason: String) -> String {
        let name: String? =
            switch code {
            case 1000: "normal closure"
            case 1001: "going away"
            case 1002: "protocol error"
            case 1003: "unsupported data"
            case 1005: "no status code"
            case 1006: "abnormal closure"
            case 1007: "invalid payload data"
            case 1008: "policy violation"
            case 1009: "message too big"
            case 1010: "mandatory extension"
            case 1011: "internal server error"
            case 1015: "TLS handshake failure"
            default: nil
            }
        var text = String(code)
        if let name { text += " (\(name))" }
        if !reason.isEmpty { text += " \"\(reason)\"" }
        return text
    }
}
