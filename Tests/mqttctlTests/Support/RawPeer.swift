import Foundation

/// A TCP server on a free 127.0.0.1 port that speaks just enough MQTT to
/// misbehave on purpose (things mosquitto never does): accept and say nothing,
/// or accept the connection and then never acknowledge a publish.
/// Runs in a background thread; closed when the object goes away.
final class RawPeer: @unchecked Sendable {
    enum Behaviour {
        /// Accept TCP, never send anything (no CONNACK).
        case silent
        /// CONNACK (accepted), then read and ignore everything (no PUBACK, no SUBACK).
        case connackThenIgnore
        /// Answer the first bytes with these (a TLS alert, an HTTP error...), then close.
        case replyAndClose([UInt8])
        /// MQTT 3.1.1: CONNACK, SUBACK (QoS 2), then one QoS 2 PUBLISH ("held", message
        /// id 1) whose PUBREL follows the client's PUBREC after `pubrelAfter` seconds,
        /// or never (nil): a QoS 2 message the client has acknowledged but not yet got.
        case qos2Publisher(pubrelAfter: Double?)
    }

    let port: Int
    private let listener: Int32
    private let behaviour: Behaviour
    private var connections: [Int32] = []
    private let lock = NSLock()
    private var stopped = false
    private var publishes = 0

    /// PUBLISH packets received so far, on all connections.
    var publishesReceived: Int {
        lock.lock()
        defer { lock.unlock() }
        return publishes
    }

    convenience init(reply: [UInt8]) throws {
        try self.init(.replyAndClose(reply))
    }

    init(_ behaviour: Behaviour) throws {
        self.behaviour = behaviour
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(listener, pointer, length) == 0 && listen(listener, 16) == 0
                    && getsockname(listener, pointer, &length) == 0
            }
        }
        guard ok else { throw BrokerError("RawPeer: cannot listen") }
        port = Int(UInt16(bigEndian: address.sin_port))
        start()
    }

    private func start() {
        Thread { [weak self] in self?.acceptLoop() }.start()
    }

    deinit {
        close()
    }

    func close() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        let open = connections
        connections = []
        lock.unlock()
        guard !wasStopped else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
        for fd in open {
            shutdown(fd, Int32(SHUT_RDWR))
            Glibc.close(fd)
        }
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 { return }
            lock.lock()
            if stopped {
                lock.unlock()
                Glibc.close(fd)
                return
            }
            connections.append(fd)
            lock.unlock()
            let behaviour = self.behaviour
            Thread { [weak self] in
                if case .replyAndClose(let reply) = behaviour {
                    self?.replyAndClose(fd, reply)
                } else {
                    RawPeer.serve(fd, behaviour) { self?.countPublish() }
                }
            }.start()
        }
    }

    private func countPublish() {
        lock.lock()
        publishes += 1
        lock.unlock()
    }

    /// Waits for the client's first bytes, answers, and closes (only once: the
    /// fd leaves `connections` first, so `close()` cannot close it again).
    private func replyAndClose(_ fd: Int32, _ reply: [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        _ = read(fd, &buffer, buffer.count)
        if !reply.isEmpty { _ = reply.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        lock.lock()
        let mine = connections.contains(fd)
        connections.removeAll { $0 == fd }
        lock.unlock()
        guard mine else { return }
        shutdown(fd, Int32(SHUT_WR))
        // Let the client read the reply before the socket goes (no reset on unread data).
        while read(fd, &buffer, buffer.count) > 0 {}
        Glibc.close(fd)
    }

    private static func serve(_ fd: Int32, _ behaviour: Behaviour, onPublish: () -> Void) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var answered = false
        var stream: [UInt8] = []
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return }
            // Split the stream into packets (type byte, remaining length) to count PUBLISHes.
            stream += buffer[0..<n]
            while let (type, length) = packetHeader(stream), stream.count >= length {
                if type == 3 { onPublish() }
                if case .qos2Publisher(let delay) = behaviour {
                    answer(fd, type: type, packet: Array(stream[0..<length]), pubrelAfter: delay)
                }
                stream.removeFirst(length)
            }
            if case .connackThenIgnore = behaviour, !answered, buffer[0] & 0xF0 == 0x10 {
                answered = true
                let isV5 = buffer.prefix(n).count > 8 && buffer[8] == 5
                let connack: [UInt8] = isV5 ? [0x20, 0x03, 0x00, 0x00, 0x00] : [0x20, 0x02, 0x00, 0x00]
                _ = connack.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            }
        }
    }

    private static func answer(_ fd: Int32, type: UInt8, packet: [UInt8], pubrelAfter delay: Double?) {
        @Sendable func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        switch type {
        case 1:
            send([0x20, 0x02, 0x00, 0x00])
        case 8 where packet.count >= 4:
            // SUBACK for the SUBSCRIBE's message id, then the message.
            send([0x90, 0x03, packet[2], packet[3], 0x02])
            let topic = Array("t".utf8), payload = Array("held".utf8)
            send(
                [0x34, UInt8(2 + topic.count + 2 + payload.count), 0, UInt8(topic.count)] + topic + [0x00, 0x01]
                    + payload)
        case 5:
            guard let delay else { return }
            Thread {
                usleep(UInt32(delay * 1_000_000))
                send([0x62, 0x02, 0x00, 0x01])
            }.start()
        default:
            break
        }
    }

    /// The packet type and the whole packet's length, once its header is complete.
    private static func packetHeader(_ bytes: [UInt8]) -> (type: UInt8, length: Int)? {
        guard bytes.count >= 2 else { return nil }
        var remaining = 0
        var multiplier = 1
        for i in 1..<min(bytes.count, 5) {
            remaining += Int(bytes[i] & 0x7F) * multiplier
            if bytes[i] & 0x80 == 0 { return (bytes[0] >> 4, 1 + i + remaining) }
            multiplier *= 128
        }
        return nil
    }
}
