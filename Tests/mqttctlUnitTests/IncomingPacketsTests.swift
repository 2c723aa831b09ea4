import Testing
@testable import Mosquitto

/// Reading the broker's bytes ourselves (for watched connections) and naming
/// what came back before CONNACK: pure functions, fed with bytes.
@Suite struct IncomingPacketsTests {
    func feed(_ framer: inout PacketFramer, _ bytes: [UInt8]) throws -> [PacketFramer.Packet] {
        try bytes.withUnsafeBytes { buffer throws(MalformedPacket) in try framer.feed(buffer) }
    }

    /// A DISCONNECT as ejabberd sends it: 0x8D with the reason string "Idle
    /// connection", fed one byte at a time and in one piece.
    @Test func disconnectWithReasonStringAndUserProperty() throws {
        var properties = MQTTProperties()
        properties.append(MQTTProperties.reasonString, .string("Idle connection"))
        properties.append(MQTTProperties.userProperty, .pair("node", "n1"))
        let packet = DisconnectPacket.encode(version: .v5, reasonCode: 0x8D, properties: properties)
        for chunk in [1, packet.count] {
            var framer = PacketFramer()
            var packets: [PacketFramer.Packet] = []
            var offset = 0
            while offset < packet.count {
                packets += try feed(&framer, Array(packet[offset..<min(packet.count, offset + chunk)]))
                offset += chunk
            }
            #expect(packets.count == 1)
            let decoded = try ServerDisconnect.decode(body: packets[0].body, version: .v5)
            #expect(decoded.reasonCode == 0x8D)
            #expect(decoded.reasonString == "Idle connection")
            #expect(decoded.userProperties.map { "\($0.key)=\($0.value)" } == ["node=n1"])
        }
    }

    /// Other packets are counted and skipped without keeping their bodies; a
    /// DISCONNECT with remaining length 0 is reason 0x00.
    @Test func otherPacketsAreSkipped() throws {
        var framer = PacketFramer()
        let publish: [UInt8] = [0x30, 0x05, 0x00, 0x01, 0x74, 0x68, 0x69]
        let packets = try feed(&framer, publish + [0xD0, 0x00] + [0xE0, 0x00])
        #expect(packets.map(\.type) == [3, 13, 14])
        #expect(packets[0].body.isEmpty)
        #expect(framer.skipped == [3, 13])
        #expect(try ServerDisconnect.decode(body: packets[2].body, version: .v5).reasonCode == 0)
        #expect(try ServerDisconnect.decode(body: [0x8E], version: .v5).reasonCode == 0x8E)
    }

    @Test func malformedInputIsAnErrorNotATrap() throws {
        var framer = PacketFramer()
        #expect(throws: MalformedPacket.self) { try feed(&framer, [0xE0, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) }
        // Properties longer than the packet, an unknown property, a bad string.
        #expect(throws: MalformedPacket.self) { try ServerDisconnect.decode(body: [0x8D, 0x05, 0x1F], version: .v5) }
        #expect(throws: MalformedPacket.self) {
            try ServerDisconnect.decode(body: [0x8D, 0x02, 0x7F, 0x00], version: .v5)
        }
        #expect(throws: MalformedPacket.self) {
            try ServerDisconnect.decode(body: [0x8D, 0x04, 0x1F, 0x00, 0x01, 0xFF], version: .v5)
        }
        // An MQTT 3.1.1 server may not send DISCONNECT; if one comes it means 0.
        #expect(try ServerDisconnect.decode(body: [0x8D], version: .v311).reasonCode == 0)
    }

    @Test func whatCameBeforeConnAck() {
        #expect(PreConnAck.mqtt311ReturnCode([0x20, 0x02, 0x00, 0x01]) == 1)
        #expect(PreConnAck.mqtt311ReturnCode([0x20, 0x03, 0x00, 0x00, 0x00]) == nil)
        #expect(PreConnAck.isTLSRecord([0x15, 0x03, 0x03, 0x00, 0x02]))
        #expect(!PreConnAck.isTLSRecord([0x20, 0x02]))
        func message(_ bytes: [UInt8], _ version: ProtocolVersion = .v311, reset: Bool = false) -> String {
            PreConnAck.error(firstBytes: bytes, version: version, endpoint: "h:1", reset: reset).message
        }
        #expect(message([]) == "h:1 closed the connection without CONNACK")
        #expect(message([], reset: true).contains("reset the connection without CONNACK"))
        #expect(message([0x15, 0x03, 0x01]).contains("answered with a TLS record"))
        #expect(message(Array("HTTP/1.1 400".utf8)).contains("answered in HTTP"))
        #expect(message([0x20, 0x02, 0x00, 0x01], .v5).contains("speaks only MQTT 3.1.1"))
        #expect(message([0x42, 0x43]).contains("sent 42 43"))
        #expect(
            PreConnAck.error(firstBytes: [0x20, 0x02, 0x00, 0x01], version: .v5, endpoint: "h:1").cause
                == .answeredAsMQTT311(returnCode: 1))
    }
}
