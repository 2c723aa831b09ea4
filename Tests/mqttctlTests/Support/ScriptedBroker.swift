import Foundation
import Synchronization

/// A tiny MQTT 3.1.1/5 peer for what a real mosquitto never does: answering
/// PINGREQ slowly or not at all, sending DISCONNECT 0x8D before a keep-alive
/// drop, dropping too early or too late, never dropping, sending DISCONNECT
/// 0x8E on take-over, refusing MQTT 5. It speaks just enough MQTT for mqttctl:
/// CONNECT/CONNACK (optionally with Server Keep Alive), SUBSCRIBE/SUBACK,
/// PUBLISH routed to subscribers at QoS 0 (PUBACK for QoS 1), the will on an
/// abnormal close, PINGREQ/PINGRESP, DISCONNECT. One background thread, one
/// poll loop, on a free 127.0.0.1 port. It also records every packet type it
/// received per client id, so tests can check what a client really sent.
final class ScriptedBroker: @unchecked Sendable {
    struct Behaviour: Sendable {
        enum Pings: Sendable {
            case answer
            case ignore
            /// Answer each PINGREQ this many seconds after it arrived.
            case delay(Double)
        }

        enum Takeover: Sendable {
            /// Close the old connection without a packet (mosquitto before 2.0.15).
            case close
            /// MQTT 5: send DISCONNECT with this reason code first (0x8E), then close.
            case disconnect(UInt8)
            /// Leave the old connection open (a broken broker).
            case keepOld
        }

        var pings: Pings = .answer
        /// Drop a client that has been silent for this multiple of its effective
        /// keep-alive (0.4: early, 1.2: in the window, 2.5: late); nil: never.
        var dropFactor: Double?
        /// MQTT 5: the DISCONNECT reason code sent before a keep-alive drop (0x8D); nil: just close.
        var keepAliveDisconnect: UInt8?
        /// MQTT 5: Server Keep Alive put in every CONNACK.
        var serverKeepAlive: UInt16?
        /// false: answer an MQTT 5 CONNECT as an MQTT 3.1.1-only broker does (CONNACK 1) and close.
        var acceptV5 = true
        var takeover: Takeover = .close
        /// Refuse every subscription whose filter starts with this prefix: SUBACK
        /// 0x80 (MQTT 3.1.1) or 0x87 Not authorized (MQTT 5). mosquitto 2.0.11's
        /// ACL file never refuses a subscription, so only this peer can.
        var refuseFiltersWithPrefix: String?

        /// How the take-over decides about the old connection's will.
        enum TakeoverWill: Sendable, Equatable {
            /// As the specification says: MQTT 3.1.1 always; MQTT 5 when the session
            /// ends (B clean start 1, A's session expiry 0) or A's will delay is 0.
            case specification
            /// As mosquitto 2.0.11: MQTT 5 only when the session ends, never with a will delay.
            case likeMosquitto
        }
        var takeoverWill: TakeoverWill = .specification
        /// MQTT 5: the reason string (0x1F) and a user property sent with every DISCONNECT.
        var disconnectReasonString: String?
        var disconnectUserProperty: (String, String)?
        /// Close a dropped or taken-over connection with a reset (RST) instead of a FIN.
        var closeWithReset = false
        /// Close the connection without CONNACK when a client asks for keep-alive 0.
        var closeOnKeepAliveZero = false
        /// MQTT 5: Maximum QoS put in every CONNACK (SUBACK grants at most this; a
        /// PUBLISH above it is a protocol error: the peer closes the connection).
        var maximumQoS: UInt8?
        /// MQTT 5: Maximum Packet Size put in every CONNACK; a bigger packet gets DISCONNECT 0x95.
        var maximumPacketSize: UInt32?
        /// Never answer an MQTT 3.1.1 CONNECT (a broker that only speaks MQTT 5 and ignores the rest).
        var ignoreMQTT311 = false
        /// Publish wills this many seconds late (after the close and any will delay).
        var willLateBy: Double = 0
        /// Publish wills at once, whatever their will delay (a broker that ignores it).
        var ignoreWillDelay = false
    }

    let port: Int
    /// With `nodes: 2`: the second "node", a listener that shares every session
    /// and subscription with the first, as the nodes of a cluster do.
    let secondPort: Int?
    let behaviour: Behaviour
    private let listeners: [Int32]
    private let running = Atomic<Bool>(true)
    private let finished = DispatchSemaphore(value: 0)
    private let received = Mutex<[String: [UInt8]]>([:])

    init(_ behaviour: Behaviour = Behaviour(), nodes: Int = 1) throws {
        self.behaviour = behaviour
        var listeners: [Int32] = []
        var ports: [Int] = []
        for _ in 0..<max(1, nodes) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw BrokerError("socket() failed") }
            // No SO_REUSEADDR: a port the kernel hands out here must not be one that a
            // broker being started (mosquitto, ejabberd: both set SO_REUSEADDR) can
            // bind as well before either listens (a probe once reached ejabberd here).
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                    guard bind(fd, pointer, length) == 0, listen(fd, 64) == 0 else { return -1 }
                    return getsockname(fd, pointer, &length)
                }
            }
            guard bound == 0 else {
                close(fd)
                for other in listeners { close(other) }
                throw BrokerError("bind/listen failed")
            }
            listeners.append(fd)
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        self.listeners = listeners
        port = ports[0]
        secondPort = ports.count > 1 ? ports[1] : nil
        let thread = Thread { [self] in
            Loop(broker: self).run()
            finished.signal()
        }
        thread.name = "ScriptedBroker \(port)"
        thread.start()
    }

    deinit {
        stop()
    }

    func stop() {
        guard running.exchange(false, ordering: .sequentiallyConsistent) else { return }
        finished.wait()
        for listener in listeners { close(listener) }
    }

    /// The MQTT packet types (1 CONNECT, 3 PUBLISH, 8 SUBSCRIBE, 12 PINGREQ, 14
    /// DISCONNECT...) received from connections with this client id, in order.
    func packets(from clientID: String) -> [UInt8] {
        received.withLock { $0[clientID] ?? [] }
    }

    fileprivate var isRunning: Bool { running.load(ordering: .sequentiallyConsistent) }
    fileprivate var listenerFDs: [Int32] { listeners }

    fileprivate func record(_ type: UInt8, from clientID: String) {
        received.withLock { $0[clientID, default: []].append(type) }
    }
}

/// The broker thread's state. Only that thread touches it.
private final class Loop {
    final class Connection {
        let fd: Int32
        var buffer: [UInt8] = []
        var clientID = ""
        var version: UInt8 = 4
        var connected = false
        var cleanStart = true
        var sessionExpiry: UInt32 = 0
        var keepAlive = 0
        var lastIn = now()
        var will: (topic: String, payload: [UInt8])?
        /// The will's user properties, forwarded with it (MQTT 5).
        var willUserProperties: [(String, String)] = []
        var willDelay: UInt32 = 0
        var delayed: [(at: Double, bytes: [UInt8])] = []
        var open = true

        init(fd: Int32) { self.fd = fd }
    }

    let broker: ScriptedBroker
    var behaviour: ScriptedBroker.Behaviour { broker.behaviour }
    var connections: [Connection] = []
    /// Subscriptions per client id: the session (kept when the client asked for it).
    var sessions: [String: [String]] = [:]
    var assigned = 0
    var pendingWills: [(at: Double, topic: String, payload: [UInt8], users: [(String, String)])] = []

    init(broker: ScriptedBroker) {
        self.broker = broker
    }

    func run() {
        while broker.isRunning {
            let listeners = broker.listenerFDs
            var fds = listeners.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let polled = connections
            fds += polled.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), 10)
            for (i, listener) in listeners.enumerated() where fds[i].revents & Int16(POLLIN) != 0 {
                let fd = accept(listener, nil, nil)
                if fd >= 0 { connections.append(Connection(fd: fd)) }
            }
            // A connection ended earlier in this round (a take-over) has a closed fd
            // that another thread of the test process may already have reused.
            for (i, connection) in polled.enumerated() where fds[listeners.count + i].revents != 0 && connection.open {
                readFrom(connection)
            }
            let due = pendingWills.filter { $0.at <= now() }
            pendingWills.removeAll { $0.at <= now() }
            for will in due { route(topic: will.topic, payload: will.payload, userProperties: will.users) }
            let t = now()
            for connection in connections where connection.open {
                let due = connection.delayed.filter { $0.at <= t }
                connection.delayed.removeAll { $0.at <= t }
                for item in due { send(connection, item.bytes) }
                checkKeepAlive(connection, now: t)
            }
            connections.removeAll { !$0.open }
        }
        for connection in connections { Glibc.close(connection.fd) }
    }

    // MARK: Reading

    func readFrom(_ connection: Connection) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(connection.fd, &chunk, chunk.count, 0)
        if n <= 0 {
            end(connection, publishWill: true)
            return
        }
        connection.buffer += chunk[0..<n]
        while connection.open, let (type, flags, body, total) = nextPacket(connection.buffer) {
            connection.buffer.removeFirst(total)
            connection.lastIn = now()
            if connection.connected, connection.version == 5, let size = behaviour.maximumPacketSize, total > Int(size)
            {
                send(connection, disconnectPacket(0x95))
                end(connection, publishWill: true)
                return
            }
            if connection.connected { broker.record(type, from: connection.clientID) }
            handle(connection, type: type, flags: flags, body: body)
        }
    }

    func nextPacket(_ buffer: [UInt8]) -> (UInt8, UInt8, [UInt8], Int)? {
        guard buffer.count >= 2 else { return nil }
        var length = 0
        var multiplier = 1
        var i = 1
        while true {
            guard i < buffer.count else { return nil }
            let byte = Int(buffer[i])
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            i += 1
            if byte & 0x80 == 0 { break }
            if i > 4 { return nil }
        }
        guard buffer.count >= i + length else { return nil }
        return (buffer[0] >> 4, buffer[0] & 0x0F, Array(buffer[i..<(i + length)]), i + length)
    }

    func handle(_ connection: Connection, type: UInt8, flags: UInt8, body: [UInt8]) {
        switch type {
        case 1: connect(connection, body)
        case 3: publish(connection, flags: flags, body)
        case 8: subscribe(connection, body)
        case 10:
            // UNSUBACK (MQTT 5: one reason code per filter, all "no subscription existed" is fine for tests).
            let id = Array(body.prefix(2))
            send(connection, connection.version == 5 ? [0xB0, 0x04] + id + [0x00, 0x00] : [0xB0, 0x02] + id)
        case 12:
            switch behaviour.pings {
            case .answer: send(connection, [0xD0, 0x00])
            case .ignore: break
            case .delay(let seconds): connection.delayed.append((now() + seconds, [0xD0, 0x00]))
            }
        case 14:
            // A v5 DISCONNECT 0x04 asks for the will; anything else discards it.
            let withWill = connection.version == 5 && body.first == 0x04
            end(connection, publishWill: withWill)
        default:
            break
        }
    }

    // MARK: Packets

    func connect(_ connection: Connection, _ body: [UInt8]) {
        var r = Reader(body)
        _ = r.string()
        connection.version = r.byte()
        let flags = r.byte()
        connection.keepAlive = Int(r.uint16())
        connection.cleanStart = flags & 0x02 != 0
        if connection.version == 5 {
            for (id, value) in r.properties() where id == 0x11 {
                connection.sessionExpiry = UInt32(truncatingIfNeeded: value)
            }
        }
        var clientID = r.string()
        if flags & 0x04 != 0 {
            if connection.version == 5 {
                let start = r.offset
                for (id, value) in r.properties() where id == 0x18 {
                    connection.willDelay = UInt32(truncatingIfNeeded: value)
                }
                connection.willUserProperties = userProperties(Array(body[start..<r.offset]))
            }
            let topic = r.string()
            let payload = r.binary()
            connection.will = (topic, payload)
        }
        if connection.version != 5 && behaviour.ignoreMQTT311 { return }
        if connection.keepAlive == 0 && behaviour.closeOnKeepAliveZero {
            end(connection, publishWill: false)
            return
        }
        if connection.version == 5 && !behaviour.acceptV5 {
            // What an MQTT 3.1.1-only broker answers: "unacceptable protocol version".
            send(connection, [0x20, 0x02, 0x00, 0x01])
            end(connection, publishWill: false)
            return
        }
        if clientID.isEmpty {
            assigned += 1
            clientID = "auto-\(assigned)"
        }
        connection.clientID = clientID
        broker.record(1, from: clientID)

        var sessionPresent = false
        for old in connections where old !== connection && old.open && old.connected && old.clientID == clientID {
            switch behaviour.takeover {
            case .keepOld:
                continue
            case .disconnect(let reason):
                if old.version == 5 { send(old, disconnectPacket(reason)) }
            case .close:
                break
            }
            let sessionEnds = connection.cleanStart || old.sessionExpiry == 0
            let publish: Bool
            switch behaviour.takeoverWill {
            case .specification: publish = old.version != 5 || sessionEnds || old.willDelay == 0
            case .likeMosquitto: publish = old.version != 5 ? old.cleanStart : sessionEnds && old.willDelay == 0
            }
            end(old, publishWill: publish, keepSession: true)
            // The old session ends on the take-over when A's expiry is 0 (the §3.1.4 comment).
            let oldEnds = old.version == 5 ? old.sessionExpiry == 0 : old.cleanStart
            if behaviour.takeoverWill == .specification && oldEnds { sessions[clientID] = nil }
        }
        if connection.cleanStart {
            sessions[clientID] = []
        } else if sessions[clientID] != nil {
            sessionPresent = true
        } else {
            sessions[clientID] = []
        }
        connection.connected = true
        if connection.version == 5 {
            var properties: [UInt8] = []
            if let serverKeepAlive = behaviour.serverKeepAlive {
                properties += [0x13, UInt8(serverKeepAlive >> 8), UInt8(serverKeepAlive & 0xFF)]
                connection.keepAlive = Int(serverKeepAlive)
            }
            if let maximumQoS = behaviour.maximumQoS { properties += [0x24, maximumQoS] }
            if let size = behaviour.maximumPacketSize {
                properties += [
                    0x27, UInt8(size >> 24), UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF),
                ]
            }
            send(
                connection,
                [0x20, UInt8(3 + properties.count), sessionPresent ? 1 : 0, 0x00, UInt8(properties.count)] + properties)
        } else {
            send(connection, [0x20, 0x02, sessionPresent ? 1 : 0, 0x00])
        }
    }

    func subscribe(_ connection: Connection, _ body: [UInt8]) {
        var r = Reader(body)
        let packetID = r.uint16()
        if connection.version == 5 { _ = r.properties() }
        var granted: [UInt8] = []
        while !r.atEnd {
            let filter = r.string()
            let options = r.byte()
            if let prefix = behaviour.refuseFiltersWithPrefix, filter.hasPrefix(prefix) {
                granted.append(connection.version == 5 ? 0x87 : 0x80)
                continue
            }
            sessions[connection.clientID, default: []].append(filter)
            granted.append(min(options & 0x03, 1, behaviour.maximumQoS ?? 2))
        }
        let header: [UInt8] =
            connection.version == 5
            ? [UInt8(packetID >> 8), UInt8(packetID & 0xFF), 0] : [UInt8(packetID >> 8), UInt8(packetID & 0xFF)]
        send(connection, [0x90, UInt8(header.count + granted.count)] + header + granted)
    }

    func publish(_ connection: Connection, flags: UInt8, _ body: [UInt8]) {
        var r = Reader(body)
        let topic = r.string()
        let qos = (flags >> 1) & 0x03
        if connection.version == 5, let maximum = behaviour.maximumQoS, qos > maximum {
            // [MQTT-3.2.2-11]: a PUBLISH above Maximum QoS is a protocol error.
            send(connection, disconnectPacket(0x9B))
            end(connection, publishWill: true)
            return
        }
        var packetID: UInt16 = 0
        if qos > 0 { packetID = r.uint16() }
        if connection.version == 5 { _ = r.properties() }
        let payload = r.rest()
        route(topic: topic, payload: payload)
        if qos == 1 { send(connection, [0x40, 0x02, UInt8(packetID >> 8), UInt8(packetID & 0xFF)]) }
    }

    /// Delivers at QoS 0 to every connection whose session has a matching filter.
    func route(topic: String, payload: [UInt8], userProperties: [(String, String)] = []) {
        var properties: [UInt8] = []
        for (key, value) in userProperties {
            properties += [0x26] + lengthPrefixed(Array(key.utf8)) + lengthPrefixed(Array(value.utf8))
        }
        for connection in connections where connection.open && connection.connected {
            let filters = sessions[connection.clientID] ?? []
            guard filters.contains(where: { matches(filter: $0, topic: topic) }) else { continue }
            var variable = lengthPrefixed(Array(topic.utf8))
            if connection.version == 5 { variable += remainingLength(properties.count) + properties }
            send(connection, [0x30] + remainingLength(variable.count + payload.count) + variable + payload)
        }
    }

    // MARK: Keep-alive and endings

    func checkKeepAlive(_ connection: Connection, now t: Double) {
        guard connection.connected, let factor = behaviour.dropFactor, connection.keepAlive > 0 else { return }
        guard t - connection.lastIn >= factor * Double(connection.keepAlive) else { return }
        if connection.version == 5, let reason = behaviour.keepAliveDisconnect {
            send(connection, disconnectPacket(reason))
        }
        end(connection, publishWill: true)
    }

    /// DISCONNECT with a reason code and, when configured, a reason string and a user property.
    func disconnectPacket(_ reason: UInt8) -> [UInt8] {
        var properties: [UInt8] = []
        if let text = behaviour.disconnectReasonString { properties += [0x1F] + lengthPrefixed(Array(text.utf8)) }
        if let (key, value) = behaviour.disconnectUserProperty {
            properties += [0x26] + lengthPrefixed(Array(key.utf8)) + lengthPrefixed(Array(value.utf8))
        }
        let body = [reason] + remainingLength(properties.count) + properties
        return [0xE0] + remainingLength(body.count) + body
    }

    func end(_ connection: Connection, publishWill: Bool, keepSession: Bool = false) {
        guard connection.open else { return }
        connection.open = false
        if behaviour.closeWithReset && connection.connected {
            // SO_LINGER 0: close() sends RST.
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(connection.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        } else {
            shutdown(connection.fd, Int32(SHUT_RDWR))
        }
        Glibc.close(connection.fd)
        let will = connection.will
        connection.will = nil
        let sessionEnds = connection.version == 5 ? connection.sessionExpiry == 0 : connection.cleanStart
        if sessionEnds && !keepSession && connection.connected {
            sessions[connection.clientID] = nil
        }
        if publishWill, connection.connected, let will {
            // MQTT 5: after the will delay, or at once when the session ends with the connection.
            let delay =
                connection.version == 5 && !sessionEnds && !keepSession && !behaviour.ignoreWillDelay
                ? Double(min(connection.willDelay, connection.sessionExpiry)) : 0
            let wait = delay + behaviour.willLateBy
            if wait > 0 {
                pendingWills.append((now() + wait, will.topic, will.payload, connection.willUserProperties))
            } else {
                route(topic: will.topic, payload: will.payload, userProperties: connection.willUserProperties)
            }
        }
    }

    func send(_ connection: Connection, _ bytes: [UInt8]) {
        guard connection.open else { return }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes {
                Glibc.send(connection.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if n <= 0 { return }
            offset += n
        }
    }
}

// MARK: - Helpers

private func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

private func remainingLength(_ value: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    var v = value
    repeat {
        var byte = UInt8(v % 128)
        v /= 128
        if v > 0 { byte |= 0x80 }
        bytes.append(byte)
    } while v > 0
    return bytes
}

private func lengthPrefixed(_ bytes: [UInt8]) -> [UInt8] {
    [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
}

private func matches(filter: String, topic: String) -> Bool {
    let f = filter.split(separator: "/", omittingEmptySubsequences: false)
    let t = topic.split(separator: "/", omittingEmptySubsequences: false)
    for (i, level) in f.enumerated() {
        if level == "#" { return true }
        guard i < t.count else { return false }
        if level != "+" && level != t[i] { return false }
    }
    return f.count == t.count
}

/// Reads MQTT fields; out-of-range reads give zeros (the peer is for tests, not hostile input).
/// The user properties (0x26) in an MQTT 5 property section (its length first).
private func userProperties(_ section: [UInt8]) -> [(String, String)] {
    var r = Reader(section)
    let length = r.varint()
    let end = min(section.count, r.offset + length)
    var result: [(String, String)] = []
    while r.offset < end {
        let id = r.varint()
        switch id {
        case 0x26: result.append((r.string(), r.string()))
        case 0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A: _ = r.byte()
        case 0x13, 0x21, 0x22, 0x23: _ = r.uint16()
        case 0x02, 0x11, 0x18, 0x27: _ = r.uint32()
        case 0x0B: _ = r.varint()
        default: _ = r.binary()
        }
    }
    return result
}

private struct Reader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { offset >= bytes.count }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() -> UInt16 {
        UInt16(byte()) << 8 | UInt16(byte())
    }

    mutating func uint32() -> UInt32 {
        UInt32(uint16()) << 16 | UInt32(uint16())
    }

    mutating func varint() -> Int {
        var value = 0
        var multiplier = 1
        for _ in 0..<4 {
            let b = Int(byte())
            value += (b & 0x7F) * multiplier
            multiplier *= 128
            if b & 0x80 == 0 { break }
        }
        return value
    }

    mutating func binary() -> [UInt8] {
        let length = Int(uint16())
        let end = min(bytes.count, offset + length)
        defer { offset = end }
        return Array(bytes[min(offset, end)..<end])
    }

    mutating func string() -> String {
        String(decoding: binary(), as: UTF8.self)
    }

    mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return offset < bytes.count ? Array(bytes[offset...]) : []
    }

    /// MQTT 5 properties: (identifier, numeric value) for the numeric ones; the rest are skipped.
    mutating func properties() -> [(Int, Int)] {
        let length = varint()
        let end = min(bytes.count, offset + length)
        var result: [(Int, Int)] = []
        while offset < end {
            let id = varint()
            switch id {
            case 0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A: result.append((id, Int(byte())))
            case 0x13, 0x21, 0x22, 0x23: result.append((id, Int(uint16())))
            case 0x02, 0x11, 0x18, 0x27: result.append((id, Int(uint32())))
            case 0x0B: result.append((id, varint()))
            case 0x26: _ = binary(); _ = binary()
            default: _ = binary()  // strings and binary data
            }
        }
        offset = end
        return result
    }
}
