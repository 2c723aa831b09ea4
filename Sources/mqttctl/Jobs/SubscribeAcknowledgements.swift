import Mosquitto

/// When `sub` lets acknowledgements go: a message is acknowledged only once its
/// output has been written (write(2) took it), never while it is merely
/// buffered; and with `-C N` no more than N messages ever become ours.
///
/// libmosquitto queues a QoS 1 message's PUBACK before it hands the message
/// over, a QoS 2 message's PUBREC as soon as it arrives and its PUBCOMP before
/// handing it over (at PUBREL). The queue leaves only when our loop writes it,
/// and `MQTTClient.queueGate` asks `mayWriteQueue` first: stdout is flushed,
/// and the queue goes only if everything printed so far was written. Once the
/// queue must not go any more (a write failed, `sub` is stopping, or -C would
/// take more QoS 2 messages than it may still print) it is held for good, and
/// what may still go is written around it (`release`): PUBACK or PUBCOMP of the
/// messages written, PUBREC of the QoS 2 messages that still fit in -C.
///
/// QoS 2 cannot be as safe as QoS 1: once PUBREC is out the broker counts the
/// message as delivered, but libmosquitto hands it over only at PUBREL. Those
/// messages are `committed`; when `sub` stops it waits briefly for their PUBREL
/// and prints them, and whatever is still committed when the connection goes
/// (or is not written) is lost and counted.
final class Acknowledgements {
    private struct Printed {
        /// Output position after the message: written once `output.written` reaches it.
        let end: Int
        let mid: Int32
        let qos: Int32
    }

    let client: MQTTClient
    let output: OutputBuffer
    /// -C: how many messages may become ours in all.
    let limit: Int?
    private(set) var printed = 0
    /// Messages printed since the queue (holding their acknowledgements) last went out.
    private var unreleased: [Printed] = []
    /// Message ids whose PUBREC libmosquitto queued and that has not gone out, in order.
    private var pubrecsQueued: [Int32] = []
    /// QoS 2 messages whose PUBREC went out and that libmosquitto has not handed over.
    private(set) var committed: Set<Int32> = []
    /// The queue must not go any more; only `release` writes.
    private(set) var holding = false
    /// `sub` is stopping: no QoS 2 message becomes ours any more.
    private var closing = false
    /// --remove-retained: topics whose empty retained publish is queued, not yet out.
    private var removalsQueued: [String] = []
    /// Removals that went out and await their PUBACK.
    private(set) var removalsInFlight = 0

    init(client: MQTTClient, output: OutputBuffer, limit: Int?, tracksQoS2: Bool) {
        self.client = client
        self.output = output
        self.limit = limit
        unreleased.reserveCapacity(256)
        client.queueGate = { [unowned self] in mayWriteQueue() }
        if tracksQoS2 {
            // PUBREC leaves no other trace: libmosquitto's log line is the only place.
            // (A client id over ~450 bytes truncates the line; then -C at QoS 2 is
            // no longer exact, as before this tracking existed.)
            let previous = client.onLog
            client.onLog = { [unowned self] level, line in
                previous?(level, line)
                if let mid = Self.pubrecMessageID(line) { pubrecsQueued.append(mid) }
            }
        }
    }

    /// Whether a message may be printed: with -C, the slots left may all be
    /// taken by committed QoS 2 messages; then this one (QoS 0 or 1) is not
    /// printed and its acknowledgement never goes (the queue is held).
    func mayPrint(qos: Int, mid: Int) -> Bool {
        guard let limit else { return true }
        if qos == 2 && committed.contains(Int32(truncatingIfNeeded: mid)) { return true }
        if printed + committed.count < limit { return true }
        holding = true
        return false
    }

    /// Records a message just rendered into `output`.
    @inline(__always)
    func didPrint(qos: Int, mid: Int) {
        printed += 1
        let id = Int32(truncatingIfNeeded: mid)
        if qos == 2 { committed.remove(id) }
        unreleased.append(Printed(end: output.appended, mid: id, qos: Int32(qos)))
    }

    func didQueueRemoval(topic: String) {
        removalsQueued.append(topic)
    }

    func removalAcknowledged() {
        removalsInFlight -= 1
    }

    /// `sub` stops: no more of libmosquitto's queue goes out, and no more PUBREC.
    func stop() {
        holding = true
        closing = true
    }

    func isCommitted(_ mid: Int) -> Bool {
        committed.contains(Int32(truncatingIfNeeded: mid))
    }

    /// The queue gate (see the type's comment).
    private func mayWriteQueue() -> Bool {
        guard !holding else { return false }
        output.flush()
        if output.broken {
            holding = true
            return false
        }
        if let limit {
            let new = Set(pubrecsQueued).subtracting(committed).count
            if printed + committed.count + new > limit {
                holding = true
                return false
            }
        }
        // Everything printed is written: their acknowledgements go with the queue.
        unreleased.removeAll(keepingCapacity: true)
        committed.formUnion(pubrecsQueued)
        pubrecsQueued.removeAll()
        removalsInFlight += removalsQueued.count
        removalsQueued.removeAll()
        return true
    }

    /// Before the loop waits: stdout is flushed (a pipe sees each batch at
    /// once); while holding, what may go is written around the queue.
    /// False when that write was impossible (the connection is then useless).
    func batchEnded() -> Bool {
        if holding { return release() }
        output.flush()
        if !output.broken {
            // QoS 0 needs no acknowledgement; QoS 1 and 2 leave with the queue.
            unreleased.removeAll { $0.qos == 0 }
        }
        return true
    }

    /// Holding: flushes stdout and writes PUBACK/PUBCOMP for the messages written,
    /// PUBREC for queued QoS 2 messages that still fit in -C (unless stopping),
    /// and the queued removals (as QoS 0: a DISCONNECT follows, in order on one
    /// connection). False when the write around the queue was impossible.
    func release() -> Bool {
        output.flush()
        var packets: [UInt8] = []
        var keep: [Printed] = []
        for message in unreleased {
            if message.end > output.written {
                keep.append(message)  // not written: never acknowledged
            } else if message.qos == 1 {
                packets += ControlPacket.puback(message.mid)
            } else if message.qos == 2 {
                packets += ControlPacket.pubcomp(message.mid)
            }
        }
        var granted: [Int32] = []
        if !closing && !output.broken {
            var room = limit.map { max(0, $0 - printed - committed.count) } ?? Int.max
            for mid in pubrecsQueued where room > 0 && !committed.contains(mid) && !granted.contains(mid) {
                granted.append(mid)
                packets += ControlPacket.pubrec(mid)
                room -= 1
            }
        }
        for topic in removalsQueued {
            packets += ControlPacket.emptyRetainedPublish(topic: topic, version: client.options.protocolVersion)
        }
        guard !packets.isEmpty else {
            unreleased = keep
            return true
        }
        guard client.writeAroundQueue(packets) else { return false }
        unreleased = keep
        committed.formUnion(granted)
        pubrecsQueued.removeAll { granted.contains($0) }
        removalsQueued.removeAll()
        return true
    }

    /// After a reconnect: libmosquitto dropped its queue. Committed QoS 2 messages
    /// stay committed (the broker sends their PUBREL again), queued removals are
    /// resent by libmosquitto, acknowledgements not sent are lost (the broker
    /// sends those messages again).
    func reconnected() {
        holding = closing
        unreleased.removeAll(keepingCapacity: true)
        pubrecsQueued.removeAll()
        removalsInFlight += removalsQueued.count
        removalsQueued.removeAll()
    }

    /// Messages printed that did not reach stdout (nothing of them was acknowledged).
    var unwritten: Int {
        unreleased.reduce(0) { $0 + ($1.end > output.written ? 1 : 0) }
    }

    /// Of `unwritten`, those at QoS 0 or 2: the broker will not send them again.
    var unwrittenAndGone: Int {
        unreleased.reduce(0) { $0 + ($1.end > output.written && $1.qos != 1 ? 1 : 0) }
    }

    /// "Client X sending PUBREC (m12, rc0)" → 12, read from the end (the client
    /// id, at the start, may hold anything).
    static func pubrecMessageID(_ line: String) -> Int32? {
        let bytes = Array(line.utf8)
        var i = bytes.count
        func take(_ literal: String) -> Bool {
            let l = Array(literal.utf8)
            guard i >= l.count, Array(bytes[(i - l.count)..<i]) == l else { return false }
            i -= l.count
            return true
        }
        func digits() -> Int? {
            let end = i
            while i > 0, (48...57).contains(bytes[i - 1]) { i -= 1 }
            guard i < end, end - i <= 9 else { return nil }
            return Int(String(decoding: bytes[i..<end], as: UTF8.self))
        }
        guard take(")"), digits() != nil, take(", rc"), let mid = digits(), take(" sending PUBREC (m") else {
            return nil
        }
        return Int32(mid)
    }
}

/// The few MQTT packets `sub` writes itself, around libmosquitto's queue.
/// The same bytes are valid in MQTT 3.1.1 and 5 (reason code 0 may be omitted).
enum ControlPacket {
    static func puback(_ mid: Int32) -> [UInt8] { withMessageID(0x40, mid) }
    static func pubrec(_ mid: Int32) -> [UInt8] { withMessageID(0x50, mid) }
    static func pubcomp(_ mid: Int32) -> [UInt8] { withMessageID(0x70, mid) }

    private static func withMessageID(_ type: UInt8, _ mid: Int32) -> [UInt8] {
        [type, 2, UInt8(truncatingIfNeeded: mid >> 8), UInt8(truncatingIfNeeded: mid)]
    }

    /// PUBLISH, QoS 0, retain, empty payload: clears the retained message of `topic`.
    static func emptyRetainedPublish(topic: String, version: ProtocolVersion) -> [UInt8] {
        let name = Array(topic.utf8)
        var remaining = 2 + name.count + (version == .v5 ? 1 : 0)
        var packet: [UInt8] = [0x31]
        repeat {
            var byte = UInt8(remaining % 128)
            remaining /= 128
            if remaining > 0 { byte |= 0x80 }
            packet.append(byte)
        } while remaining > 0
        packet += [UInt8(name.count >> 8), UInt8(name.count & 0xFF)] + name
        if version == .v5 { packet.append(0) }  // no properties
        return packet
    }
}
