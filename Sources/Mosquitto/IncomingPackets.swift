/// Reading what a broker sends without libmosquitto, for connections that only
/// watch how the broker ends them (`MQTTClient.watchForEnd`): libmosquitto
/// throws away the reason string and user properties of a server DISCONNECT
/// before its callback runs, and reports a FIN and a reset alike.

/// A DISCONNECT the broker sent, with everything in it that we could read.
public struct ServerDisconnect: Sendable, Equatable {
    /// The MQTT 5 reason code (0 for an MQTT 3.1.1 DISCONNECT, which a server may not send).
    public var reasonCode: Int
    /// The MQTT 5 properties: empty when libmosquitto read the packet (it drops them).
    public var properties: MQTTProperties

    public init(reasonCode: Int, properties: MQTTProperties = MQTTProperties()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }

    public var reasonString: String? { properties.reasonString }

    public var userProperties: [(key: String, value: String)] {
        properties.all(MQTTProperties.userProperty).compactMap {
            if case .pair(let k, let v) = $0 { return (k, v) }
            return nil
        }
    }

    public var serverReference: String? {
        if case .string(let v)? = properties.first(MQTTProperties.serverReference) { return v }
        return nil
    }

    /// Decodes the body of a DISCONNECT (after the fixed header).
    static func decode(body: [UInt8], version: ProtocolVersion) throws(MalformedPacket) -> ServerDisconnect {
        guard version == .v5, let code = body.first else { return ServerDisconnect(reasonCode: 0) }
        guard body.count > 1 else { return ServerDisconnect(reasonCode: Int(code)) }
        var reader = ByteReader(body[1...])
        let properties = try reader.properties()
        return ServerDisconnect(reasonCode: Int(code), properties: properties)
    }
}

/// How the TCP connection ended when no DISCONNECT came first.
public enum TransportEnd: String, Sendable, Equatable {
    /// An orderly close (FIN; over TLS also a close_notify).
    case fin
    /// A reset (RST): the peer discarded the connection.
    case reset
}

/// The bytes could not be read as MQTT.
struct MalformedPacket: Error {
    let reason: String
}

/// Splits a byte stream into packets. Only DISCONNECT bodies are kept (bounded);
/// the bodies of other packets are skipped as they arrive, so memory stays flat
/// whatever the broker sends.
struct PacketFramer {
    /// The largest DISCONNECT we keep (reason string and user properties included).
    static let maximumKeptBody = 1 << 20

    struct Packet {
        let type: UInt8
        let flags: UInt8
        /// The body for DISCONNECT; empty for other packets (skipped).
        let body: [UInt8]
    }

    private var header: [UInt8] = []
    private var remaining = 0
    private var keep = false
    private var body: [UInt8] = []
    private var inBody = false
    /// Packets other than DISCONNECT seen, by type.
    private(set) var skipped: [UInt8] = []

    /// Feeds bytes; returns the packets they complete.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(MalformedPacket) -> [Packet] {
        var packets: [Packet] = []
        var index = 0
        while index < bytes.count {
            if !inBody {
                header.append(bytes[index])
                index += 1
                guard let (length, done) = try remainingLength() else { continue }
                guard done else { continue }
                remaining = length
                keep = header[0] >> 4 == 14
                if keep && length > Self.maximumKeptBody {
                    throw MalformedPacket(reason: "a DISCONNECT of \(length) bytes")
                }
                inBody = true
                body.removeAll(keepingCapacity: true)
            }
            let take = min(remaining, bytes.count - index)
            if keep, take > 0 {
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
            }
            index += take
            remaining -= take
            if remaining == 0 {
                let type = header[0] >> 4
                packets.append(Packet(type: type, flags: header[0] & 0x0F, body: keep ? body : []))
                if !keep { skipped.append(type) }
                header.removeAll(keepingCapacity: true)
                inBody = false
            }
        }
        return packets
    }

    /// The remaining length once its bytes are complete: (value, true); nil while
    /// only the first byte (the packet type) is there.
    private func remainingLength() throws(MalformedPacket) -> (Int, Bool)? {
        guard header.count >= 2 else { return nil }
        var value = 0
        var multiplier = 1
        for (i, byte) in header.dropFirst().enumerated() {
            value += Int(byte & 0x7F) * multiplier
            if byte & 0x80 == 0 { return (value, true) }
            multiplier *= 128
            if i == 3 { throw MalformedPacket(reason: "a remaining length longer than 4 bytes") }
        }
        return (0, false)
    }
}

/// Reads MQTT fields from bytes; every read is bounds-checked.
struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private var offset: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        offset = bytes.startIndex
    }

    var atEnd: Bool { offset >= bytes.endIndex }

    mutating func byte() throws(MalformedPacket) -> UInt8 {
        guard offset < bytes.endIndex else { throw MalformedPacket(reason: "a packet that ends early") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() throws(MalformedPacket) -> UInt16 {
        UInt16(try byte()) << 8 | UInt16(try byte())
    }

    mutating func uint32() throws(MalformedPacket) -> UInt32 {
        UInt32(try uint16()) << 16 | UInt32(try uint16())
    }

    mutating func varint() throws(MalformedPacket) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 {
            let b = try byte()
            value |= UInt32(b & 0x7F) << (7 * i)
            if b & 0x80 == 0 { return value }
        }
        throw MalformedPacket(reason: "a variable byte integer longer than 4 bytes")
    }

    mutating func binary() throws(MalformedPacket) -> [UInt8] {
        let length = Int(try uint16())
        guard bytes.endIndex - offset >= length else { throw MalformedPacket(reason: "a field longer than its packet") }
        defer { offset += length }
        return Array(bytes[offset..<(offset + length)])
    }

    mutating func string() throws(MalformedPacket) -> String {
        let raw = try binary()
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw MalformedPacket(reason: "a string that is not UTF-8")
        }
        return text
    }

    /// A property list: its length, then identifier-value pairs (types from libmosquitto's table).
    mutating func properties() throws(MalformedPacket) -> MQTTProperties {
        let length = Int(try varint())
        guard bytes.endIndex - offset >= length else {
            throw MalformedPacket(reason: "properties longer than their packet")
        }
        var inner = ByteReader(bytes[offset..<(offset + length)])
        offset += length
        var result = MQTTProperties()
        while !inner.atEnd {
            let identifier = Int(try inner.varint())
            let value: MQTTProperties.Value
            switch MQTTProperties.valueType(identifier) {
            case .byte?: value = .byte(try inner.byte())
            case .uint16?: value = .uint16(try inner.uint16())
            case .uint32?: value = .uint32(try inner.uint32())
            case .varint?: value = .varint(try inner.varint())
            case .binary?: value = .binary(try inner.binary())
            case .string?: value = .string(try inner.string())
            case .pair?: value = .pair(try inner.string(), try inner.string())
            case nil: throw MalformedPacket(reason: "an unknown property 0x\(ReasonCode.hex2(identifier))")
            }
            result.append(identifier, value)
        }
        return result
    }
}
