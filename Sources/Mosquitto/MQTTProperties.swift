#if canImport(Glibc)
import Glibc
#endif
import CMosquitto

/// An MQTT 5 property list as Swift values. Read from a libmosquitto list with
/// `init(list:)`, turned back into one with `withList`/`makeList`.
public struct MQTTProperties: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case byte(UInt8)
        case uint16(UInt16)
        case uint32(UInt32)
        case varint(UInt32)
        case string(String)
        case binary([UInt8])
        case pair(String, String)
    }

    public struct Property: Sendable, Equatable {
        public let identifier: Int
        public let value: Value
        public init(identifier: Int, value: Value) {
            self.identifier = identifier
            self.value = value
        }
        /// The specification's name with dashes, as mosquitto spells it: "content-type".
        public var name: String { MQTTProperties.name(of: identifier) }
    }

    public var items: [Property] = []

    public init() {}
    public init(_ items: [Property]) { self.items = items }

    public var isEmpty: Bool { items.isEmpty }

    public mutating func append(_ identifier: Int, _ value: Value) {
        items.append(Property(identifier: identifier, value: value))
    }

    public func first(_ identifier: Int) -> Value? {
        items.first { $0.identifier == identifier }?.value
    }

    public func all(_ identifier: Int) -> [Value] {
        items.filter { $0.identifier == identifier }.map(\.value)
    }

    public static func name(of identifier: Int) -> String {
        guard let cName = mosquitto_property_identifier_to_string(Int32(identifier)) else {
            return "property-0x\(ReasonCode.hex2(identifier))"
        }
        return String(cString: cName)
    }

    // MARK: Well-known properties

    public static let payloadFormatIndicator = Int(MQTT_PROP_PAYLOAD_FORMAT_INDICATOR.rawValue)
    public static let messageExpiryInterval = Int(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL.rawValue)
    public static let contentType = Int(MQTT_PROP_CONTENT_TYPE.rawValue)
    public static let responseTopic = Int(MQTT_PROP_RESPONSE_TOPIC.rawValue)
    public static let correlationData = Int(MQTT_PROP_CORRELATION_DATA.rawValue)
    public static let subscriptionIdentifier = Int(MQTT_PROP_SUBSCRIPTION_IDENTIFIER.rawValue)
    public static let sessionExpiryInterval = Int(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue)
    public static let assignedClientIdentifier = Int(MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER.rawValue)
    public static let serverKeepAlive = Int(MQTT_PROP_SERVER_KEEP_ALIVE.rawValue)
    public static let reasonString = Int(MQTT_PROP_REASON_STRING.rawValue)
    public static let willDelayInterval = Int(MQTT_PROP_WILL_DELAY_INTERVAL.rawValue)
    public static let receiveMaximum = Int(MQTT_PROP_RECEIVE_MAXIMUM.rawValue)
    public static let topicAlias = Int(MQTT_PROP_TOPIC_ALIAS.rawValue)
    public static let topicAliasMaximum = Int(MQTT_PROP_TOPIC_ALIAS_MAXIMUM.rawValue)
    public static let maximumPacketSize = Int(MQTT_PROP_MAXIMUM_PACKET_SIZE.rawValue)
    public static let requestProblemInformation = Int(MQTT_PROP_REQUEST_PROBLEM_INFORMATION.rawValue)
    public static let requestResponseInformation = Int(MQTT_PROP_REQUEST_RESPONSE_INFORMATION.rawValue)
    public static let userProperty = Int(MQTT_PROP_USER_PROPERTY.rawValue)
    public static let serverReference = Int(MQTT_PROP_SERVER_REFERENCE.rawValue)
    public static let maximumQoS = Int(MQTT_PROP_MAXIMUM_QOS.rawValue)

    /// Server Keep Alive from a CONNACK, if the broker imposed one.
    public var serverKeepAlive: Int? {
        if case .uint16(let v)? = first(Self.serverKeepAlive) { return Int(v) }
        return nil
    }

    public var assignedClientIdentifier: String? {
        if case .string(let v)? = first(Self.assignedClientIdentifier) { return v }
        return nil
    }

    public var reasonString: String? {
        if case .string(let v)? = first(Self.reasonString) { return v }
        return nil
    }

    /// Maximum QoS from a CONNACK (absent: 2).
    public var maximumQoS: Int? {
        if case .byte(let v)? = first(Self.maximumQoS) { return Int(v) }
        return nil
    }

    public var receiveMaximum: Int? {
        if case .uint16(let v)? = first(Self.receiveMaximum) { return Int(v) }
        return nil
    }

    /// Maximum Packet Size from a CONNACK (nil: no limit but MQTT's own).
    public var maximumPacketSize: Int? {
        if case .uint32(let v)? = first(Self.maximumPacketSize) { return Int(v) }
        return nil
    }

    /// Topic Alias Maximum from a CONNACK (nil: absent, which means 0).
    public var topicAliasMaximum: Int? {
        if case .uint16(let v)? = first(Self.topicAliasMaximum) { return Int(v) }
        return nil
    }

    /// Bytes these properties take in a packet, without the property length
    /// itself (every identifier fits in one byte).
    public var encodedLength: Int {
        items.reduce(0) { total, item in
            let value: Int
            switch item.value {
            case .byte: value = 1
            case .uint16: value = 2
            case .uint32: value = 4
            case .varint(let v): value = Self.variableByteIntegerLength(Int(v))
            case .string(let s): value = 2 + s.utf8.count
            case .binary(let b): value = 2 + b.count
            case .pair(let k, let v): value = 4 + k.utf8.count + v.utf8.count
            }
            return total + 1 + value
        }
    }

    /// Bytes MQTT's variable byte integer takes for `value`.
    public static func variableByteIntegerLength(_ value: Int) -> Int {
        value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4
    }
}

// MARK: - Conversion from and to libmosquitto lists

extension MQTTProperties {
    /// Copies a libmosquitto property list (which the library frees after its callback returns).
    init(list: OpaquePointer?) {
        var current = list
        while let property = current {
            let identifier = mosquitto_property_identifier(property)
            if let value = Self.readValue(property, identifier: identifier) {
                items.append(Property(identifier: Int(identifier), value: value))
            }
            current = mosquitto_property_next(property)
        }
    }

    private static func readValue(_ property: OpaquePointer, identifier: Int32) -> Value? {
        // The readers search from the given element, so reading at `property` reads `property`.
        switch propertyType(Int(identifier)) {
        case Int32(MQTT_PROP_TYPE_BYTE.rawValue):
            var v: UInt8 = 0
            return mosquitto_property_read_byte(property, identifier, &v, false) != nil ? .byte(v) : nil
        case Int32(MQTT_PROP_TYPE_INT16.rawValue):
            var v: UInt16 = 0
            return mosquitto_property_read_int16(property, identifier, &v, false) != nil ? .uint16(v) : nil
        case Int32(MQTT_PROP_TYPE_INT32.rawValue):
            var v: UInt32 = 0
            return mosquitto_property_read_int32(property, identifier, &v, false) != nil ? .uint32(v) : nil
        case Int32(MQTT_PROP_TYPE_VARINT.rawValue):
            var v: UInt32 = 0
            return mosquitto_property_read_varint(property, identifier, &v, false) != nil ? .varint(v) : nil
        case Int32(MQTT_PROP_TYPE_BINARY.rawValue):
            var data: UnsafeMutableRawPointer?
            var length: UInt16 = 0
            guard mosquitto_property_read_binary(property, identifier, &data, &length, false) != nil else { return nil }
            defer { free(data) }
            guard let data, length > 0 else { return .binary([]) }
            return .binary(Array(UnsafeRawBufferPointer(start: data, count: Int(length))))
        case Int32(MQTT_PROP_TYPE_STRING.rawValue):
            var s: UnsafeMutablePointer<CChar>?
            guard mosquitto_property_read_string(property, identifier, &s, false) != nil, let s else { return nil }
            defer { free(s) }
            return .string(String(cString: s))
        case Int32(MQTT_PROP_TYPE_STRING_PAIR.rawValue):
            var k: UnsafeMutablePointer<CChar>?
            var v: UnsafeMutablePointer<CChar>?
            guard mosquitto_property_read_string_pair(property, identifier, &k, &v, false) != nil else { return nil }
            defer { free(k); free(v) }
            return .pair(k.map { String(cString: $0) } ?? "", v.map { String(cString: $0) } ?? "")
        default:
            return nil
        }
    }

    /// How a property's value is encoded.
    enum ValueType { case byte, uint16, uint32, varint, binary, string, pair }

    /// The encoding of a property identifier's value; nil for an identifier MQTT 5 does not define.
    static func valueType(_ identifier: Int) -> ValueType? {
        switch propertyType(identifier) {
        case Int32(MQTT_PROP_TYPE_BYTE.rawValue): return .byte
        case Int32(MQTT_PROP_TYPE_INT16.rawValue): return .uint16
        case Int32(MQTT_PROP_TYPE_INT32.rawValue): return .uint32
        case Int32(MQTT_PROP_TYPE_VARINT.rawValue): return .varint
        case Int32(MQTT_PROP_TYPE_BINARY.rawValue): return .binary
        case Int32(MQTT_PROP_TYPE_STRING.rawValue): return .string
        case Int32(MQTT_PROP_TYPE_STRING_PAIR.rawValue): return .pair
        default: return nil
        }
    }

    /// The libmosquitto type (`MQTT_PROP_TYPE_*`) of a property identifier, or -1.
    static func propertyType(_ identifier: Int) -> Int32 {
        guard let cName = mosquitto_property_identifier_to_string(Int32(identifier)) else { return -1 }
        var id: Int32 = 0
        var type: Int32 = 0
        guard mosquitto_string_to_property_info(cName, &id, &type) == MOSQ_ERR_SUCCESS.rawValue else { return -1 }
        return type
    }

    /// Builds a libmosquitto list. The caller owns it: free it with
    /// `mosquitto_property_free_all`, or hand it to a call that takes ownership.
    func makeList() throws(MQTTError) -> OpaquePointer? {
        var list: OpaquePointer?
        for item in items {
            let id = Int32(item.identifier)
            let rc: Int32
            switch item.value {
            case .byte(let v): rc = mosquitto_property_add_byte(&list, id, v)
            case .uint16(let v): rc = mosquitto_property_add_int16(&list, id, v)
            case .uint32(let v): rc = mosquitto_property_add_int32(&list, id, v)
            case .varint(let v): rc = mosquitto_property_add_varint(&list, id, v)
            case .string(let v): rc = mosquitto_property_add_string(&list, id, v)
            case .binary(let v):
                rc = v.withUnsafeBytes {
                    mosquitto_property_add_binary(&list, id, $0.baseAddress, UInt16(clamping: v.count))
                }
            case .pair(let k, let v): rc = mosquitto_property_add_string_pair(&list, id, k, v)
            }
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                mosquitto_property_free_all(&list)
                throw MQTTError.library(rc, context: "MQTT 5 property \(item.name)")
            }
        }
        return list
    }

    /// Runs `body` with a temporary libmosquitto list (nil when empty), freed afterwards.
    func withList<R>(_ body: (OpaquePointer?) throws(MQTTError) -> R) throws(MQTTError) -> R {
        if items.isEmpty { return try body(nil) }
        var list = try makeList()
        defer { mosquitto_property_free_all(&list) }
        return try body(list)
    }
}

// MARK: - Parsing mosquitto's `-D command name value` syntax

extension MQTTProperties {
    /// The packet a `-D` property belongs to.
    public enum Command: String, Sendable, CaseIterable {
        case connect, publish, subscribe, unsubscribe, disconnect, will

        var mosquittoCommand: Int32 {
            var cmd: Int32 = 0
            _ = mosquitto_string_to_command(rawValue, &cmd)
            return cmd
        }
    }

    /// Parses one property given as text, as `mosquitto_pub -D` does: `command name
    /// value`, or `command user-property key value`. Throws an `.invalidArgument`
    /// error whose cause is `.invalidProperty` naming what is wrong.
    public static func parse(command: String, name: String, values: [String]) throws(MQTTError) -> (Command, Property) {
        guard let cmd = Command(rawValue: command) else {
            throw invalid(.unknownCommand(command))
        }
        var identifier: Int32 = 0
        var type: Int32 = 0
        guard mosquitto_string_to_property_info(name, &identifier, &type) == MOSQ_ERR_SUCCESS.rawValue else {
            throw invalid(.unknownName(name))
        }
        let check = mosquitto_property_check_command(cmd.mosquittoCommand, identifier)
        if check != MOSQ_ERR_SUCCESS.rawValue || (cmd == .publish && Int(identifier) == subscriptionIdentifier) {
            throw invalid(.notAllowed(command: command, name: name))
        }
        let expected = type == Int32(MQTT_PROP_TYPE_STRING_PAIR.rawValue) ? 2 : 1
        guard values.count == expected else {
            throw invalid(.valueCount(command: command, name: name, expected: expected))
        }
        let raw = values[0]
        func number(_ max: UInt32) throws(MQTTError) -> UInt32 {
            guard let v = UInt32(raw), v <= max else {
                throw invalid(.notANumber(command: command, name: name, value: raw, maximum: max))
            }
            return v
        }
        let value: Value
        switch type {
        case Int32(MQTT_PROP_TYPE_BYTE.rawValue): value = .byte(UInt8(try number(255)))
        case Int32(MQTT_PROP_TYPE_INT16.rawValue): value = .uint16(UInt16(try number(65535)))
        case Int32(MQTT_PROP_TYPE_INT32.rawValue): value = .uint32(try number(UInt32.max))
        case Int32(MQTT_PROP_TYPE_VARINT.rawValue): value = .varint(try number(268_435_455))
        case Int32(MQTT_PROP_TYPE_BINARY.rawValue):
            guard raw.utf8.count <= 65535 else {
                throw invalid(.tooLong(command: command, name: name))
            }
            value = .binary(Array(raw.utf8))
        case Int32(MQTT_PROP_TYPE_STRING.rawValue):
            guard raw.utf8.count <= 65535 else {
                throw invalid(.tooLong(command: command, name: name))
            }
            value = .string(raw)
        default: value = .pair(raw, values[1])
        }
        if let problem = problem(identifier: Int(identifier), value: value) {
            throw invalid(.forbiddenValue(command: command, name: name, values: values, problem: problem))
        }
        return (cmd, Property(identifier: Int(identifier), value: value))
    }

    private static func invalid(_ problem: PropertyProblem) -> MQTTError {
        MQTTError(.invalidArgument, problem.summary, cause: .invalidProperty(problem))
    }

    /// What MQTT 5 forbids in a value the type allows (a 0 that is a protocol
    /// error, a wildcard in a response topic, a control character in a string);
    /// nil when the value is fine. A broker would otherwise close the
    /// connection, and the error would seem to be the broker's.
    static func problem(identifier: Int, value: Value) -> String? {
        switch (identifier, value) {
        case (payloadFormatIndicator, .byte(let b)) where b > 1:
            return "use 0 (bytes) or 1 (UTF-8)"
        case (requestProblemInformation, .byte(let b)) where b > 1,
            (requestResponseInformation, .byte(let b)) where b > 1:
            return "use 0 or 1"
        case (topicAlias, .uint16(0)):
            return "use 1 to 65535 (0 is not a topic alias)"
        case (receiveMaximum, .uint16(0)):
            return "use 1 to 65535"
        case (maximumPacketSize, .uint32(0)):
            return "use 1 to 4294967295"
        case (subscriptionIdentifier, .varint(0)):
            return "use 1 to 268435455"
        case (responseTopic, .string(let topic)):
            return Topic.problemWithName(topic).map { "a response topic is a topic name: \($0)" }
        case (_, .string(let text)):
            return utf8Problem(text)
        case (_, .pair(let key, let text)):
            return utf8Problem(key) ?? utf8Problem(text)
        default:
            return nil
        }
    }

    private static func utf8Problem(_ text: String) -> String? {
        let ok = text.withCString { mosquitto_validate_utf8($0, Int32(text.utf8.count)) } == MOSQ_ERR_SUCCESS.rawValue
        return ok ? nil : "not valid MQTT UTF-8 (control characters are not allowed)"
    }

    /// Whether `name` is a string-pair property (so `-D` takes two values after it).
    public static func takesTwoValues(_ name: String) -> Bool {
        var identifier: Int32 = 0
        var type: Int32 = 0
        guard mosquitto_string_to_property_info(name, &identifier, &type) == MOSQ_ERR_SUCCESS.rawValue else {
            return false
        }
        return type == Int32(MQTT_PROP_TYPE_STRING_PAIR.rawValue)
    }
}

/// What is wrong with a property given as text (`MQTTProperties.parse`):
/// `command` and `name` as given.
public enum PropertyProblem: Sendable, Equatable {
    case unknownCommand(String)
    case unknownName(String)
    /// The property may not appear in that packet.
    case notAllowed(command: String, name: String)
    /// The property takes `expected` values (2: a key and a value).
    case valueCount(command: String, name: String, expected: Int)
    case notANumber(command: String, name: String, value: String, maximum: UInt32)
    /// A string or binary value over 65535 bytes.
    case tooLong(command: String, name: String)
    /// A value MQTT 5 forbids (`problem` says why).
    case forbiddenValue(command: String, name: String, values: [String], problem: String)

    /// A neutral sentence.
    public var summary: String {
        switch self {
        case .unknownCommand(let command):
            let known = MQTTProperties.Command.allCases.map(\.rawValue).joined(separator: ", ")
            return "invalid property packet '\(command)': use one of \(known)"
        case .unknownName(let name):
            return "invalid property '\(name)': not an MQTT 5 property name"
        case .notAllowed(let command, let name):
            return "the property '\(name)' is not allowed in a \(command.uppercased()) packet"
        case .valueCount(_, let name, let expected):
            return "the property \(name) takes \(expected == 2 ? "a key and a value" : "one value")"
        case .notANumber(_, let name, let value, let maximum):
            return "property \(name): '\(value)' is not a number between 0 and \(maximum)"
        case .tooLong(_, let name):
            return "property \(name): value longer than 65535 bytes"
        case .forbiddenValue(_, let name, let values, let problem):
            return "property \(name) \(values.joined(separator: " ")): \(problem)"
        }
    }
}
