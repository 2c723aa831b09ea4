import Mosquitto

/// The largest payload one PUBLISH can carry: MQTT's own limit, or less when an
/// MQTT 5 broker announced a Maximum Packet Size, of which the topic, the
/// message id and the properties take their share.
struct PayloadLimit {
    let largest: Int
    /// The broker's Maximum Packet Size, when it set the limit.
    let packetSize: Int?

    init(largest: Int, packetSize: Int?) {
        self.largest = largest
        self.packetSize = packetSize
    }

    init(maximumPacketSize: Int?, topic: String, qos: Int, properties: MQTTProperties, version: ProtocolVersion) {
        guard let maximumPacketSize else {
            self.init(largest: largestMQTTPayload, packetSize: nil)
            return
        }
        // PUBLISH: 1 byte of type, the remaining length (1 to 4 bytes), then
        // topic, message id (QoS > 0), properties (MQTT 5) and payload.
        var fixed = 2 + topic.utf8.count + (qos > 0 ? 2 : 0)
        if version == .v5 {
            let length = properties.encodedLength
            fixed += MQTTProperties.variableByteIntegerLength(length) + length
        }
        var remaining = max(0, maximumPacketSize - 5)
        while 1 + MQTTProperties.variableByteIntegerLength(remaining + 1) + remaining + 1 <= maximumPacketSize {
            remaining += 1
        }
        let largest = min(largestMQTTPayload, max(0, remaining - fixed))
        self.init(largest: largest, packetSize: largest < largestMQTTPayload ? maximumPacketSize : nil)
    }

    /// "268435455 bytes, the largest MQTT payload", or the broker's limit.
    func describe(topic: String) -> String {
        guard let packetSize else { return "\(largest) bytes, the largest MQTT payload" }
        return
            "\(largest) bytes, the largest payload the broker takes on '\(topic)' (Maximum Packet Size \(packetSize))"
    }
}
