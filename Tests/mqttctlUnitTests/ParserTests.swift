import Testing
@testable import mqttctl
import Mosquitto

/// The parsers of user input that need no broker: -L URLs and -F formats.
@Suite struct ParserTests {
    @Test func brokerURLs() throws {
        let plain = try BrokerURL(parsing: "mqtt://broker.example/sensors/temp")
        #expect(!plain.tls && plain.username == nil && plain.password == nil)
        #expect(plain.host == "broker.example" && plain.port == nil && plain.topic == "sensors/temp")
        let full = try BrokerURL(parsing: "mqtts://alice:s%40cret@[::1]:8884/a%23b")
        #expect(full.tls && full.username == "alice" && full.password == "s@cret")
        #expect(full.host == "::1" && full.port == 8884 && full.topic == "a#b", "\(full)")
        for bad in ["http://h/t", "mqtt://h:99999/t", "mqtt://h/a%00b", "mqtt://h/%zz", "mqtt://:1883/t"] {
            #expect(throws: CommandFailure.self, "\(bad)") { try BrokerURL(parsing: bad) }
        }
        // The password never appears in the error.
        do {
            _ = try BrokerURL(parsing: "mqtt://u:topsecret@h:0/t")
            Issue.record("port 0 accepted")
        } catch {
            #expect(!error.message.contains("topsecret"), "\(error.message)")
        }
    }

    /// Message rendering with -F, on made-up messages.
    func render(
        _ format: String, topic: String = "a/b", payload: String = "hello", qos: Int = 1, retain: Bool = false
    ) throws -> String {
        let renderer = try FormatRenderer(format: format, endOfLine: false)
        let output = OutputBuffer(fd: -1, capacity: 4096)
        var t = Array(topic.utf8)
        var p = Array(payload.utf8)
        t.withUnsafeMutableBytes { tb in
            p.withUnsafeMutableBytes { pb in
                let message = ReceivedMessage(
                    mid: 7, qos: qos, retain: retain, topic: UnsafeRawBufferPointer(tb),
                    payload: UnsafeRawBufferPointer(pb), properties: nil)
                renderer.render(message, into: output)
            }
        }
        return output.pendingText
    }

    @Test func formats() throws {
        #expect(try render("%t %p") == "a/b hello")
        #expect(try render("%q %r %l %m") == "1 0 5 7")
        #expect(try render("%x") == "68656c6c6f")
        #expect(try render("%X") == "68656C6C6F")
        #expect(try render("[%-6t]") == "[a/b   ]")
        #expect(try render("[%6t]") == "[   a/b]")
        // As mosquitto_sub 2.0.11: precision cuts the topic, not the payload.
        #expect(try render("[%.2p]") == "[hello]")
        #expect(try render("[%.2t]") == "[a/]")
        #expect(try render("%05l") == "00005")
        #expect(try render("\\t%%\\n") == "\t%\n")
        for bad in ["%", "%y", "\\q", "%999999999999t", "@"] {
            #expect(throws: CommandFailure.self, "\(bad)") { try FormatRenderer(format: bad) }
        }
    }
}
