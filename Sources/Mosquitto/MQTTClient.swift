#if canImport(Glibc)
import Glibc
#endif
import CMosquitto

/// The broker's answer to CONNECT.
public struct ConnAck: Sendable {
    /// 0 on success; otherwise the MQTT 3.x return code or MQTT 5 reason code.
    public let code: Int
    public let sessionPresent: Bool
    public let properties: MQTTProperties
    /// Monotonic time of arrival.
    public let receivedAt: UInt64

    public init(code: Int, sessionPresent: Bool, properties: MQTTProperties = MQTTProperties(), receivedAt: UInt64) {
        self.code = code
        self.sessionPresent = sessionPresent
        self.properties = properties
        self.receivedAt = receivedAt
    }
}

/// Why a connection ended.
public enum CloseReason: Sendable {
    /// We asked for it (DISCONNECT sent).
    case requested
    /// The broker sent a DISCONNECT (MQTT 5; with its properties when the client
    /// was watching for the end itself, see `watchForEnd`).
    case serverDisconnect(ServerDisconnect)
    /// Anything else: socket closed, reset, keep-alive failure, refusal, timeout...
    case failed(MQTTError)
}

/// A received PUBLISH, valid only during the `onMessage` call: topic and payload
/// point into libmosquitto's buffers, which are freed when the call returns.
/// Copy what must outlive the call (`topicString`, `Array(payload)`,
/// `properties()`); never store the message or its buffers. Zero-copy is
/// deliberate: `sub` renders most messages straight from these buffers.
public struct ReceivedMessage {
    public let mid: Int
    public let qos: Int
    public let retain: Bool
    /// Topic bytes (UTF-8, no terminating NUL).
    public let topic: UnsafeRawBufferPointer
    public let payload: UnsafeRawBufferPointer
    let rawProperties: OpaquePointer?

    public var topicString: String { String(decoding: topic, as: UTF8.self) }
    public var hasProperties: Bool { rawProperties != nil }
    /// Copies the MQTT 5 properties (empty for MQTT 3.x).
    public func properties() -> MQTTProperties { MQTTProperties(list: rawProperties) }
}

/// A property list converted once for libmosquitto and reused for many publishes.
public final class PreparedProperties {
    let list: OpaquePointer?
    /// Bytes the properties take in a packet, without their length prefix.
    let encodedLength: Int
    public init(_ properties: MQTTProperties) throws(MQTTError) {
        list = try properties.makeList()
        encodedLength = properties.encodedLength
    }
    deinit {
        var list = list
        mosquitto_property_free_all(&list)
    }
}

/// One MQTT connection over libmosquitto, driven by an `EventLoop`. Events arrive
/// through the `on...` closures on the loop's thread.
public final class MQTTClient: MosquittoEvents {
    public enum State: Equatable, Sendable {
        case idle, connecting, connected, closed
    }

    public let options: ConnectOptions
    /// The connection's phase and the data of each (see `ConnectionLifecycle`).
    private(set) var lifecycle = ConnectionLifecycle()
    public var state: State { lifecycle.publicState }
    public private(set) var connAck: ConnAck?
    public var closeReason: CloseReason? { lifecycle.closeReason }
    /// Monotonic time the connection closed.
    public private(set) var closedAt: UInt64?
    /// Monotonic time we last finished writing bytes to the broker.
    public private(set) var lastWriteAt: UInt64 = 0
    /// Monotonic time the TCP connect began.
    public private(set) var connectStartedAt: UInt64 = 0
    /// Monotonic time the TCP connection was up (CONNECT queued).
    public private(set) var tcpConnectedAt: UInt64?
    /// Monotonic time our side of the TLS handshake completed (nil without TLS).
    public private(set) var tlsHandshakeFinishedAt: UInt64?
    /// A packet other than DISCONNECT arrived while watching (see `watchForEnd`):
    /// its MQTT packet type (13 for PINGRESP).
    public var onWatchedPacket: ((UInt8) -> Void)?

    /// When true nothing more is written (not even acknowledgements or PINGREQ):
    /// the broker hears nothing from us. Used to probe keep-alive enforcement.
    /// Not part of `lifecycle`: it says whether libmosquitto's queue is written,
    /// in any phase (`watchForEnd` sets it, `disconnect` lifts it).
    public var silent = false
    /// Set by `watchForEnd`: our own reader of the broker's bytes.
    private var watch: PacketFramer?
    /// Packet types the broker sent while we watched (other than DISCONNECT).
    public var packetsWhileWatching: [UInt8] { watch?.skipped ?? [] }
    /// The first bytes the broker sent on a plain TCP connection before CONNACK:
    /// what to say when it closes without one.
    private(set) var firstBytes: [UInt8]?
    private(set) var peerReset = false
    /// Whether libmosquitto's keep-alive machinery (PINGREQ when due, closing on a
    /// missing PINGRESP) runs. `ping` turns it off and sends its own PINGREQs.
    public var keepAliveEnabled = true

    /// Consulted right before libmosquitto's queue of outgoing packets (acks,
    /// PINGREQ, publishes) is written. Returning false holds the queue for the
    /// rest of the connection: nothing of it is written any more, the loop stops
    /// waiting to write it, and `disconnect` goes around it. `sub` flushes stdout
    /// here, so that an acknowledgement leaves only after its message was written,
    /// and writes what may still go itself (`writeAroundQueue`).
    public var queueGate: (() -> Bool)?
    public private(set) var queueHeld = false
    /// The last write of the queue stopped early (the socket was full): a packet
    /// may be half-written, and nothing can be slipped in before it.
    private var queueMaybePartial = false

    public var onConnect: ((ConnAck) -> Void)?
    public var onClose: ((CloseReason) -> Void)?
    public var onMessage: ((ReceivedMessage) -> Void)?
    /// A QoS > 0 publish was acknowledged (PUBACK/PUBCOMP; reason >= 0x80 is a
    /// refusal), or a QoS 0 publish was written.
    public var onPublishComplete: ((_ mid: Int32, _ reasonCode: Int32) -> Void)?
    public var onSubscribe: ((_ mid: Int32, _ granted: [Int32]) -> Void)?
    public var onUnsubscribe: ((_ mid: Int32) -> Void)?
    /// libmosquitto's log lines (set before `connect()` to see the whole exchange).
    public var onLog: ((_ level: LogLevel, _ line: String) -> Void)? {
        didSet { updateLogging() }
    }
    /// A PINGRESP arrived. Setting this turns on libmosquitto's log, which is
    /// the only place a PINGRESP shows.
    public var onPingResponse: (() -> Void)? {
        didSet { updateLogging() }
    }

    private(set) var handle: MosquittoHandle!
    /// MQTT over WebSocket: the bridge of the current connection (libmosquitto
    /// talks to its unix socket). nil over TCP.
    private(set) var bridge: WebSocketBridge?
    /// libmosquitto's own TLS: over TCP only (over WebSocket the bridge does TLS).
    var mosquittoTLS: TLSOptions? { options.transport.isWebSocket ? nil : options.tls }
    /// Monotonic time the WebSocket upgrade completed (nil over TCP).
    public private(set) var webSocketUpgradedAt: UInt64?
    /// The subprotocol the WebSocket server chose (nil over TCP).
    public private(set) var webSocketSubprotocol: String?
    private var connectDeadline: UInt64 = .max
    private(set) var lastErrorLog: String?
    /// What went wrong with TLS during the current connection attempt.
    private(set) var tlsDiagnosis = TLSDiagnosis()

    public init(options: ConnectOptions) throws(MQTTError) {
        self.options = options
        handle = try MosquittoHandle(clientID: options.clientID, cleanSession: options.cleanSession, events: self)
        try handle.setProtocolVersion(options.protocolVersion)
        if options.username != nil || options.password != nil {
            try handle.setCredentials(username: options.username, password: options.password)
        }
        if let will = options.will { try handle.setWill(will) }
        try handle.setMaxInflight(options.maxInflight)
        if let receiveMaximum = options.receiveMaximum { try handle.setReceiveMaximum(receiveMaximum) }
        // Over WebSocket libmosquitto's socket is a local one: the bridge sets the
        // broker connection's options, and does TLS (wss).
        if options.tcpNoDelay && !options.transport.isWebSocket { try handle.setTCPNoDelay(true) }
        if let proxy = options.socksProxy { try handle.setSOCKS5(proxy) }
        if let tls = mosquittoTLS { try handle.setTLS(tls) }
    }

    deinit {
        // libmosquitto's socket first: its end lets the bridge close the WebSocket
        // cleanly (close frame 1000) before the bridge is stopped.
        handle = nil
        bridge = nil
    }

    // MARK: Connecting

    /// Opens the TCP connection (blocking, bounded by the connect timeout and
    /// interruptible by SIGINT/SIGTERM) and queues CONNECT. CONNACK arrives later
    /// through the event loop, which also enforces the rest of the connect timeout.
    public func connect() throws(MQTTError) {
        lifecycle.connectStarted()
        tlsDiagnosis.reset()
        tcpConnectedAt = nil
        tlsHandshakeFinishedAt = nil
        connectStartedAt = MonotonicClock.now()
        connectDeadline = options.connectTimeout > 0 ? MonotonicClock.after(seconds: options.connectTimeout) : .max
        updateLogging()
        var properties = options.connectProperties
        if let expiry = options.sessionExpiry, options.protocolVersion == .v5 {
            properties.append(MQTTProperties.sessionExpiryInterval, .uint32(expiry))
        }
        connectProperties = properties
        try open(reconnecting: false)
        tcpConnectedAt = MonotonicClock.now()
    }

    /// The CONNECT properties of the last `connect()`, for reconnects over WebSocket.
    private var connectProperties = MQTTProperties()

    /// Opens the connection and queues CONNECT. Over TCP: libmosquitto's blocking
    /// connect. Over WebSocket: the bridge's upgrade first (so that nothing timed
    /// after CONNECT includes the HTTP handshake), then libmosquitto connects to
    /// the bridge's unix socket.
    private func open(reconnecting: Bool) throws(MQTTError) {
        guard case .webSocket(let webSocket) = options.transport else {
            let (rc, timedOut) = Signals.withAlarm(seconds: options.connectTimeout) {
                if reconnecting { return handle.reconnect() }
                if options.srvLookup {
                    return handle.connectSRV(
                        host: options.host, keepAlive: options.keepAlive, bindAddress: options.bindAddress)
                }
                // libmosquitto takes a unix socket as the host with port 0.
                return handle.connect(
                    host: options.unixSocket ?? options.host, port: options.unixSocket == nil ? options.port : 0,
                    keepAlive: options.keepAlive, bindAddress: options.bindAddress, properties: connectProperties)
            }
            let savedErrno = errno
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                let error = connectError(rc, errno: savedErrno, timedOut: timedOut)
                fail(error)
                throw error
            }
            return
        }
        do throws(MQTTError) {
            try openWebSocket(webSocket)
        } catch {
            fail(error)
            throw error
        }
    }

    private func openWebSocket(_ webSocket: WebSocketOptions) throws(MQTTError) {
        bridge = nil  // the previous connection's
        webSocketUpgradedAt = nil
        webSocketSubprotocol = nil
        let bridge: WebSocketBridge
        do throws(MQTTError) {
            bridge = try WebSocketBridge(
                host: options.host, port: options.port, webSocket: webSocket,
                tls: options.tls, timeout: options.connectTimeout)
        } catch {
            var error = error
            if error.kind == .tls { error.message = "TLS error with \(options.endpoint): \(error.message)" }
            throw error
        }
        self.bridge = bridge
        switch bridge.awaitUpgrade(deadline: connectDeadline) {
        case .ready:
            break
        case .failed(let events):
            throw upgradeError(events)
        case .timedOut:
            throw upgradeTimeout()
        case .interrupted(let sig):
            throw interrupted(sig)
        }
        webSocketUpgradedAt = MonotonicClock.now()
        for case .ready(let subprotocol) in bridge.events { webSocketSubprotocol = subprotocol }
        let path = try bridge.makeLocalPath()
        let rc = handle.connect(
            host: path, port: 0, keepAlive: options.keepAlive, bindAddress: nil, properties: connectProperties)
        let savedErrno = errno
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            throw MQTTError.library(
                rc, errno: savedErrno, context: "cannot connect to the WebSocket bridge's local socket")
        }
        try bridge.handOver()
    }

    /// Connects again with the same options (used by `sub --reconnect`).
    public func reconnect() throws(MQTTError) {
        lifecycle.connectStarted()  // no requested end, stop or TLS handshake of the last attempt
        connAck = nil
        closedAt = nil
        queueHeld = false  // libmosquitto empties its queue on reconnect
        queueMaybePartial = false
        tlsDiagnosis.reset()
        lastErrorLog = nil
        firstBytes = nil
        peerReset = false
        watch = nil
        tcpConnectedAt = nil
        tlsHandshakeFinishedAt = nil
        connectStartedAt = MonotonicClock.now()
        connectDeadline = options.connectTimeout > 0 ? MonotonicClock.after(seconds: options.connectTimeout) : .max
        updateLogging()
        try open(reconnecting: true)
        tcpConnectedAt = MonotonicClock.now()
    }

    /// The level of a libmosquitto log line (`MOSQ_LOG_*`).
    public struct LogLevel: RawRepresentable, Equatable, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let info = LogLevel(rawValue: MOSQ_LOG_INFO)
        public static let notice = LogLevel(rawValue: MOSQ_LOG_NOTICE)
        public static let warning = LogLevel(rawValue: MOSQ_LOG_WARNING)
        public static let error = LogLevel(rawValue: MOSQ_LOG_ERR)
        public static let debug = LogLevel(rawValue: MOSQ_LOG_DEBUG)
    }

    // MARK: Requests

    /// Publishes one message. Returns its message id. At QoS > 0 the message is
    /// stored by libmosquitto until acknowledged (`onPublishComplete`).
    @discardableResult
    public func publish(
        topic: String, payload: UnsafeRawBufferPointer, qos: Int, retain: Bool,
        properties: PreparedProperties? = nil
    ) throws(MQTTError) -> Int32 {
        let remaining =
            2 + topic.utf8.count + (qos > 0 ? 2 : 0) + propertiesLength(properties?.encodedLength ?? 0) + payload.count
        try checkPacketSize(remaining: remaining, what: "the PUBLISH to '\(topic)'")
        let (rc, mid) = handle.publish(
            topic: topic, payload: payload, qos: qos, retain: retain, properties: properties?.list)
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            throw MQTTError.library(rc, context: "publish to '\(topic)'")
        }
        return mid
    }

    @discardableResult
    public func publish(
        topic: String, payload: [UInt8], qos: Int, retain: Bool,
        properties: PreparedProperties? = nil
    ) throws(MQTTError) -> Int32 {
        let result: Result<Int32, MQTTError> = payload.withUnsafeBytes { buffer in
            do throws(MQTTError) {
                return .success(
                    try publish(topic: topic, payload: buffer, qos: qos, retain: retain, properties: properties))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Subscribes to `filters` with one QoS and MQTT 5 subscription options
    /// (`SubscriptionOptions`). Returns the message id of the SUBSCRIBE.
    @discardableResult
    public func subscribe(
        _ filters: [String], qos: Int, options: SubscriptionOptions = [],
        properties: MQTTProperties = MQTTProperties()
    ) throws(MQTTError) -> Int32 {
        let remaining = 2 + propertiesLength(properties.encodedLength) + filters.reduce(0) { $0 + 3 + $1.utf8.count }
        try checkPacketSize(remaining: remaining, what: "the SUBSCRIBE")
        let (rc, mid) = try properties.withList { list in
            handle.subscribe(filters: filters, qos: qos, options: options.rawValue, properties: list)
        }
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            throw MQTTError.library(rc, context: "subscribe to \(filters.map { "'\($0)'" }.joined(separator: ", "))")
        }
        return mid
    }

    @discardableResult
    public func unsubscribe(
        _ filters: [String], properties: MQTTProperties = MQTTProperties()
    ) throws(MQTTError) -> Int32 {
        let remaining = 2 + propertiesLength(properties.encodedLength) + filters.reduce(0) { $0 + 2 + $1.utf8.count }
        try checkPacketSize(remaining: remaining, what: "the UNSUBSCRIBE")
        let (rc, mid) = try properties.withList { list in
            handle.unsubscribe(filters: filters, properties: list)
        }
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            throw MQTTError.library(
                rc, context: "unsubscribe from \(filters.map { "'\($0)'" }.joined(separator: ", "))")
        }
        return mid
    }

    /// Bytes an MQTT 5 property section takes (length prefix included); none in 3.1.x.
    private func propertiesLength(_ length: Int) -> Int {
        options.protocolVersion == .v5 ? MQTTProperties.variableByteIntegerLength(length) + length : 0
    }

    /// Refuses a packet larger than the broker's Maximum Packet Size (its CONNACK)
    /// ourselves: libmosquitto 2.0.11 undercounts the size before queueing (no
    /// property length, a one-byte packet id), so an oversize PUBLISH slips past
    /// to send_publish.c, which aborts the process in `log__printf(NULL, ...)`,
    /// and an oversize SUBSCRIBE goes out to be refused by the broker
    /// [MQTT-3.2.2-15].
    private func checkPacketSize(remaining: Int, what: String) throws(MQTTError) {
        guard let limit = connAck?.properties.maximumPacketSize else { return }
        let size = 1 + MQTTProperties.variableByteIntegerLength(remaining) + remaining
        guard size > limit else { return }
        throw MQTTError(
            .invalidArgument, "\(what) would be \(size) bytes, over the broker's Maximum Packet Size of \(limit) bytes",
            libraryCode: LibraryCode(MOSQ_ERR_OVERSIZE_PACKET))
    }

    /// Ends the connection cleanly: what libmosquitto has queued (acknowledgements,
    /// publishes) is written first, then our DISCONNECT; then we half-close and read
    /// (and discard) until the broker closes, because closing with unread data
    /// would be a TCP reset that can make the broker drop our last packets. The
    /// connection then closes with `.requested`. Does nothing if already closed.
    public func disconnect(reasonCode: Int = 0, properties: MQTTProperties = MQTTProperties()) {
        let packet = DisconnectPacket.encode(
            version: options.protocolVersion, reasonCode: reasonCode, properties: properties)
        switch lifecycle.disconnectRequested(packet: packet) {
        case .ignore:
            return
        case .closeNow:
            // No CONNACK yet: nothing to say goodbye to.
            silent = false
            handle.shutdownSocket()
            close(.requested)
        case .flush:
            silent = false
            advanceEnding()
        }
    }

    /// Makes the message being delivered the last one (call it from `onMessage`).
    /// Its acknowledgement and all earlier ones go out; nothing after it is
    /// acknowledged, so a broker keeps later messages (QoS 1/2, persistent
    /// session) for next time; then DISCONNECT ends the connection cleanly.
    /// `sub -C N` relies on this to hand over exactly N messages.
    public func stopAfterThisMessage(disconnectProperties: MQTTProperties = MQTTProperties()) {
        guard lifecycle.mayStopAfterDelivery else { return }
        // Only acknowledgements are queued here (sub sends nothing else before it
        // stops), and writing those runs no callback, so writing from inside the
        // message callback is safe.
        if !silent && passesGate() { _ = writeQueue() }
        lifecycle.stopAfterDelivery(properties: disconnectProperties, flushed: !queueMaybePartial)
    }

    /// Called once libmosquitto's read returns after `stopAfterThisMessage`.
    /// Packets after the last message may have been read in the same batch, with
    /// their acknowledgements queued: those must never be written, so our
    /// DISCONNECT goes out directly, around libmosquitto's queue.
    private func endAfterLastDelivery() {
        switch lifecycle.lastDeliveryRead() {
        case .none:
            return
        case .closeNow:
            // A half-written packet: DISCONNECT cannot be slipped in. Ending abruptly
            // loses nothing (unacknowledged messages stay with the broker).
            handle.shutdownSocket()
            close(.requested)
        case .sendDisconnect(let properties):
            sendDisconnect(
                DisconnectPacket.encode(version: options.protocolVersion, reasonCode: 0, properties: properties))
        }
    }

    private func advanceEnding() {
        guard case .flushing(let packet)? = lifecycle.ending else { return }
        if handle.wantsWrite && passesGate() {
            let rc = writeQueue()
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                closeAfterLoopError(rc)
                return
            }
            lastWriteAt = MonotonicClock.now()
            guard !handle.wantsWrite else { return }  // the loop calls again on POLLOUT
        }
        if queueMaybePartial {
            // Held with a packet half-written: DISCONNECT cannot be slipped in. An
            // abrupt end loses nothing (what was not acknowledged stays with the broker).
            handle.shutdownSocket()
            close(.requested)
            return
        }
        sendDisconnect(packet)
    }

    /// Whether libmosquitto's queue may be written now (see `queueGate`).
    private func passesGate() -> Bool {
        if !queueHeld, let queueGate, !queueGate() { queueHeld = true }
        return !queueHeld
    }

    private func writeQueue() -> Int32 {
        let rc = handle.loopWrite()
        queueMaybePartial = handle.wantsWrite
        return rc
    }

    /// Writes complete packets straight to the broker, around libmosquitto's
    /// queue. False when that is impossible now (not connected, ending, a queued
    /// packet maybe half-written) or the write failed.
    public func writeAroundQueue(_ bytes: [UInt8]) -> Bool {
        guard lifecycle.isOpen, !queueMaybePartial, handle.writeRaw(bytes) else { return false }
        lastWriteAt = MonotonicClock.now()
        return true
    }

    private func sendDisconnect(_ packet: [UInt8]) {
        guard handle.writeRaw(packet) else {
            handle.shutdownSocket()
            close(.requested)
            return
        }
        lastWriteAt = MonotonicClock.now()
        handle.shutdownWrite()
        lifecycle.disconnectSent(drainUntil: MonotonicClock.after(seconds: 2))
    }

    /// Closes the connection at once, without DISCONNECT (an abnormal end: the
    /// broker publishes the will).
    public func abort(_ error: MQTTError = MQTTError(.connectionLost, "connection closed")) {
        guard !lifecycle.isClosed else { return }
        let fd = handle.socket
        if fd >= 0 {
            // shutdown() ends the TCP connection even though libmosquitto still owns the fd.
            shutdown(fd, Int32(SHUT_RDWR))
        }
        fail(error)
    }

    /// From now on nothing is written (as `silent`) and libmosquitto reads
    /// nothing more: the client reads the broker's bytes itself until the broker
    /// ends the connection, so the end is known exactly — a DISCONNECT with its
    /// reason string and user properties (libmosquitto drops them), a FIN or a
    /// reset. Packets other than DISCONNECT are counted and ignored. For
    /// connections that only wait to be ended (the keep-alive and take-over
    /// probes); call it from `onConnect` or `onSubscribe` or later.
    public func watchForEnd() {
        guard lifecycle.isOpen, watch == nil else { return }
        silent = true
        watch = PacketFramer()
    }

    /// Sends a PINGREQ now. False when that is not possible at this instant
    /// (not connected, or libmosquitto has a packet half-written).
    public func sendPingRequest() -> Bool {
        guard lifecycle.isConnected else { return false }
        let ok = handle.writePingRequest()
        if ok { lastWriteAt = MonotonicClock.now() }
        return ok
    }

    /// Number of bytes libmosquitto still has to write.

    // MARK: Loop steps, called by EventLoop

    var socket: Int32 { lifecycle.isClosed ? -1 : handle.socket }

    var wantsWrite: Bool {
        switch lifecycle.ending {
        case .flushing?: return true
        case .draining?: return false
        case nil: return !silent && !queueHeld && handle.wantsWrite
        }
    }

    var deadline: UInt64 { lifecycle.deadline(connectDeadline: connectDeadline) }

    var needsTicks: Bool {
        lifecycle.isOpen && keepAliveEnabled && !silent && options.keepAlive > 0
    }

    func readAvailable() {
        if case .draining? = lifecycle.ending {
            if !handle.discardIncoming() { close(.requested) }
            return
        }
        if watch != nil { return readWatched() }
        defer { if options.quickAck && !lifecycle.isClosed { handle.acknowledgeNow() } }
        if lifecycle.isConnecting, mosquittoTLS == nil, options.socksProxy == nil, firstBytes == nil {
            (firstBytes, peerReset) = handle.peekPlain(upTo: 8)
        }
        // Read packet by packet until the socket is drained; bounded for fairness.
        for _ in 0..<256 {
            guard !lifecycle.isClosed, handle.socket >= 0 else { return }
            // Once we are ending, libmosquitto must not process (and acknowledge) more.
            guard lifecycle.libraryMayRead else { return }
            let (rc, drained, readErrno) = handle.loopRead()
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                closeAfterLoopError(rc, errno: readErrno)
                return
            }
            // A callback of this read (onConnect, onSubscribe) started watching.
            if watch != nil { return readWatched() }
            guard observeTLSHandshake() else { return }
            if mosquittoTLS != nil, lifecycle.awaitsTLSHandshake {
                if readErrno != 0, !drained, readErrno != EINTR, readErrno != EAGAIN, readErrno != EWOULDBLOCK {
                    // libmosquitto treats SSL_ERROR_SYSCALL during the handshake as "try
                    // again" (lib/net_mosq.c), so a reset connection would spin until the
                    // connect timeout: end it here. EAGAIN is only "not yet": through a
                    // SOCKS proxy libmosquitto starts the handshake inside the read that
                    // took the proxy's reply, and a broker slower than that (a loaded
                    // machine) left it behind as if the handshake had failed.
                    tlsDiagnosis.handshakeErrno = readErrno
                    fail(tlsError(MOSQ_ERR_TLS.rawValue))
                    return
                }
            }
            if handle.socket < 0 {
                // A server DISCONNECT returns success with the socket already closed.
                if !lifecycle.isClosed {
                    close(lifecycle.reasonForPeerClose(otherwise: .failed(lostError(MOSQ_ERR_CONN_LOST.rawValue))))
                }
                return
            }
            if lifecycle.lastDeliveryRead() != .none {
                endAfterLastDelivery()
                return
            }
            if drained { return }
        }
    }

    /// Reads what the broker sent while we watch (see `watchForEnd`).
    private func readWatched() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !lifecycle.isClosed {
            let result = buffer.withUnsafeMutableBytes { handle.readRaw(into: $0) }
            switch result {
            case .bytes(let n):
                let fed: Result<[PacketFramer.Packet], MalformedPacket> = buffer.withUnsafeBytes { bytes in
                    do throws(MalformedPacket) {
                        return .success(try watch?.feed(UnsafeRawBufferPointer(rebasing: bytes[0..<n])) ?? [])
                    } catch {
                        return .failure(error)
                    }
                }
                guard case .success(let packets) = fed else {
                    if case .failure(let error) = fed {
                        endWatch(.failed(MQTTError(.protocolError, "\(options.endpoint) sent \(error.reason)")))
                    }
                    return
                }
                for packet in packets where packet.type != 14 { onWatchedPacket?(packet.type) }
                if let packet = packets.first(where: { $0.type == 14 }) {
                    do throws(MalformedPacket) {
                        let disconnect = try ServerDisconnect.decode(
                            body: packet.body, version: options.protocolVersion)
                        return endWatch(.serverDisconnect(disconnect))
                    } catch {
                        return endWatch(
                            .failed(
                                MQTTError(.protocolError, "\(options.endpoint) sent a DISCONNECT with \(error.reason)"))
                        )
                    }
                }
            case .wouldBlock:
                if options.quickAck { handle.acknowledgeNow() }
                return
            case .ended(let end):
                let how = end == .fin ? "closed the connection" : "reset the connection"
                return endWatch(
                    .failed(
                        webSocketEndError()
                            ?? MQTTError(.connectionLost, "\(options.endpoint) \(how)", cause: .closedByPeer(end))))
            case .failed(let e):
                return endWatch(
                    .failed(
                        MQTTError(
                            .connectionLost, "connection to \(options.endpoint) lost: \(String(cString: strerror(e)))"))
                )
            }
        }
    }

    private func endWatch(_ reason: CloseReason) {
        handle.shutdownSocket()
        close(reason)
    }

    func writePending() {
        if lifecycle.ending != nil {
            advanceEnding()
            return
        }
        guard !silent, !lifecycle.isClosed, handle.socket >= 0, handle.wantsWrite else { return }
        guard observeTLSHandshake(), passesGate() else { return }
        let rc = writeQueue()
        lastWriteAt = MonotonicClock.now()
        if rc != MOSQ_ERR_SUCCESS.rawValue { closeAfterLoopError(rc) }
    }

    func tick(now: UInt64) {
        if case .draining(let until)? = lifecycle.ending, now >= until {
            // The broker did not close within the grace period; our part is done.
            handle.shutdownSocket()
            close(.requested)
            return
        }
        if lifecycle.isConnecting && now >= connectDeadline {
            let endpoint = options.endpoint, seconds = options.connectTimeout
            if mosquittoTLS != nil && handle.tlsHandshakeFinished != true {
                fail(
                    MQTTError(
                        .timeout,
                        "the TLS handshake with \(endpoint) did not complete within \(formatSeconds(seconds)) s; is it a TLS port?",
                        cause: .timedOut(.tlsHandshake, seconds: seconds), endpoint: endpoint))
                return
            }
            let plain = options.tls == nil && !options.transport.isWebSocket
            let what = connAck == nil ? "no CONNACK from \(endpoint)" : "no answer from \(endpoint)"
            fail(
                MQTTError(
                    .timeout,
                    "\(what) within \(formatSeconds(seconds)) s; is it an MQTT broker\(plain ? " (or a TLS port?)" : "")?",
                    cause: .timedOut(.connAck(afterConnAck: connAck != nil, plainTCP: plain), seconds: seconds),
                    endpoint: endpoint))
            return
        }
        if needsTicks {
            let rc = handle.loopMisc()
            if rc != MOSQ_ERR_SUCCESS.rawValue { closeAfterLoopError(rc) }
        }
    }

    // MARK: Closing

    private func closeAfterLoopError(_ rc: Int32, errno readErrno: Int32 = 0) {
        guard !lifecycle.isClosed else { return }
        if rc == MOSQ_ERR_TLS.rawValue || rc == MOSQ_ERR_TLS_HANDSHAKE.rawValue
            || (lifecycle.isConnecting && mosquittoTLS != nil && !tlsDiagnosis.isEmpty)
        {
            // The last case: the broker refused us at the TLS level after the handshake
            // (TLS 1.3 "certificate required"), which libmosquitto reports as a lost connection.
            fail(tlsError(rc))
        } else {
            fail(lostError(rc, errno: readErrno))
        }
    }

    /// Notices the end of the TLS handshake, which can happen in any libmosquitto
    /// call that reads (even inside the connect call, on a busy machine), and checks
    /// it before the first write. False when the connection was failed.
    private func observeTLSHandshake() -> Bool {
        guard mosquittoTLS != nil, lifecycle.awaitsTLSHandshake, handle.tlsHandshakeFinished == true,
            lifecycle.tlsHandshakeFinished()
        else {
            return true
        }
        tlsHandshakeFinishedAt = MonotonicClock.now()
        if let problem = checkHandshake() {
            // Before CONNECT (and the password) is written.
            fail(problem)
            return false
        }
        return true
    }

    func fail(_ error: MQTTError) {
        close(.failed(error))
    }

    private func close(_ reason: CloseReason) {
        guard lifecycle.close(reason) else { return }
        closedAt = MonotonicClock.now()
        onClose?(reason)
    }

    // MARK: libmosquitto events

    func connackReceived(code: Int, sessionPresent: Bool, properties: OpaquePointer?) {
        let ack = ConnAck(
            code: code, sessionPresent: sessionPresent, properties: MQTTProperties(list: properties),
            receivedAt: MonotonicClock.now())
        connAck = ack
        if code == 0 {
            lifecycle.connAckAccepted()
            updateLogging()
            onConnect?(ack)
        } else if options.protocolVersion == .v5, let firstBytes, PreConnAck.mqtt311ReturnCode(firstBytes) != nil {
            // libmosquitto reports an MQTT 3.1.1 CONNACK to our MQTT 5 CONNECT as 0x84.
            fail(PreConnAck.error(firstBytes: firstBytes, version: .v5, endpoint: options.endpoint))
        } else {
            var error = MQTTError.connack(
                code, protocolVersion: options.protocolVersion,
                credentialsSent: options.username != nil || options.password != nil)
            error.endpoint = options.endpoint
            fail(error)
        }
    }

    func disconnected(code: Int32) {
        guard !lifecycle.isClosed else { return }  // libmosquitto may report a close twice
        if code == 0 {
            close(lifecycle.reasonForPeerClose(otherwise: .serverDisconnect(ServerDisconnect(reasonCode: 0))))
        } else if options.protocolVersion == .v5 && code >= 0x80 {
            close(.serverDisconnect(ServerDisconnect(reasonCode: Int(code))))
        } else {
            closeAfterLoopError(code)
        }
    }

    func publishCompleted(mid: Int32, reasonCode: Int32) {
        onPublishComplete?(mid, reasonCode)
    }

    func messageReceived(_ message: UnsafePointer<mosquitto_message>, properties: OpaquePointer?) {
        guard let onMessage else { return }
        let m = message.pointee
        let topicLength = m.topic.map { strlen($0) } ?? 0
        onMessage(
            ReceivedMessage(
                mid: Int(m.mid), qos: Int(m.qos), retain: m.retain,
                topic: UnsafeRawBufferPointer(start: m.topic, count: topicLength),
                payload: UnsafeRawBufferPointer(start: m.payload, count: Int(max(0, m.payloadlen))),
                rawProperties: properties))
    }

    func subscribed(mid: Int32, granted: UnsafeBufferPointer<Int32>) {
        onSubscribe?(mid, Array(granted))
    }

    func unsubscribed(mid: Int32) {
        onUnsubscribe?(mid)
    }

    func logged(level: Int32, message: UnsafePointer<CChar>) {
        if let onPingResponse, hasSuffix(message, " received PINGRESP") {
            onPingResponse()
        }
        guard onLog != nil || level == MOSQ_LOG_ERR else { return }
        let line = String(cString: message)
        if level == MOSQ_LOG_ERR {
            if lifecycle.isConnecting && mosquittoTLS != nil {
                tlsDiagnosis.record(logLine: line)
                if line.hasPrefix("OpenSSL Error"), let verify = handle.tlsVerifyResult(), verify != 0 {
                    tlsDiagnosis.verifyResult = verify
                }
            }
            lastErrorLog = line
        }
        onLog?(LogLevel(rawValue: level), line)
    }

    /// The log is needed while connecting (TLS errors only show there), for
    /// `--debug`, and to see PINGRESPs. Otherwise it costs a formatted line per packet.
    private func updateLogging() {
        guard let handle else { return }
        handle.setLogging(lifecycle.isConnecting || onLog != nil || onPingResponse != nil)
    }
}

/// MQTT 5 subscription options (plus the "send retained" choice).
public struct SubscriptionOptions: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let noLocal = SubscriptionOptions(rawValue: Int32(MQTT_SUB_OPT_NO_LOCAL.rawValue))
    public static let retainAsPublished = SubscriptionOptions(
        rawValue: Int32(MQTT_SUB_OPT_RETAIN_AS_PUBLISHED.rawValue))
    public static let sendRetainedIfNew = SubscriptionOptions(rawValue: Int32(MQTT_SUB_OPT_SEND_RETAIN_NEW.rawValue))
    public static let sendRetainedNever = SubscriptionOptions(rawValue: Int32(MQTT_SUB_OPT_SEND_RETAIN_NEVER.rawValue))
}

private func hasSuffix(_ cString: UnsafePointer<CChar>, _ suffix: StaticString) -> Bool {
    let length = strlen(cString)
    let suffixLength = suffix.utf8CodeUnitCount
    guard length >= suffixLength else { return false }
    return memcmp(cString + (length - suffixLength), suffix.utf8Start, suffixLength) == 0
}

extension String {
    /// Without leading and trailing spaces.
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int(seconds)) : String(seconds)
}
