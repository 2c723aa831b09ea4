import Mosquitto

/// `sub --json`: exactly one JSON object per message and line, ready for jq:
/// {"topic":..,"payload":..,["encoding":"base64",]"qos":..,"retain":..,"mid":..,
///  "received_at":"2026-11-22T10:04:05.123Z"[,"properties":{..}]}
/// The payload is a JSON string when it is valid UTF-8, base64 otherwise.
final class JSONRenderer: MessageRenderer {
    /// More members, appended after the others (rr: `,"rtt_ms":0.412`).
    var trailer: ((OutputBuffer) -> Void)?

    func render(_ message: ReceivedMessage, into output: OutputBuffer) {
        let receivedAt = WallClock.now()
        output.append("{\"topic\":" as StaticString)
        if UTF8Check.isValid(message.topic) {
            JSON.appendQuoted(utf8: message.topic, to: output)
        } else {
            // mosquitto refuses such topics, other brokers may not: U+FFFD keeps the line JSON.
            var repaired = message.topicString
            repaired.withUTF8 { JSON.appendQuoted(utf8: UnsafeRawBufferPointer($0), to: output) }
        }
        output.append(",\"payload\":" as StaticString)
        if UTF8Check.isValid(message.payload) {
            JSON.appendQuoted(utf8: message.payload, to: output)
        } else {
            output.append(34)
            Base64.append(message.payload, to: output)
            output.append("\",\"encoding\":\"base64\"" as StaticString)
        }
        output.append(",\"qos\":" as StaticString)
        output.append(integer: message.qos)
        output.append(message.retain ? ",\"retain\":true" as StaticString : ",\"retain\":false" as StaticString)
        output.append(",\"mid\":" as StaticString)
        output.append(integer: message.mid)
        output.append(",\"received_at\":\"" as StaticString)
        receivedAt.appendISO8601UTC(to: output)
        output.append(34)
        if message.hasProperties {
            let properties = PropertiesJSON.object(message.properties())
            if case .object(let members) = properties, !members.isEmpty {
                output.append(",\"properties\":" as StaticString)
                output.append(properties.serialized())
            }
        }
        trailer?(output)
        output.append("}\n" as StaticString)
    }
}

/// MQTT 5 properties as a JSON object keyed by the specification's names
/// ("content-type", "message-expiry-interval"...). User properties become
/// "user-properties": [{"key":..,"value":..}] (duplicates kept; `from_entries`
/// in jq turns it into an object). Binary values are strings when UTF-8, else
/// base64 under the name with "-base64" appended. Keys are unique: a property
/// that repeats keeps its first value, and several Subscription Identifiers (a
/// message matching more than one subscription) are all listed in
/// "subscription-identifiers": [..] besides "subscription-identifier" (the first).
enum PropertiesJSON {
    static func object(_ properties: MQTTProperties) -> JSON {
        var members: [(String, JSON)] = []
        var userProperties: [JSON] = []
        var seen: Set<Int> = []
        var subscriptionIdentifiers: [JSON] = []
        for property in properties.items {
            if property.identifier == MQTTProperties.subscriptionIdentifier, case .varint(let v) = property.value {
                subscriptionIdentifiers.append(.int(Int(v)))
            }
            if property.identifier != MQTTProperties.userProperty {
                guard seen.insert(property.identifier).inserted else { continue }
            }
            switch property.value {
            case .byte(let v): members.append((property.name, .int(Int(v))))
            case .uint16(let v): members.append((property.name, .int(Int(v))))
            case .uint32(let v), .varint(let v): members.append((property.name, .int(Int(v))))
            case .string(let v): members.append((property.name, .string(v)))
            case .binary(let bytes):
                if let text = String(validating: bytes, as: UTF8.self) {
                    members.append((property.name, .string(text)))
                } else {
                    members.append((property.name + "-base64", .string(Base64.encode(bytes))))
                }
            case .pair(let key, let value):
                userProperties.append(.object([("key", .string(key)), ("value", .string(value))]))
            }
        }
        if subscriptionIdentifiers.count > 1 {
            members.append(("subscription-identifiers", .array(subscriptionIdentifiers)))
        }
        if !userProperties.isEmpty { members.append(("user-properties", .array(userProperties))) }
        return .object(members)
    }
}
