// The bytes JSONEncoder returns and the one String initialiser swift-argument-parser
// reads them with (`String(data:encoding: .utf8)`).

/// Encoded bytes.
public struct Data: Equatable, Sendable {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }
}

extension String {
    /// The text encodings `String(data:encoding:)` reads: UTF-8 only.
    public struct Encoding: Equatable, Sendable {
        let name: String
        public static let utf8 = Encoding(name: "UTF-8")
    }

    /// The text in `data`, or nil when it is not valid UTF-8.
    public init?(data: Data, encoding: Encoding) {
        guard let text = String(validating: data.bytes, as: UTF8.self) else { return nil }
        self = text
    }
}
