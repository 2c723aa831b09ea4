import Testing
@testable import Mosquitto
@testable import mqttctl

/// The pure parts of MQTT over WebSocket: the bridge's status lines, the
/// transport's names, -L ws(s):// URLs, the hints the CLI adds to the library's
/// HTTP-layer failures, and how a close frame is shown.
@Suite struct WebSocketUnitTests {
    static func line(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func statusLinesParse() {
        #expect(WebSocketBridge.parse(Self.line("ready 6d717474")) == .ready(subprotocol: "mqtt"))
        #expect(WebSocketBridge.parse(Self.line("ready ")) == .ready(subprotocol: ""))
        #expect(
            WebSocketBridge.parse(Self.line("http 404 343034204e6f7420466f756e64 "))
                == .httpStatus(code: 404, statusLine: "404 Not Found", location: ""))
        #expect(WebSocketBridge.parse(Self.line("subprotocol 666f6f")) == .subprotocol("foo"))
        #expect(WebSocketBridge.parse(Self.line("tls-verify 19 1")) == .tlsVerify(code: 19, depth: 1))
        #expect(WebSocketBridge.parse(Self.line("error 111 556e61626c65")) == .error("Unable", errno: 111))
        #expect(WebSocketBridge.parse(Self.line("dns 6e6f")) == .nameLookup("no"))
        #expect(
            WebSocketBridge.parse(Self.line("close 4000 627965206e6f77")) == .closeFrame(code: 4000, reason: "bye now"))
        #expect(WebSocketBridge.parse(Self.line("close 1005 ")) == .closeFrame(code: 1005, reason: ""))
        #expect(WebSocketBridge.parse(Self.line("end reset")) == .ended(.reset))
        #expect(WebSocketBridge.parse(Self.line("end fin")) == .ended(.fin))
        #expect(WebSocketBridge.parse(Self.line("text-frame")) == .textFrame)
        #expect(WebSocketBridge.parse(Self.line("something new")) == nil)
        // Bad hex is cut where it goes bad, never a crash.
        #expect(WebSocketBridge.parse(Self.line("close 1000 41zz42")) == .closeFrame(code: 1000, reason: "A"))
    }

    @Test func transportNamesAndEndpoints() {
        var options = ConnectOptions()
        options.host = "broker"
        options.port = 8080
        #expect(options.transportName == "tcp")
        #expect(options.endpoint == "broker:8080")
        options.transport = .webSocket(WebSocketOptions(path: "/ws"))
        #expect(options.transportName == "websocket")
        #expect(options.endpoint == "ws://broker:8080/ws")
        #expect(options.webSocketPath == "/ws")
        options.tls = TLSOptions()
        #expect(options.transportName == "websocket-tls")
        #expect(options.endpoint == "wss://broker:8080/ws")
        options.host = "::1"
        #expect(options.endpoint == "wss://[::1]:8080/ws")
    }

    @Test func webSocketURLs() throws {
        let ws = try BrokerURL(parsing: "ws://u:p@host:9001/a/b")
        #expect(
            ws.webSocket && !ws.tls && ws.host == "host" && ws.port == 9001 && ws.topic == "a/b" && ws.username == "u")
        let wss = try BrokerURL(parsing: "wss://host")
        #expect(wss.webSocket && wss.tls && wss.port == nil && wss.topic == nil)
        #expect(try !BrokerURL(parsing: "mqtt://host/t").webSocket)
    }

    @Test func hintsNameTheOptions() {
        func hint(_ cause: MQTTError.Cause?) -> String {
            String(ErrorText.line(for: MQTTError(.cannotConnect, "x", cause: cause)).dropFirst())
        }
        #expect(hint(.webSocketRefused(status: 404)) == ": is the path right? --ws-path")
        #expect(hint(.webSocketRefused(status: 403)).contains("--ws-header"))
        #expect(hint(.webSocketRefused(status: 500)) == "")
        #expect(hint(.webSocketUnreachable).contains("check -h and -p"))
        #expect(hint(nil) == "")
        let failure = CommandFailure(
            MQTTError(
                .cannotConnect, "x answered the WebSocket upgrade with HTTP 404 Not Found",
                cause: .webSocketRefused(status: 404)))
        #expect(failure.status == .cannotConnect)
        #expect(
            failure.message == "x answered the WebSocket upgrade with HTTP 404 Not Found: is the path right? --ws-path")
    }

    @Test func closeFramesAreShownWithTheirNames() {
        #expect(WebSocketClose.describe(code: 1001, reason: "restart") == "1001 (going away) \"restart\"")
        #expect(WebSocketClose.describe(code: 4000, reason: "") == "4000")
        let end = ConnectionEnd(
            .failed(MQTTError(.connectionLost, "lost", cause: .webSocketClosed(code: 1000, reason: ""))))
        #expect(end == .webSocketClosed(code: 1000, reason: ""))
        #expect(end?.kind == "fin")
        #expect(end?.text == "WebSocket close frame 1000 (normal closure), no DISCONNECT")
    }
}
