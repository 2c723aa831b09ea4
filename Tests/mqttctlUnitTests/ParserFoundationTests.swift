import ArgumentParser
import FoundationEssentials
import ParserFoundation
import Testing

@testable import mqttctl

/// The release build's stand-in for FoundationEssentials (Sources/ParserFoundation):
/// its JSON encoder must write what FoundationEssentials' writes, byte for byte, since
/// `--experimental-dump-help` is read by other tools.
@Suite struct ParserFoundationTests {
    struct Scalars: Codable {
        var int = Int.min
        var int8 = Int8.min
        var int16 = Int16.max
        var int32 = Int32.min
        var int64 = Int64.max
        var uint = UInt.max
        var uint8 = UInt8.max
        var uint16 = UInt16.max
        var uint32 = UInt32.max
        var uint64 = UInt64.max
        var yes = true
        var no = false
        var whole = 1.0
        var negativeZero = -0.0
        var fraction = 0.1
        var large = 1e20
        var small = 1e-7
        var float: Float = 1.5
        var big = Double(Int64.max)
    }

    enum Kind: Codable {
        case list(values: [String])
        case file(extensions: [String])
        case directory
        case shellCommand(command: String)
    }

    enum Name: String, Codable { case long, short, longWithSingleDash }

    struct Nested: Codable {
        var absent: String? = nil
        var present: String? = "here"
        var names: [Name] = [.long, .short]
        var kinds: [Kind] = [.list(values: ["a", "b"]), .file(extensions: []), .directory, .shellCommand(command: "ls /")]
        var map: [String: String] = ["b": "2", "A": "1", "a10": "x", "a9": "y", "é": "e", "_": "u", "Z": "z"]
        var numbers: [Int: String] = [3: "c", 10: "j"]
        var empty: [Int] = []
        var emptyMap: [String: Int] = [:]
        var grid: [[Int]] = [[], [1, 2], [3]]
        var text = "quote \" backslash \\ slash / newline \n tab \t cr \r bs \u{8} ff \u{c} nul \u{0} esc \u{1b} us \u{1f} del \u{7f} ls \u{2028} ä é e\u{301} 😀"
    }

    struct Document: Codable {
        var zeta = 1
        var Alpha = "upper first"
        var scalars = Scalars()
        var nested = [Nested(), Nested(absent: "set", present: nil, names: [], kinds: [], map: [:], numbers: [:])]
        var explicitNull: Int? = nil

        enum CodingKeys: String, CodingKey { case zeta, Alpha, scalars, nested, explicitNull }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(zeta, forKey: .zeta)
            try container.encode(Alpha, forKey: .Alpha)
            try container.encode(scalars, forKey: .scalars)
            try container.encode(nested, forKey: .nested)
            try container.encodeNil(forKey: .explicitNull)
        }
    }

    func both<T: Encodable>(_ value: T, _ formats: [String]) throws -> (ours: String, foundation: String) {
        let ours = ParserFoundation.JSONEncoder()
        let foundation = FoundationEssentials.JSONEncoder()
        for format in formats {
            switch format {
            case "pretty":
                ours.outputFormatting.insert(.prettyPrinted)
                foundation.outputFormatting.insert(.prettyPrinted)
            case "sorted":
                ours.outputFormatting.insert(.sortedKeys)
                foundation.outputFormatting.insert(.sortedKeys)
            default:
                ours.outputFormatting.insert(.withoutEscapingSlashes)
                foundation.outputFormatting.insert(.withoutEscapingSlashes)
            }
        }
        let ourText = try #require(String(data: ours.encode(value), encoding: .utf8))
        let foundationText = String(decoding: try foundation.encode(value), as: UTF8.self)
        return (ourText, foundationText)
    }

    /// swift-argument-parser's formats (pretty, sorted keys) and the others.
    @Test(arguments: [["pretty", "sorted"], ["pretty"], ["sorted"], [], ["pretty", "sorted", "slashes"]])
    func writesWhatFoundationWrites(formats: [String]) throws {
        let (ours, foundation) = try both(Document(), formats)
        if formats.contains("sorted") {
            #expect(ours == foundation)
        } else {
            // Unsorted, FoundationEssentials writes an object's keys in its Dictionary's
            // order, which changes from run to run; ours in the order encoded. The same
            // document either way.
            let decoder = FoundationEssentials.JSONDecoder()
            let ourTree = try decoder.decode(JSONTree.self, from: FoundationEssentials.Data(ours.utf8))
            #expect(ourTree == (try decoder.decode(JSONTree.self, from: FoundationEssentials.Data(foundation.utf8))))
            let zeta = try #require(ours.firstRange(of: #""zeta""#))
            let alpha = try #require(ours.firstRange(of: #""Alpha""#))
            #expect(zeta.lowerBound < alpha.lowerBound)
        }
        #expect(ours.contains(#"\/"#) != formats.contains("slashes"))
    }

    @Test func writesTopLevelValuesAsFoundationDoes() throws {
        for format in [["pretty", "sorted"], [String]()] {
            #expect(try both("a/b", format).ours == both("a/b", format).foundation)
            #expect(try both(42, format).ours == both(42, format).foundation)
            #expect(try both([Int?.none, 1], format).ours == both([Int?.none, 1], format).foundation)
            #expect(try both([[String: Int]](), format).ours == both([[String: Int]](), format).foundation)
        }
    }

    @Test func refusesWhatIsNotANumber() {
        #expect(throws: EncodingError.self) { try ParserFoundation.JSONEncoder().encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try ParserFoundation.JSONEncoder().encode(Double.infinity) }
    }

    /// The description of every command that `--experimental-dump-help` prints (read by
    /// FoundationEssentials in this build), read back and written again by ours.
    @Test func rewritesMQTTCtlsToolDescriptionUnchanged() throws {
        let dump: String
        do {
            _ = try MQTTCtl.parseAsRoot(["--experimental-dump-help"])
            Issue.record("--experimental-dump-help parsed as a command")
            return
        } catch {
            dump = MQTTCtl.fullMessage(for: error)
        }
        #expect(dump.count > 100_000)
        let tree = try FoundationEssentials.JSONDecoder().decode(JSONTree.self, from: FoundationEssentials.Data(dump.utf8))
        let encoder = ParserFoundation.JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let rewritten = try #require(String(data: encoder.encode(tree), encoding: .utf8))
        #expect(rewritten == dump)
    }
}

/// Any JSON document, read by FoundationEssentials' decoder and written by either encoder.
enum JSONTree: Codable, Equatable {
    case null, bool(Bool), int(Int), double(Double), string(String)
    case array([JSONTree])
    case object([String: JSONTree])

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        if let object = try? decoder.container(keyedBy: Key.self) {
            var members: [String: JSONTree] = [:]
            for key in object.allKeys { members[key.stringValue] = try object.decode(JSONTree.self, forKey: key) }
            self = .object(members)
        } else if var array = try? decoder.unkeyedContainer() {
            var elements: [JSONTree] = []
            while !array.isAtEnd { elements.append(try array.decode(JSONTree.self)) }
            self = .array(elements)
        } else {
            let value = try decoder.singleValueContainer()
            if value.decodeNil() {
                self = .null
            } else if let bool = try? value.decode(Bool.self) {
                self = .bool(bool)
            } else if let int = try? value.decode(Int.self) {
                self = .int(int)
            } else if let double = try? value.decode(Double.self) {
                self = .double(double)
            } else {
                self = .string(try value.decode(String.self))
            }
        }
    }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var value = encoder.singleValueContainer()
            try value.encodeNil()
        case .bool(let bool):
            var value = encoder.singleValueContainer()
            try value.encode(bool)
        case .int(let int):
            var value = encoder.singleValueContainer()
            try value.encode(int)
        case .double(let double):
            var value = encoder.singleValueContainer()
            try value.encode(double)
        case .string(let string):
            var value = encoder.singleValueContainer()
            try value.encode(string)
        case .array(let elements):
            var array = encoder.unkeyedContainer()
            for element in elements { try array.encode(element) }
        case .object(let members):
            var object = encoder.container(keyedBy: Key.self)
            for (key, member) in members { try object.encode(member, forKey: Key(stringValue: key)) }
        }
    }
}
