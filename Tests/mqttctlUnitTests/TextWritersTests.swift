import Testing
@testable import mqttctl

/// The one writer each for decimal integers, hex digits and JSON strings.
@Suite struct TextWritersTests {
    func decimal(_ value: Int) -> String {
        var out: [UInt8] = []
        DecimalText.append(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func decimals() {
        for value in [0, 7, -7, 10, 1_000_000, Int.max, Int.min] {
            #expect(decimal(value) == String(value))
        }
    }

    @Test func hex() {
        #expect(HexText.padded(0x1F, width: 4) == "001f")
        #expect(HexText.padded(0x1F, width: 2, uppercase: true) == "1F")
        #expect(HexText.padded(UInt64.max, width: 16) == "ffffffffffffffff")
        #expect(HexText.padded(0xABCDE, width: 2) == "abcde")
    }

    func quoted(_ text: String, _ style: JSONEscaping.Style) -> String {
        var out: [UInt8] = []
        var text = text
        text.withUTF8 { JSONEscaping.appendQuoted(UnsafeRawBufferPointer($0), style: style, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func jsonStrings() {
        let text = "a\u{8}b\u{c}c\u{1}\"\\/\n\r\té"
        #expect(quoted(text, .plain) == #""a\u0008b\u000cc\u0001\"\\/\n\r\té""#)
        // mosquitto_sub's %j (cJSON) writes \b and \f.
        #expect(quoted(text, .cJSON) == #""a\bb\fc\u0001\"\\/\n\r\té""#)
        var report = ""
        JSON.appendQuoted(text, to: &report)
        #expect(report == quoted(text, .plain))
        #expect(quoted("", .plain) == #""""#)
    }
}
