#if canImport(Glibc)
import Glibc
#endif
import CMosquitto

/// What libmosquitto's callbacks are turned into. `MQTTClient` implements it.
protocol MosquittoEvents: AnyObject {
    func connackReceived(code: Int, sessionPresent: Bool, properties: OpaquePointer?)
    func disconnected(code: Int32)
    func publishCompleted(mid: Int32, reasonCode: Int32)
    func messageReceived(_ message: UnsafePointer<mosquitto_message>, properties: OpaquePointer?)
    func subscribed(mid: Int32, granted: UnsafeBufferPointer<Int32>)
    func unsubscribed(mid: Int32)
    func logged(level: Int32, message: UnsafePointer<CChar>)
}

/// Owns one `struct mosquitto *` and makes every call on it. Nothing else in the
/// package touches the raw handle. The network loop is ours: the handle is put in
/// libmosquitto's "external thread" mode so that the library never writes on its
/// own; `loopWrite()` is the only place packets leave.
final class MosquittoHandle {
    private let raw: OpaquePointer
    /// Receives the callbacks. The client owns this handle, so it outlives it.
    unowned(unsafe) var events: MosquittoEvents

    private static let libraryInitialised: Void = {
        mosquitto_lib_init()
    }()

    init(clientID: String?, cleanSession: Bool, events: MosquittoEvents) throws(MQTTError) {
        _ = Self.libraryInitialised
        self.events = events
        guard let raw = mosquitto_new(clientID, cleanSession, nil) else {
            let e = errno
            throw e == EINVAL
                ? MQTTError(.invalidArgument, "a client id is needed when the clean session flag is off (use -i)")
                : MQTTError(.other, "could not create a libmosquitto client: \(String(cString: strerror(e)))")
        }
        self.raw = raw
        mosquitto_user_data_set(raw, Unmanaged.passUnretained(self).toOpaque())
        installCallbacks()
        // External threading: packets are only queued by libmosquitto; we write them.
        mosquitto_threaded_set(raw, true)
    }

    deinit {
        mosquitto_destroy(raw)
    }

    // MARK: Options

    func setProtocolVersion(_ version: ProtocolVersion) throws(MQTTError) {
        try check(mosquitto_int_option(raw, MOSQ_OPT_PROTOCOL_VERSION, version.mosquittoValue), "protocol version")
    }

    func setCredentials(username: String?, password: String?) throws(MQTTError) {
        try check(mosquitto_username_pw_set(raw, username, password), "username/password")
    }

    func setWill(_ will: Will) throws(MQTTError) {
        var list = try will.properties.makeList()
        let rc = will.payload.withUnsafeBytes { payload in
            mosquitto_will_set_v5(
                raw, will.topic, Int32(payload.count), payload.baseAddress, Int32(will.qos), will.retain, list)
        }
        if rc != MOSQ_ERR_SUCCESS.rawValue {
            // On success libmosquitto owns the list; on failure it is still ours.
            mosquitto_property_free_all(&list)
            throw MQTTError.library(rc, context: "will message")
        }
    }

    func setMaxInflight(_ count: Int) throws(MQTTError) {
        try check(mosquitto_int_option(raw, MOSQ_OPT_SEND_MAXIMUM, Int32(clamping: count)), "max inflight")
    }

    func setReceiveMaximum(_ count: Int) throws(MQTTError) {
        try check(mosquitto_int_option(raw, MOSQ_OPT_RECEIVE_MAXIMUM, Int32(clamping: count)), "receive maximum")
    }

    func setTCPNoDelay(_ on: Bool) throws(MQTTError) {
        try check(mosquitto_int_option(raw, MOSQ_OPT_TCP_NODELAY, on ? 1 : 0), "TCP_NODELAY")
    }

    func setSOCKS5(_ proxy: SOCKSProxy) throws(MQTTError) {
        try check(mosquitto_socks5_set(raw, proxy.host, Int32(proxy.port), proxy.username, proxy.password), .socksProxy)
    }

    /// DNS SRV lookup of the broker, then connect (libmosquitto's `mosquitto_connect_srv`;
    /// MOSQ_ERR_NOT_SUPPORTED when it was built without SRV support, as Debian's is).
    func connectSRV(host: String, keepAlive: Int, bindAddress: String?) -> Int32 {
        mosquitto_connect_srv(raw, host, Int32(keepAlive), bindAddress)
    }

    /// `--tls-engine`, `--keyform`, `--tls-engine-kpass-sha1`, as mosquitto's clients
    /// set them, each refusal with its own reason.
    private func setTLSEngine(_ tls: TLSOptions) throws(MQTTError) {
        if let engine = tls.engine {
            let rc = mosquitto_string_option(raw, MOSQ_OPT_TLS_ENGINE, engine)
            if rc == MOSQ_ERR_NOT_SUPPORTED.rawValue {
                throw rejected(.tlsEngine(nil), "this libmosquitto or OpenSSL has no engine support")
            }
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                throw rejected(.tlsEngine(engine), "the installed OpenSSL has no such engine (see 'openssl engine')")
            }
        }
        if let keyForm = tls.keyForm,
            mosquitto_string_option(raw, MOSQ_OPT_TLS_KEYFORM, keyForm) != MOSQ_ERR_SUCCESS.rawValue
        {
            throw rejected(.keyForm(keyForm), "use pem or engine")
        }
        if let sha1 = tls.engineKeyPasswordSHA1,
            mosquitto_string_option(raw, MOSQ_OPT_TLS_ENGINE_KPASS_SHA1, sha1) != MOSQ_ERR_SUCCESS.rawValue
        {
            throw rejected(.engineKeyPasswordSHA1, "use the SHA-1 in 40 hexadecimal digits")
        }
    }

    func setTLS(_ tls: TLSOptions) throws(MQTTError) {
        if let psk = tls.psk {
            try check(mosquitto_tls_psk_set(raw, psk, tls.pskIdentity ?? "", tls.ciphers), "TLS-PSK")
            if tls.version != nil {
                try check(mosquitto_tls_opts_set(raw, 1, tls.version, tls.ciphers), "TLS version/ciphers")
            }
        } else {
            var caPath = tls.caPath
            if tls.certFile != nil && tls.caFile == nil && caPath == nil {
                // mosquitto_tls_set needs a CA file or directory to take a client
                // certificate; with neither, trust the system's (as with no certificate).
                caPath = String(cString: X509_get_default_cert_dir())
            }
            if tls.caFile != nil || caPath != nil {
                try check(mosquitto_tls_set(raw, tls.caFile, caPath, tls.certFile, tls.keyFile, nil), "TLS")
            }
            if tls.useOSCertificates || (tls.caFile == nil && tls.caPath == nil) {
                try check(mosquitto_int_option(raw, MOSQ_OPT_TLS_USE_OS_CERTS, 1), .useOSCertificates)
            }
            if tls.version != nil || tls.ciphers != nil {
                try check(mosquitto_tls_opts_set(raw, 1, tls.version, tls.ciphers), "TLS version/ciphers")
            }
            if tls.insecure {
                try check(mosquitto_tls_insecure_set(raw, true), .insecure)
            }
        }
        if let alpn = tls.alpn {
            try check(mosquitto_string_option(raw, MOSQ_OPT_TLS_ALPN, alpn), .alpn)
        }
        try setTLSEngine(tls)
    }

    func setLogging(_ enabled: Bool) {
        // libmosquitto formats a log line per packet only while a callback is set.
        mosquitto_log_callback_set(
            raw,
            enabled
                ? { _, obj, level, text in
                    guard let obj, let text else { return }
                    MosquittoHandle.from(obj).events.logged(level: level, message: text)
                } : nil)
    }

    // MARK: Connection

    /// Blocking TCP connect (interruptible by a signal), then CONNECT is queued.
    func connect(host: String, port: Int, keepAlive: Int, bindAddress: String?, properties: MQTTProperties) -> Int32 {
        do {
            return try properties.withList { list in
                mosquitto_connect_bind_v5(raw, host, Int32(port), Int32(keepAlive), bindAddress, list)
            }
        } catch {
            return error.libraryCode?.rawValue ?? MOSQ_ERR_INVAL.rawValue
        }
    }

    func reconnect() -> Int32 {
        mosquitto_reconnect(raw)
    }

    var socket: Int32 { mosquitto_socket(raw) }
    var wantsWrite: Bool { mosquitto_want_write(raw) }

    // MARK: Requests

    func publish(
        topic: String, payload: UnsafeRawBufferPointer, qos: Int, retain: Bool, properties: OpaquePointer?
    ) -> (rc: Int32, mid: Int32) {
        var mid: Int32 = 0
        let rc = mosquitto_publish_v5(
            raw, &mid, topic, Int32(payload.count), payload.baseAddress, Int32(qos), retain, properties)
        return (rc, mid)
    }

    func subscribe(filters: [String], qos: Int, options: Int32, properties: OpaquePointer?) -> (rc: Int32, mid: Int32) {
        var mid: Int32 = 0
        let rc = withCStringArray(filters) { array in
            mosquitto_subscribe_multiple(raw, &mid, Int32(filters.count), array, Int32(qos), options, properties)
        }
        return (rc, mid)
    }

    func unsubscribe(filters: [String], properties: OpaquePointer?) -> (rc: Int32, mid: Int32) {
        var mid: Int32 = 0
        let rc = withCStringArray(filters) { array in
            mosquitto_unsubscribe_multiple(raw, &mid, Int32(filters.count), array, properties)
        }
        return (rc, mid)
    }

    // MARK: Loop steps (see EventLoop)

    /// Reads what is available. Returns the libmosquitto code and whether the socket
    /// looked drained (the last read hit EAGAIN), so the caller knows to stop.
    func loopRead() -> (rc: Int32, drained: Bool, errno: Int32) {
        errno = 0
        let rc = mosquitto_loop_read(raw, 1)
        let e = errno
        var drained = e == EAGAIN || e == EWOULDBLOCK
        if drained, rc == MOSQ_ERR_SUCCESS.rawValue {
            // The EAGAIN may not be the socket's: every packet libmosquitto queues (a
            // PUBACK for each QoS 1 message) writes a wake-up byte to its internal
            // socketpair, which nobody reads in our loop, so once that pair is full
            // the write fails with EAGAIN. Ask the socket itself; otherwise a backlog
            // would drain one poll per message.
            drained = !hasBufferedInput()
        }
        return (rc, drained, e)
    }

    /// Whether a read would find data now: bytes TLS has already decrypted, or
    /// bytes waiting on the socket. One non-blocking peek, no data consumed.
    private func hasBufferedInput() -> Bool {
        let fd = socket
        guard fd >= 0 else { return false }
        if let ssl = mosquitto_ssl_get(raw), SSL_pending(OpaquePointer(ssl)) > 0 { return true }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) > 0
    }

    func loopWrite() -> Int32 {
        mosquitto_loop_write(raw, 1)
    }

    /// Keep-alive bookkeeping: sends PINGREQ when due, drops the connection when a
    /// PINGRESP is overdue.
    func loopMisc() -> Int32 {
        mosquitto_loop_misc(raw)
    }

    /// Writes a raw PINGREQ (0xC0 0x00) on the connection's socket or TLS session.
    /// libmosquitto has no call for this. Only valid when nothing is half-written.
    func writePingRequest() -> Bool {
        guard !wantsWrite else { return false }
        return writeRaw([0xC0, 0x00])
    }

    /// Writes a small packet (PINGREQ, DISCONNECT) straight to the socket or TLS
    /// session, around libmosquitto's queue. Only valid when libmosquitto has no
    /// packet half-written (checked by the callers).
    func writeRaw(_ bytes: [UInt8]) -> Bool {
        guard socket >= 0, !bytes.isEmpty else { return false }
        return bytes.withUnsafeBytes { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            if let ssl = mosquitto_ssl_get(raw) {
                let ssl = OpaquePointer(ssl)
                // libmosquitto sets no partial writes: SSL_write is all or nothing;
                // retry briefly (same buffer, as OpenSSL requires) on WANT_WRITE.
                for _ in 0..<1000 {
                    let n = SSL_write(ssl, base, Int32(buffer.count))
                    if n == Int32(buffer.count) { return true }
                    let err = SSL_get_error(ssl, n)
                    guard err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ else { return false }
                    usleep(1000)
                }
                return false
            }
            var offset = 0
            var attempts = 0
            while offset < buffer.count {
                let n = Glibc.write(socket, base + offset, buffer.count - offset)
                if n > 0 { offset += n; continue }
                attempts += 1
                if attempts > 1000 || (n < 0 && errno != EAGAIN && errno != EINTR) { return false }
                usleep(1000)
            }
            return true
        }
    }

    /// Half-closes: no more bytes from us (TCP FIN), the broker's still arrive.
    func shutdownWrite() {
        let fd = socket
        if fd >= 0 { shutdown(fd, Int32(SHUT_WR)) }
    }

    /// Reads and discards what the broker sent, without libmosquitto. Returns
    /// false once the broker has closed (or the connection failed).
    func discardIncoming() -> Bool {
        let fd = socket
        guard fd >= 0 else { return false }
        var scratch = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = scratch.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return true }
            return false
        }
    }

    /// The outcome of one raw read.
    enum RawRead {
        case bytes(Int)
        case wouldBlock
        case ended(TransportEnd)
        case failed(errno: Int32)
    }

    /// Reads bytes around libmosquitto: from the socket, or from libmosquitto's TLS
    /// session (which may hold bytes it has already decrypted). Only for a
    /// connection libmosquitto no longer reads (`MQTTClient.watchForEnd`).
    func readRaw(into buffer: UnsafeMutableRawBufferPointer) -> RawRead {
        let fd = socket
        guard fd >= 0, let base = buffer.baseAddress else { return .failed(errno: EBADF) }
        if let ssl = mosquitto_ssl_get(raw) {
            let ssl = OpaquePointer(ssl)
            ERR_clear_error()
            errno = 0
            let n = SSL_read(ssl, base, Int32(clamping: buffer.count))
            if n > 0 { return .bytes(Int(n)) }
            let e = errno
            switch SSL_get_error(ssl, n) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .wouldBlock
            case SSL_ERROR_ZERO_RETURN: return .ended(.fin)
            case SSL_ERROR_SYSCALL:
                // EOF without close_notify reads as errno 0.
                if e == 0 { return .ended(.fin) }
                return e == ECONNRESET ? .ended(.reset) : .failed(errno: e)
            default: return .failed(errno: e)
            }
        }
        let n = recv(fd, base, buffer.count, Int32(MSG_DONTWAIT))
        if n > 0 { return .bytes(n) }
        if n == 0 { return .ended(.fin) }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return .wouldBlock
        case ECONNRESET: return .ended(.reset)
        case let e: return .failed(errno: e)
        }
    }

    /// The first bytes waiting on a plain TCP socket, without consuming them
    /// (nil with TLS, or when nothing is there yet; empty when the peer closed),
    /// and whether the peer reset the connection.
    func peekPlain(upTo count: Int) -> (bytes: [UInt8]?, reset: Bool) {
        let fd = socket
        guard fd >= 0, mosquitto_ssl_get(raw) == nil else { return (nil, false) }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK | MSG_DONTWAIT)) }
        if n < 0 { return errno == ECONNRESET ? ([], true) : (nil, false) }
        return (Array(bytes.prefix(n)), false)
    }

    /// Acknowledges what was read at once (TCP_QUICKACK, which also sends an ACK
    /// the kernel was holding back). Without it the kernel may delay the ACK up to
    /// 40 ms, and the broker's Nagle algorithm then holds back its next small
    /// packet to us (a will, a DISCONNECT) until that ACK arrives: a probe would
    /// time our kernel, not the broker.
    func acknowledgeNow() {
        let fd = socket
        guard fd >= 0 else { return }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_QUICKACK, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Ends the TCP connection without going through libmosquitto (which keeps
    /// its fd until the handle is destroyed).
    func shutdownSocket() {
        let fd = socket
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// Whether the TLS handshake has completed; nil without TLS (or before the TLS session exists).
    var tlsHandshakeFinished: Bool? {
        guard let ssl = mosquitto_ssl_get(raw) else { return nil }
        return SSL_is_init_finished(OpaquePointer(ssl)) == 1
    }

    /// Whether the broker sent a certificate in the current TLS session.
    var tlsPeerPresentedCertificate: Bool {
        guard let ssl = mosquitto_ssl_get(raw), let cert = SSL_get1_peer_certificate(OpaquePointer(ssl)) else {
            return false
        }
        X509_free(cert)
        return true
    }

    /// The OpenSSL certificate verification result of the current TLS session, if any.
    func tlsVerifyResult() -> Int? {
        guard let ssl = mosquitto_ssl_get(raw) else { return nil }
        return Int(SSL_get_verify_result(OpaquePointer(ssl)))
    }

    // MARK: Callbacks

    private static func from(_ obj: UnsafeMutableRawPointer) -> MosquittoHandle {
        Unmanaged<MosquittoHandle>.fromOpaque(obj).takeUnretainedValue()
    }

    private func installCallbacks() {
        mosquitto_connect_v5_callback_set(raw) { _, obj, rc, flags, props in
            guard let obj else { return }
            MosquittoHandle.from(obj).events.connackReceived(
                code: Int(rc), sessionPresent: flags & 1 == 1, properties: props)
        }
        mosquitto_disconnect_v5_callback_set(raw) { _, obj, rc, _ in
            guard let obj else { return }
            MosquittoHandle.from(obj).events.disconnected(code: rc)
        }
        mosquitto_publish_v5_callback_set(raw) { _, obj, mid, reason, _ in
            guard let obj else { return }
            MosquittoHandle.from(obj).events.publishCompleted(mid: mid, reasonCode: reason)
        }
        mosquitto_message_v5_callback_set(raw) { _, obj, message, props in
            guard let obj, let message else { return }
            MosquittoHandle.from(obj).events.messageReceived(message, properties: props)
        }
        mosquitto_subscribe_v5_callback_set(raw) { _, obj, mid, count, granted, _ in
            guard let obj else { return }
            MosquittoHandle.from(obj).events.subscribed(
                mid: mid, granted: UnsafeBufferPointer(start: granted, count: Int(max(0, count))))
        }
        mosquitto_unsubscribe_v5_callback_set(raw) { _, obj, mid, _ in
            guard let obj else { return }
            MosquittoHandle.from(obj).events.unsubscribed(mid: mid)
        }
    }

    private func check(_ rc: Int32, _ what: String) throws(MQTTError) {
        if rc != MOSQ_ERR_SUCCESS.rawValue { throw MQTTError.library(rc, context: what) }
    }

    /// A refused setting, with the cause a tool words in its own option names.
    private func check(_ rc: Int32, _ setting: MQTTError.Setting) throws(MQTTError) {
        guard rc != MOSQ_ERR_SUCCESS.rawValue else { return }
        let savedErrno = errno
        var error = MQTTError.library(rc, errno: savedErrno, context: setting.name)
        error.cause = .settingRejected(setting, detail: MQTTError.libraryMessage(rc, errno: savedErrno))
        throw error
    }

    private func rejected(_ setting: MQTTError.Setting, _ detail: String) -> MQTTError {
        MQTTError(.invalidArgument, "\(setting.name): \(detail)", cause: .settingRejected(setting, detail: detail))
    }
}

/// Calls `body` with a C array of C strings that lives for the duration of the call.
private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> R) -> R
{
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return copies.withUnsafeBufferPointer { body($0.baseAddress) }
}
