import Foundation
import Testing

/// `sub --json`: one JSON object per message and line, read back with
/// JSONSerialization.
@Suite struct JSONOutputTests {
    private func publish(
        _ broker: TestBroker, _ topic: String, _ arguments: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let result = try mqttctl(["pub", "-p", "\(broker.port)", "-t", topic] + arguments)
        #expect(result.status == 0, "\(result)", sourceLocation: sourceLocation)
    }

    /// Runs `sub --json -C count` (plus `extra`) around `send` and parses every line.
    private func received(
        count: Int, extra: [String] = [], broker: TestBroker, topic: String,
        send: () throws -> Void
    ) throws -> (lines: [String], objects: [[String: Any]]) {
        let sub = try startSubscriber(["-p", "\(broker.port)", "-t", topic, "-C", "\(count)", "--json"] + extra)
        try send()
        let result = sub.wait(timeout: 30)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasSuffix("\n"), "\(result)")
        let lines = result.stdoutLines
        #expect(lines.count == count, "\(result)")
        let objects = try lines.map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try #require(object as? [String: Any], "not an object: \(line)")
        }
        return (lines, objects)
    }

    private static let baseKeys: Set<String> = ["topic", "payload", "qos", "retain", "mid", "received_at"]

    @Test func textMessagesAreOneObjectPerLine() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let texts = ["plain", "tab\t \"quoted\" back\\slash /", "two\nlines\r\n", "é ü 😀 \u{1}\u{1f}\u{7f}", ""]
        let before = Date()
        let (lines, objects) = try received(
            count: texts.count + 2, extra: ["-q", "2", "-N", "-v"], broker: broker, topic: topic
        ) {
            for text in texts {
                try publish(broker, topic, text.isEmpty ? ["-n"] : ["-m", text])
            }
            try publish(broker, topic, ["-q", "1", "-m", "at qos 1"])
            try publish(broker, topic, ["-q", "2", "-m", "at qos 2"])
        }
        let after = Date()
        try #require(objects.count == texts.count + 2)
        for (index, object) in objects.enumerated() {
            #expect(Set(object.keys) == Self.baseKeys, "\(lines[index])")
            #expect(object["topic"] as? String == topic)
            #expect(object["retain"] as? Bool == false)
            let receivedAt = try #require(object["received_at"] as? String)
            #expect(receivedAt.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(receivedAt)")
            let parser = ISO8601DateFormatter()
            parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let date = try #require(parser.date(from: receivedAt))
            #expect(date >= before.addingTimeInterval(-1) && date <= after.addingTimeInterval(1), "\(receivedAt)")
        }
        #expect(objects.prefix(texts.count).map { $0["payload"] as? String } == texts)
        #expect(objects.map { $0["qos"] as? Int } == Array(repeating: 0, count: texts.count) + [1, 2])
        // QoS 0 has no message id (0); the broker numbers this client's QoS 1/2 messages from 1.
        #expect(objects.map { $0["mid"] as? Int } == Array(repeating: 0, count: texts.count) + [1, 2])
        // Control characters are escaped, so that each object is one line.
        #expect(lines[2].contains(#""payload":"two\nlines\r\n""#), "\(lines[2])")
        #expect(lines[3].contains(#"\u0001\u001f"#), "\(lines[3])")
    }

    @Test func binaryPayloadIsBase64() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let payloads: [[UInt8]] = [
            [0xff, 0x00, 0x41, 0x0a, 0xc3, 0x28, 0x80],
            Array("almost text ".utf8) + [0xc3],  // a UTF-8 sequence cut short
            Array("surrogate ".utf8) + [0xed, 0xa0, 0x80],  // UTF-16 surrogates are not UTF-8
        ]
        let files = try payloads.map { bytes -> URL in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("json-\(UUID().uuidString)")
            try Data(bytes).write(to: file)
            return file
        }
        defer { for file in files { try? FileManager.default.removeItem(at: file) } }
        let (lines, objects) = try received(count: payloads.count, broker: broker, topic: topic) {
            for file in files { try publish(broker, topic, ["-f", file.path]) }
        }
        try #require(objects.count == payloads.count)
        for (index, object) in objects.enumerated() {
            #expect(Set(object.keys) == Self.baseKeys.union(["encoding"]), "\(lines[index])")
            #expect(object["encoding"] as? String == "base64")
            let encoded = try #require(object["payload"] as? String)
            #expect(Data(base64Encoded: encoded).map(Array.init) == payloads[index], "\(encoded)")
        }
    }

    @Test func nulAndControlBytesInUTF8StayText() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let bytes: [UInt8] = Array("a".utf8) + [0] + Array("b".utf8) + [1, 0x1b] + Array("[0m é".utf8)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("json-\(UUID().uuidString)")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let (lines, objects) = try received(count: 1, broker: broker, topic: topic) {
            try publish(broker, topic, ["-f", file.path])
        }
        let object = try #require(objects.first)
        #expect(object["encoding"] == nil)
        #expect((object["payload"] as? String).map { Array($0.utf8) } == bytes)
        #expect(lines[0].contains(#""payload":"a\u0000b\u0001\u001b[0m é""#), "\(lines[0])")
    }

    @Test func retainedMessageHasRetainTrue() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        try publish(broker, topic, ["-r", "-q", "1", "-m", "kept"])
        defer { _ = try? mqttctl(["pub", "-p", "\(broker.port)", "-t", topic, "-r", "-n"]) }
        let result = try mqttctl([
            "sub", "-p", "\(broker.port)", "-t", topic, "-q", "1", "-C", "1", "-W", "10", "--json",
        ])
        #expect(result.status == 0, "\(result)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: result.stdoutData) as? [String: Any], "\(result)")
        #expect(object["retain"] as? Bool == true)
        #expect(object["qos"] as? Int == 1)
        #expect(object["mid"] as? Int == 1)
        #expect(object["payload"] as? String == "kept")
        #expect(result.stdoutLines.count == 1)
    }

    @Test func mqtt5PropertiesOnlyWhenPresent() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let (lines, objects) = try received(count: 2, extra: ["-V", "5"], broker: broker, topic: topic) {
            try publish(
                broker, topic,
                [
                    "-D", "publish", "content-type", "text/plain; \"q\"",
                    "-D", "publish", "user-property", "k", "v",
                    // (mosquitto refuses control characters in UTF-8 strings; binary correlation data may hold them)
                    "-D", "publish", "user-property", "k", "second \\ value",
                    "-D", "publish", "response-topic", "replies/1",
                    "-D", "publish", "correlation-data", "corr\u{1}",
                    "-D", "publish", "message-expiry-interval", "60",
                    "-D", "publish", "payload-format-indicator", "1",
                    "-m", "with",
                ])
            try publish(broker, topic, ["-V", "5", "-m", "without"])
        }
        try #require(objects.count == 2)
        #expect(Set(objects[0].keys) == Self.baseKeys.union(["properties"]), "\(lines[0])")
        let properties = try #require(objects[0]["properties"] as? [String: Any])
        #expect(
            Set(properties.keys) == [
                "content-type", "user-properties", "response-topic", "correlation-data",
                "message-expiry-interval", "payload-format-indicator",
            ], "\(lines[0])")
        #expect(properties["content-type"] as? String == "text/plain; \"q\"")
        #expect(properties["response-topic"] as? String == "replies/1")
        #expect(properties["correlation-data"] as? String == "corr\u{1}")
        #expect(properties["message-expiry-interval"] as? Int == 60)
        #expect(properties["payload-format-indicator"] as? Int == 1)
        // Duplicate keys are kept, in order.
        let user = try #require(properties["user-properties"] as? [[String: String]], "\(lines[0])")
        #expect(user == [["key": "k", "value": "v"], ["key": "k", "value": "second \\ value"]])
        // No properties, no "properties" key.
        #expect(Set(objects[1].keys) == Self.baseKeys, "\(lines[1])")
        #expect(objects[1]["payload"] as? String == "without")
    }

    @Test func subscriptionIdentifierIsAProperty() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let (lines, objects) = try received(
            count: 1, extra: ["-D", "subscribe", "subscription-identifier", "77"],
            broker: broker, topic: topic
        ) {
            try publish(broker, topic, ["-m", "x"])
        }
        let properties = try #require(objects.first?["properties"] as? [String: Any], "\(lines)")
        #expect(properties["subscription-identifier"] as? Int == 77)
        #expect(properties.count == 1, "\(lines)")
    }

    @Test func jsonAndFormatTogetherIsAUsageError() throws {
        let result = try mqttctl(["sub", "-p", "1", "-t", "x", "--json", "-F", "%p"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderrLines.count == 1 && result.stderr.hasPrefix("mqttctl: error: "), "\(result)")
    }
}
