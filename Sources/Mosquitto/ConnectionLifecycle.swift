/// The lifecycle of one `MQTTClient` connection, clean ending included, as a
/// value: each case carries the data that only it has. Events come in as
/// mutating methods, and those with a choice to make answer with what the
/// client must do (the pattern of swift-kafka-client's
/// `KafkaProducer.StateMachine`). The value never touches a socket or
/// libmosquitto: `MQTTClient` does, and asks this value instead of testing
/// flags. Closing always goes through `close(_:)`, so that the client fires
/// `onClose` in one place and exactly once.
///
/// `silent` and the watch of `watchForEnd` are not part of it: they say who
/// writes and who reads, in any phase (a disconnect lifts `silent`).
struct ConnectionLifecycle {
    enum State {
        /// Made, never connected.
        case idle
        /// The transport is up and CONNECT queued; no CONNACK yet. Whether our
        /// side of libmosquitto's TLS handshake has completed in this attempt
        /// (noticed once: libmosquitto frees the session on close).
        case connecting(tlsHandshakeDone: Bool)
        /// CONNACK accepted.
        case connected
        /// `stopAfterThisMessage`: the DISCONNECT properties, and whether every
        /// acknowledgement up to the last message had been written then. Still
        /// connected; libmosquitto reads nothing more.
        case stoppingAfterDelivery(properties: MQTTProperties, flushed: Bool)
        /// A requested end in progress (see `MQTTClient.disconnect`).
        case ending(Ending)
        case closed(CloseReason)
    }

    /// How a requested end proceeds.
    enum Ending: Equatable {
        /// Writing libmosquitto's queue; then these DISCONNECT bytes.
        case flushing([UInt8])
        /// DISCONNECT sent, write side closed: discarding input until the broker
        /// closes or this monotonic time passes.
        case draining(until: UInt64)
    }

    private(set) var state: State = .idle

    // MARK: Events

    /// `connect()` or `reconnect()`: a new attempt, with nothing of the last one.
    mutating func connectStarted() {
        state = .connecting(tlsHandshakeDone: false)
    }

    /// libmosquitto's TLS handshake has finished. True the first time in an
    /// attempt (the client then checks the handshake before CONNECT is written).
    mutating func tlsHandshakeFinished() -> Bool {
        guard case .connecting(tlsHandshakeDone: false) = state else { return false }
        state = .connecting(tlsHandshakeDone: true)
        return true
    }

    /// A CONNACK with code 0. A refusal is a `close`.
    mutating func connAckAccepted() {
        guard case .connecting = state else { return }
        state = .connected
    }

    enum DisconnectAction: Equatable {
        /// Not open, or already ending: nothing to do.
        case ignore
        /// No CONNACK yet, nothing to say goodbye to: shut the socket and close
        /// with `.requested`.
        case closeNow
        /// Write libmosquitto's queue, then the DISCONNECT (`Ending.flushing`).
        case flush
    }

    /// `disconnect()` with its encoded DISCONNECT. A request while ending is
    /// ignored; one while stopping after a delivery takes over from the stop
    /// (nothing after the last message was acknowledged; it adds only its own
    /// DISCONNECT).
    mutating func disconnectRequested(packet: [UInt8]) -> DisconnectAction {
        switch state {
        case .connecting:
            return .closeNow
        case .connected, .stoppingAfterDelivery:
            state = .ending(.flushing(packet))
            return .flush
        case .idle, .ending, .closed:
            return .ignore
        }
    }

    /// Whether `stopAfterThisMessage` applies now: connected, with no end or
    /// stop under way.
    var mayStopAfterDelivery: Bool {
        if case .connected = state { return true }
        return false
    }

    /// `stopAfterThisMessage`, after the client wrote what it could of the queue.
    mutating func stopAfterDelivery(properties: MQTTProperties, flushed: Bool) {
        guard mayStopAfterDelivery else { return }
        state = .stoppingAfterDelivery(properties: properties, flushed: flushed)
    }

    enum LastDeliveryAction: Equatable {
        /// No stop under way.
        case none
        /// Write DISCONNECT with these properties around libmosquitto's queue,
        /// whose later acknowledgements must never go out.
        case sendDisconnect(MQTTProperties)
        /// A packet may be half-written, so DISCONNECT cannot be slipped in: shut
        /// the socket and close with `.requested` (nothing is lost: what was not
        /// acknowledged stays with the broker).
        case closeNow
    }

    /// libmosquitto's read returned after `stopAfterDelivery`.
    func lastDeliveryRead() -> LastDeliveryAction {
        guard case .stoppingAfterDelivery(let properties, let flushed) = state else { return .none }
        return flushed ? .sendDisconnect(properties) : .closeNow
    }

    /// DISCONNECT written and the write side closed: drain until `until`.
    mutating func disconnectSent(drainUntil until: UInt64) {
        switch state {
        case .ending(.flushing), .stoppingAfterDelivery:
            state = .ending(.draining(until: until))
        default:
            return
        }
    }

    /// The connection ended. False when it already had (libmosquitto may
    /// report a close twice): the first reason stands.
    mutating func close(_ reason: CloseReason) -> Bool {
        if case .closed = state { return false }
        state = .closed(reason)
        return true
    }

    /// Why the connection ended when the broker closed it: `.requested` once we
    /// asked for the end, else `otherwise`.
    func reasonForPeerClose(otherwise: @autoclosure () -> CloseReason) -> CloseReason {
        if case .ending = state { return .requested }
        return otherwise()
    }

    // MARK: What the client asks

    /// What callers see.
    var publicState: MQTTClient.State {
        switch state {
        case .idle: return .idle
        case .connecting: return .connecting
        case .connected, .stoppingAfterDelivery, .ending: return .connected
        case .closed: return .closed
        }
    }

    var isClosed: Bool { publicState == .closed }
    var isConnecting: Bool { publicState == .connecting }
    /// CONNACK accepted and not closed (possibly ending).
    var isConnected: Bool { publicState == .connected }

    /// Connected and no requested end under way (a stop after delivery is not
    /// one yet): keep-alive runs, packets may be written around the queue, the
    /// end may be watched.
    var isOpen: Bool {
        switch state {
        case .connected, .stoppingAfterDelivery: return true
        default: return false
        }
    }

    /// Connecting, with our side of the TLS handshake not yet seen complete.
    var awaitsTLSHandshake: Bool {
        if case .connecting(tlsHandshakeDone: false) = state { return true }
        return false
    }

    /// Connecting, with our side of the TLS handshake complete (a close now is
    /// the broker refusing us at the TLS level, e.g. TLS 1.3's late client
    /// certificate check).
    var tlsHandshakeDone: Bool {
        if case .connecting(tlsHandshakeDone: true) = state { return true }
        return false
    }

    /// Whether libmosquitto may read (and so process and acknowledge) more:
    /// not once an end or a stop after delivery is under way.
    var libraryMayRead: Bool {
        switch state {
        case .idle, .connecting, .connected: return true
        case .stoppingAfterDelivery, .ending, .closed: return false
        }
    }

    /// The requested end under way, if any.
    var ending: Ending? {
        if case .ending(let ending) = state { return ending }
        return nil
    }

    var closeReason: CloseReason? {
        if case .closed(let reason) = state { return reason }
        return nil
    }

    /// When the loop must call `tick` at the latest: the end of draining, or the
    /// connect deadline while connecting. A closed connection waits for nothing
    /// (a stale deadline would spin the loop).
    func deadline(connectDeadline: UInt64) -> UInt64 {
        switch state {
        case .closed: return .max
        case .ending(.draining(let until)): return until
        case .connecting: return connectDeadline
        default: return .max
        }
    }
}
