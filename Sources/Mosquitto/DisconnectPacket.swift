/// DISCONNECT as bytes. mqttctl writes its own DISCONNECT (see
/// `MQTTClient.disconnect`) because libmosquitto closes the socket the moment it
/// has written one, with whatever the broker sent meanwhile still unread, and a
/// close with unread data is a TCP reset that can make the broker throw away our
/// last acknowledgements and the DISCONNECT itself.
enum DisconnectPacket {
    static func encode(version: ProtocolVersion, reasonCode: Int, properties: MQTTProperties) -> [UInt8] {
        guard version == .v5, reasonCode != 0 || !properties.isEmpty else {
            return [0xE0, 0x00]  // also MQTT 5 shorthand for reason 0, no properties
        }
        var propertyBytes: [UInt8] = []
        for property in properties.items {
            appendVarint(UInt32(property.identifier), to: &propertyBytes)
            switch property.value {
            case .byte(let v): propertyBytes.append(v)
            case .uint16(let v): propertyBytes += [UInt8(v >> 8), UInt8(v & 0xFF)]
            case .uint32(let v):
                propertyBytes += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
            case .varint(let v): appendVarint(v, to: &propertyBytes)
            case .string(let s): appendString(Array(s.utf8), to: &propertyBytes)
            case .binary(let b): appendString(b, to: &propertyBytes)
            case .pair(let k, let v):
                appendString(Array(k.utf8), to: &propertyBytes)
                appendString(Array(v.utf8), to: &propertyBytes)
            }
        }
        var body: [UInt8] = [UInt8(truncatingIfNeeded: reasonCode)]
        appendVarint(UInt32(propertyBytes.count), to: &body)
        body += propertyBytes
        var packet: [UInt8] = [0xE0]
        appendVarint(UInt32(body.count), to: &packet)
        return packet + body
    }

    private static func appendVarint(_ value: UInt32, to bytes: inout [UInt8]) {
        var v = value
        repeat {
            var byte = UInt8(v & 0x7F)
            v >>= 7
            if v > 0 { byte |= 0x80 }
            bytes.append(byte)
        } while v > 0
    }

    private static func appendString(_ utf8: [UInt8], to bytes: inout [UInt8]) {
        let count = min(utf8.count, 65535)
        bytes += [UInt8(count >> 8), UInt8(count & 0xFF)]
        bytes += utf8.prefix(count)
    }
}
