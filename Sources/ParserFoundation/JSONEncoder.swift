// The JSON encoder swift-argument-parser uses for `--experimental-dump-help` (the tool
// description that `swift package generate-manual` and editors read), with the two
// formatting options it sets. Its output is byte for byte FoundationEssentials': 2-space
// indentation, `"key" : value`, keys in UTF-8 byte order, `/` written as `\/`, control
// characters as \b \f \n \r \t or \u00xx, an empty array or object as `[`, a blank line
// and `]`; ParserFoundationTests compares the two encoders on the same values.

/// Encodes `Encodable` values as JSON text.
public final class JSONEncoder {
    /// How the text is laid out.
    public struct OutputFormatting: OptionSet, Sendable {
        public let rawValue: UInt
        public init(rawValue: UInt) { self.rawValue = rawValue }

        /// One value per line, nested values indented by two spaces.
        public static let prettyPrinted = OutputFormatting(rawValue: 1 << 0)
        /// The keys of each object in the byte order of their UTF-8.
        public static let sortedKeys = OutputFormatting(rawValue: 1 << 1)
        /// `/` written as it is rather than as `\/`.
        public static let withoutEscapingSlashes = OutputFormatting(rawValue: 1 << 3)
    }

    public var outputFormatting: OutputFormatting = []

    public init() {}

    /// The JSON text of `value`, in UTF-8.
    public func encode<T: Encodable>(_ value: T) throws -> Data {
        let root = JSONNode()
        try value.encode(to: NodeEncoder(node: root, codingPath: []))
        var writer = JSONWriter(options: outputFormatting)
        writer.write(root, depth: 0)
        return Data(Array(writer.text.utf8))
    }
}

/// A value while it is encoded: a class, because the containers an encoder hands out
/// keep writing into it after the encoder itself is gone.
final class JSONNode {
    enum Content {
        /// Nothing encoded (written as an empty object, as Foundation does).
        case unset
        /// A number, `true`, `false` or `null`, as written.
        case literal(String)
        case string(String)
        case array([JSONNode])
        /// Members in the order encoded; a key encoded again replaces its value.
        case object([(key: String, value: JSONNode)])
    }

    var content: Content = .unset

    func makeObject() {
        if case .object = content { return }
        content = .object([])
    }

    func makeArray() {
        if case .array = content { return }
        content = .array([])
    }

    /// The node for `key`, added to this object.
    func member(_ key: String) -> JSONNode {
        let node = JSONNode()
        guard case .object(var members) = content else {
            content = .object([(key, node)])
            return node
        }
        content = .unset  // keeps `members` uniquely referenced while it changes
        if let index = members.firstIndex(where: { $0.key == key }) {
            members[index].value = node
        } else {
            members.append((key, node))
        }
        content = .object(members)
        return node
    }

    /// A new node at the end of this array.
    func element() -> JSONNode {
        let node = JSONNode()
        guard case .array(var elements) = content else {
            content = .array([node])
            return node
        }
        content = .unset
        elements.append(node)
        content = .array(elements)
        return node
    }

    var count: Int {
        if case .array(let elements) = content { return elements.count }
        return 0
    }
}

/// Foundation writes a whole Double without a fraction ("1", "-0"), otherwise as Swift does
/// ("0.1", "1e-07", "1e+20").
func jsonNumber(_ value: Double) throws -> String {
    guard value.isFinite else {
        throw EncodingError.invalidValue(
            value, EncodingError.Context(codingPath: [], debugDescription: "\(value) is not a JSON number"))
    }
    let text = value.description
    return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
}

struct NodeEncoder: Encoder {
    let node: JSONNode
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.makeObject()
        return KeyedEncodingContainer(KeyedNodeContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeArray()
        return UnkeyedNodeContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleNodeContainer(node: node, codingPath: codingPath)
    }
}

/// Every value, whatever its type, is encoded through its own `encode(to:)`, which for the
/// standard library's types asks for a single-value container: one place writes scalars.
struct SingleNodeContainer: SingleValueEncodingContainer {
    let node: JSONNode
    var codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.content = .literal("null") }
    mutating func encode(_ value: Bool) throws { node.content = .literal(value ? "true" : "false") }
    mutating func encode(_ value: String) throws { node.content = .string(value) }
    mutating func encode(_ value: Double) throws { node.content = .literal(try jsonNumber(value)) }
    mutating func encode(_ value: Float) throws { node.content = .literal(try jsonNumber(Double(value))) }
    mutating func encode(_ value: Int) throws { node.content = .literal(String(value)) }
    mutating func encode(_ value: Int8) throws { node.content = .literal(String(value)) }
    mutating func encode(_ value: Int16) throws { node.content = .literal(String(value)) }
    mutating func encode(_ value: Int32) throws { node.content = .literal(String(value)) }
    mutating func encode(_ value: Int64) throws { node.content = .literal(String(value)) }
    mutating func encode(_ value: UInt) throws { node.content = .literal(String(value)) }
    mutating func encode(_ value: UInt8) throws { node.content = .literal(String(value)) }
    mutating func encode(_ value: UInt16) throws { node.content = .literal(String(value)) }
    mutating func encode(_ value: UInt32) throws { node.content = .literal(String(value)) }
    mutating func encode(_ value: UInt64) throws { node.content = .literal(String(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try value.encode(to: NodeEncoder(node: node, codingPath: codingPath))
    }
}

struct KeyedNodeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: JSONNode
    var codingPath: [any CodingKey]

    private func encoder(for key: Key) -> NodeEncoder {
        NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key])
    }

    mutating func encodeNil(forKey key: Key) throws {
        var container = encoder(for: key).singleValueContainer()
        try container.encodeNil()
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode(_ value: String, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try value.encode(to: encoder(for: key)) }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        encoder(for: key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        encoder(for: key).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        NodeEncoder(node: node.member("super"), codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        encoder(for: key)
    }
}

struct UnkeyedNodeContainer: UnkeyedEncodingContainer {
    let node: JSONNode
    var codingPath: [any CodingKey]
    var count: Int { node.count }

    private func encoder() -> NodeEncoder {
        NodeEncoder(node: node.element(), codingPath: codingPath)
    }

    mutating func encodeNil() throws {
        var container = encoder().singleValueContainer()
        try container.encodeNil()
    }
    mutating func encode<T: Encodable>(_ value: T) throws { try value.encode(to: encoder()) }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        encoder().container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        encoder().unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        encoder()
    }
}

/// Writes a finished tree of nodes as text.
struct JSONWriter {
    let pretty: Bool
    let sortedKeys: Bool
    let escapeSlashes: Bool
    var text = ""

    init(options: JSONEncoder.OutputFormatting) {
        pretty = options.contains(.prettyPrinted)
        sortedKeys = options.contains(.sortedKeys)
        escapeSlashes = !options.contains(.withoutEscapingSlashes)
    }

    mutating func write(_ node: JSONNode, depth: Int) {
        switch node.content {
        case .literal(let literal):
            text += literal
        case .string(let string):
            writeString(string)
        case .array(let elements):
            writeContainer(open: "[", close: "]", count: elements.count, depth: depth) { writer, index in
                writer.write(elements[index], depth: depth + 1)
            }
        case .object(var members):
            if sortedKeys {
                members.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            }
            writeContainer(open: "{", close: "}", count: members.count, depth: depth) { writer, index in
                writer.writeString(members[index].key)
                writer.text += writer.pretty ? " : " : ":"
                writer.write(members[index].value, depth: depth + 1)
            }
        case .unset:
            writeContainer(open: "{", close: "}", count: 0, depth: depth) { _, _ in }
        }
    }

    private mutating func writeContainer(
        open: String, close: String, count: Int, depth: Int, element: (inout JSONWriter, Int) -> Void
    ) {
        text += open
        guard pretty else {
            for index in 0..<count {
                if index > 0 { text += "," }
                element(&self, index)
            }
            text += close
            return
        }
        text += "\n"
        for index in 0..<count {
            if index > 0 { text += ",\n" }
            indent(depth + 1)
            element(&self, index)
        }
        text += "\n"
        indent(depth)
        text += close
    }

    private mutating func indent(_ depth: Int) {
        text += String(repeating: "  ", count: depth)
    }

    private mutating func writeString(_ string: String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "/" where escapeSlashes: text += "\\/"
            case "\u{8}": text += "\\b"
            case "\u{c}": text += "\\f"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{0}"..."\u{1f}":
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
