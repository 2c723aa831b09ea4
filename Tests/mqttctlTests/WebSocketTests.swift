import Foundation
import Testing

/// MQTT over WebSocket (`--ws`, `-L ws://`, `-L wss://`) against two different
/// WebSocket servers: ejabberd's own listener (TestEjabberd: `/mqtt`,
/// subprotocol mqtt, and a TLS one), and ws_relay.py in front of mosquitto
/// (TestWebSocketRelay) for what ejabberd never does: no or another
/// subprotocol, any HTTP status, a close frame with a chosen code and reason.
@Suite struct WebSocketTests {
    static func ejabberdWS(_ broker: TestEjabberd, version: String = "311") -> [String] {
        ["-h", "127.0.0.1", "-p", "\(broker.webSocketPort)", "--ws", "-V", version] + TestEjabberd.credentials
    }

    // MARK: Round trips

    /// pub and sub both over WebSocket, every QoS, MQTT 3.1.1 and 5.
    @Test(arguments: [("311", 0), ("311", 1), ("311", 2), ("5", 0), ("5", 1), ("5", 2)])
    func roundTripThroughEjabberdsWebSocketListener(version: String, qos: Int) throws {
        let broker = try TestEjabberd.standard()
        let topic = uniqueTopic()
        let connection = Self.ejabberdWS(broker, version: version)
        let sub = try startSubscriber(connection + ["-t", "\(topic)/#", "-q", "\(qos)", "-C", "3", "-v", "-W", "30"])
        let pub = try mqttctl(
            ["pub"] + connection + ["-t", "\(topic)/a", "-q", "\(qos)", "-l"],
            stdin: Data("one\ntwo\nthree\n".utf8))
        #expect(pub.status == 0, "\(pub)")
        #expect(pub.stderr.isEmpty, "\(pub)")
        let result = sub.wait(timeout: 30)
        #expect(result.status == 0, "\(result)\n--- ejabberd log ---\n\(broker.log.suffix(3000))")
        #expect(result.stdout == "\(topic)/a one\n\(topic)/a two\n\(topic)/a three\n", "\(result)")
    }

    /// The second server: a WebSocket subscriber (through the relay) gets what a TCP
    /// publisher sends to the mosquitto behind it, and the reverse; -L ws:// keeps
    /// the URL's path as the topic, as mosquitto's -L does.
    @Test(arguments: [0, 1, 2])
    func roundTripThroughTheRelayToMosquitto(qos: Int) throws {
        let relay = try TestWebSocketRelay.standard()
        let topic = uniqueTopic()
        let sub = try startSubscriber([
            "-L", "ws://127.0.0.1:\(relay.port)/\(topic)", "-q", "\(qos)", "-C", "2", "-W", "30",
        ])
        let tcp = try mqttctl(["pub", "-p", "\(relay.broker.port)", "-t", topic, "-q", "\(qos)", "-m", "from tcp"])
        #expect(tcp.status == 0, "\(tcp)")
        let ws = try mqttctl(["pub", "-L", "ws://127.0.0.1:\(relay.port)/\(topic)", "-q", "\(qos)", "-m", "from ws"])
        #expect(ws.status == 0, "\(ws)")
        let result = sub.wait(timeout: 30)
        #expect(result.status == 0, "\(result)\n--- relay ---\n\(relay.log)")
        #expect(result.stdout == "from tcp\nfrom ws\n", "\(result)")
    }

    /// A message larger than a WebSocket frame buffer (16 KiB) arrives whole, both ways.
    @Test func largePayloadArrivesWhole() throws {
        let broker = try TestEjabberd.standard()
        let topic = uniqueTopic()
        let payload = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ws-payload-\(UUID().uuidString)")
        try payload.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let connection = Self.ejabberdWS(broker)
        let sub = try startSubscriber(connection + ["-t", topic, "-q", "1", "-C", "1", "-N", "-W", "30"])
        let pub = try mqttctl(["pub"] + connection + ["-t", topic, "-q", "1", "-f", file.path])
        #expect(pub.status == 0, "\(pub)")
        let result = sub.wait(timeout: 30)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutData == payload, "\(result.stdoutData.count) bytes")
    }

    // MARK: sub -C / -W, ping, conn

    @Test func subscribeCountAndTimeout() throws {
        let broker = try TestEjabberd.standard()
        let topic = uniqueTopic()
        let connection = Self.ejabberdWS(broker, version: "5")
        let quiet = try mqttctl(["sub"] + connection + ["-t", topic, "-W", "1"])
        #expect(quiet.status == 27, "\(quiet)")
        #expect(quiet.stderrLines.count == 1, "\(quiet)")
        let sub = try startSubscriber(connection + ["-t", topic, "-q", "1", "-C", "1"])
        let pub = try mqttctl(["pub"] + connection + ["-t", topic, "-q", "1", "-m", "first"])
        #expect(pub.status == 0, "\(pub)")
        let result = sub.wait(timeout: 30)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "first\n", "\(result)")
    }

    @Test(arguments: ["311", "5"])
    func pingOverWebSocket(version: String) async throws {
        let broker = try TestEjabberd.standard()
        let result = try await runAsync(
            ["ping"] + Self.ejabberdWS(broker, version: version) + ["-C", "3", "--interval", "0.1", "--json"])
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.int("received") == 3, "\(d)")
        #expect(d.string("transport") == "websocket", "\(d)")
        #expect(d.string("websocket_path") == "/mqtt", "\(d)")
        let text = try await runAsync(["ping"] + Self.ejabberdWS(broker, version: version) + ["-C", "1"])
        #expect(
            text.stdoutLines.contains {
                $0.hasPrefix("PINGRESP from ws://127.0.0.1:\(broker.webSocketPort)/mqtt: seq=1 time=")
            }, "\(text)")
    }

    @Test func connReportsTheTransport() throws {
        let broker = try TestEjabberd.standard()
        let result = try mqttctl(["conn"] + Self.ejabberdWS(broker, version: "5") + ["--json"])
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.string("transport") == "websocket", "\(d)")
        #expect(d.string("websocket_path") == "/mqtt", "\(d)")
        let timing = try #require(d.object("timing_ms"))
        #expect((timing.number("websocket_upgrade") ?? -1) > 0, "\(timing)")
        #expect(timing.isNull("tls_handshake"), "\(timing)")
        #expect(timing.isNull("tcp_connect"), "\(timing)")
        #expect(d.object("connack")?.int("code") == 0, "\(d)")
        let text = try mqttctl(["conn"] + Self.ejabberdWS(broker))
        #expect(
            text.stdout.hasPrefix("CONNACK from ws://127.0.0.1:\(broker.webSocketPort)/mqtt (MQTT 3.1.1"), "\(text)")
        #expect(text.stdout.contains("time: WebSocket upgrade (name lookup, TCP and HTTP) "), "\(text)")
        // Over TCP the key says so.
        let tcp = try mqttctl(["conn", "-p", "\(broker.port)", "--json"] + TestEjabberd.credentials)
        #expect(try jsonDocument(tcp).string("transport") == "tcp", "\(tcp)")
        #expect(try jsonDocument(tcp).isNull("websocket_path"), "\(tcp)")
    }

    /// conn --stay sees the close frame that ends it: its code and reason, status 7.
    @Test func connStaySeesACloseFrame() throws {
        let relay = try TestWebSocketRelay.standard()
        let result = try mqttctl([
            "conn", "--ws", "-p", "\(relay.port)", "--ws-path", "/close/4321/maintenance%20window",
            "--stay", "--json",
        ])
        #expect(result.status == 7, "\(result)")
        let stay = try #require(try jsonDocument(result).object("stay"), "\(result)")
        #expect(stay.string("closed_by") == "fin", "\(stay)")
        #expect(stay.int("websocket_close_code") == 4321, "\(stay)")
        #expect(stay.string("websocket_close_reason") == "maintenance window", "\(stay)")
    }

    // MARK: Probes

    /// The same keep-alive probe over TCP and over WebSocket, at the same time, on
    /// the same broker: the bridge adds no delay of its own, so the drops come
    /// within 0.1 s of each other, and ejabberd's DISCONNECT 0x8D comes through.
    @Test(arguments: ["311", "5"])
    func keepAliveDropOverWebSocketMatchesTCP(version: String) async throws {
        let broker = try TestEjabberd.standard()
        func probe(_ connection: [String]) async throws -> RunResult {
            try await runAsync(
                ["probe", "keepalive", "-V", version, "-k", "5", "--grace", "3", "--json"]
                    + connection + TestEjabberd.credentials, timeout: 60)
        }
        async let overTCP = probe(["-p", "\(broker.port)"])
        async let overWS = probe(["-L", "ws://127.0.0.1:\(broker.webSocketPort)"])
        let (tcp, ws) = try await (overTCP, overWS)
        #expect(tcp.status == 0, "\(tcp)")
        #expect(ws.status == 0, "\(ws)")
        let tcpResult = try #require(try jsonDocument(tcp).objects("results").first)
        let wsDocument = try jsonDocument(ws)
        #expect(wsDocument.string("transport") == "websocket", "\(wsDocument)")
        let wsResult = try #require(wsDocument.objects("results").first)
        let tcpDrop = try #require(tcpResult.number("dropped_after_s"), "\(tcpResult)")
        let wsDrop = try #require(wsResult.number("dropped_after_s"), "\(wsResult)")
        // The same enforcement: a WebSocket layer that counted its own pings would
        // drop up to a keep-alive (5 s) later, an HTTP idle timer at its own time.
        // On a quiet machine the two drop within 20 ms of each other; on a loaded
        // one, scheduling alone set them 0.61 s apart, so the bound is 1.5 s.
        #expect(abs(wsDrop - tcpDrop) < 1.5, "TCP \(tcpDrop) s, WebSocket \(wsDrop) s")
        if version == "5" {
            #expect(wsResult.string("closed_by") == "disconnect", "\(wsResult)")
            #expect(wsResult.int("disconnect_reason") == 0x8D, "\(wsResult)")
            #expect(wsResult.string("disconnect_reason_string") == "Idle connection", "\(wsResult)")
        } else {
            // MQTT 3.1.1 has no DISCONNECT from the server: ejabberd closes the WebSocket.
            #expect(wsResult.string("closed_by") == "fin", "\(wsResult)")
        }
    }

    @Test func takeoverOverWebSocketSees0x8E() async throws {
        let broker = try TestEjabberd.standard()
        let result = try await runAsync(
            ["probe", "takeover", "-V", "5", "--strict", "--will-topic", "\(uniqueTopic())/will", "--json"]
                + Self.ejabberdWS(broker, version: "5"), timeout: 60)
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.string("transport") == "websocket", "\(d)")
        #expect(d.bool("old_closed") == true, "\(d)")
        #expect(d.int("disconnect_reason") == 0x8E, "\(d)")
        #expect(d.string("disconnect_reason_string") == "Replaced by another connection", "\(d)")
        #expect(d.bool("will_published") == true, "\(d)")
    }

    /// `mqttctl probe --ws`: every probe, both versions, through the WebSocket
    /// listener, passes --strict on ejabberd as it does over TCP.
    @Test func probeAllOverWebSocketPassesStrictly() async throws {
        let broker = try TestEjabberd.standard()
        let result = try await runAsync(
            ["probe", "--strict", "--grace", "3", "--json", "-h", "127.0.0.1", "-p", "\(broker.webSocketPort)", "--ws"]
                + TestEjabberd.credentials, timeout: 90)
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.bool("pass") == true, "\(d)")
        let documents = d.objects("keepalive") + d.objects("takeover")
        #expect(documents.count == 6, "\(d)")
        #expect(
            documents.allSatisfy { $0.string("transport") == "websocket" && $0.string("websocket_path") == "/mqtt" },
            "\(d)")
        let keepAlive5 = d.objects("keepalive").first { $0.string("protocol") == "5" }?.objects("results").first
        #expect(keepAlive5?.string("disconnect_reason_string") == "Idle connection", "\(d)")
        #expect(d.objects("takeover").allSatisfy { $0.bool("will_published") == true }, "\(d)")
    }

    // MARK: wss

    @Test(arguments: ["311", "5"])
    func secureWebSocketWithTheTestCA(version: String) throws {
        let certs = try TestCertificates.get()
        let broker = try TestEjabberd.tls()
        let port = try #require(broker.webSocketTLSPort)
        let topic = uniqueTopic()
        let connection =
            ["-L", "wss://localhost:\(port)/\(topic)", "--cafile", certs.caFile, "-V", version]
            + TestEjabberd.credentials
        let sub = try startSubscriber(connection + ["-q", "1", "-C", "1", "-W", "30"])
        let pub = try mqttctl(
            ["pub"] + connection + ["-q", "1", "-m", "over wss", "--tls-version", "tlsv1.2"], timeout: 30)
        #expect(pub.status == 0, "\(pub)")
        #expect(pub.stderr.isEmpty, "\(pub)")
        let result = sub.wait(timeout: 30)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "over wss\n", "\(result)")
        let conn = try mqttctl(["conn", "--json", "--cert", certs.clientCert, "--key", certs.clientKey] + connection)
        #expect(conn.status == 0, "\(conn)")
        #expect(try jsonDocument(conn).string("transport") == "websocket-tls", "\(conn)")
    }

    /// The same one-line TLS diagnosis and status 6 as libmosquitto's own TLS.
    @Test func secureWebSocketFailuresAreTLSErrors() throws {
        let certs = try TestCertificates.get()
        let broker = try TestEjabberd.tls()
        let port = try #require(broker.webSocketTLSPort)
        let unknownCA = try mqttctl(["pub", "-L", "wss://localhost:\(port)/t", "-m", "x"] + TestEjabberd.credentials)
        #expect(unknownCA.status == 6, "\(unknownCA)")
        #expect(unknownCA.stderrLines.count == 1, "\(unknownCA)")
        #expect(
            unknownCA.stderr.contains("TLS error with wss://localhost:\(port)/mqtt: certificate verify failed"),
            "\(unknownCA)")
        #expect(unknownCA.stderr.contains("--cafile"), "\(unknownCA)")
        // --insecure skips the host name check only: the chain is still verified.
        let insecure = try mqttctl(
            ["pub", "-L", "wss://localhost:\(port)/t", "--insecure", "-m", "x"] + TestEjabberd.credentials)
        #expect(insecure.status == 6, "\(insecure)")
        let ciphers = try mqttctl(
            [
                "pub", "-L", "wss://localhost:\(port)/t", "--cafile", certs.caFile, "--ciphers", "NO-SUCH-CIPHER", "-m",
                "x",
            ]
                + TestEjabberd.credentials)
        #expect(ciphers.status == 6, "\(ciphers)")
        #expect(ciphers.stderrLines.count == 1, "\(ciphers)")
        // wss:// to a plain WebSocket port, ws:// to a TLS one.
        let noTLS = try mqttctl(
            ["pub", "-L", "wss://localhost:\(broker.webSocketPort)/t", "--cafile", certs.caFile, "-m", "x"]
                + TestEjabberd.credentials)
        #expect(noTLS.status == 6, "\(noTLS)")
        #expect(noTLS.stderrLines.count == 1, "\(noTLS)")
        let plainOnTLS = try mqttctl(["pub", "-L", "ws://localhost:\(port)/t", "-m", "x"] + TestEjabberd.credentials)
        #expect(plainOnTLS.status == 3, "\(plainOnTLS)")
        #expect(plainOnTLS.stderr.contains("without answering the WebSocket upgrade"), "\(plainOnTLS)")
    }

    // MARK: Failures at the HTTP layer

    @Test func connectionRefused() throws {
        let port = try TestBroker.freePort()
        let result = try mqttctl(["pub", "--ws", "-h", "127.0.0.1", "-p", "\(port)", "-t", "a", "-m", "x"])
        #expect(result.status == 3, "\(result)")
        #expect(
            result.stderrLines == [
                "mqttctl: error: cannot connect to ws://127.0.0.1:\(port)/mqtt: Connection refused (is a WebSocket listener there? check -h and -p)"
            ], "\(result)")
    }

    @Test func wrongPathIsNotFound() throws {
        let broker = try TestEjabberd.standard()
        let result = try mqttctl(["pub"] + Self.ejabberdWS(broker) + ["--ws-path", "/nope", "-t", "a", "-m", "x"])
        #expect(result.status == 3, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(
            result.stderr.contains(
                "answered the WebSocket upgrade with HTTP 404 Not Found: is the path right? --ws-path"), "\(result)")
    }

    @Test(arguments: [
        (
            "/status/403",
            "answered the WebSocket upgrade with HTTP 403 Forbidden: does the server want credentials or a token? --ws-header"
        ),
        ("/status/404", "answered the WebSocket upgrade with HTTP 404 Not Found: is the path right? --ws-path"),
        ("/status/503", "answered the WebSocket upgrade with HTTP 503 Service Unavailable"),
        ("/none", "accepted the WebSocket upgrade without a subprotocol, not 'mqtt'"),
        ("/wrong", "accepted the WebSocket upgrade with the subprotocol 'foo', not 'mqtt'"),
    ])
    func upgradeRefusals(path: String, text: String) throws {
        let relay = try TestWebSocketRelay.standard()
        let result = try mqttctl(["sub", "--ws", "-p", "\(relay.port)", "--ws-path", path, "-t", "a"])
        #expect(result.status == 3, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("ws://localhost:\(relay.port)\(path) \(text)"), "\(result)")
    }

    /// A close frame after CONNACK ends a connection that was up: status 7, with its code and reason.
    @Test func closeFrameOnceConnected() throws {
        let relay = try TestWebSocketRelay.standard()
        let result = try mqttctl([
            "sub", "--ws", "-p", "\(relay.port)", "--ws-path", "/close/4000/going%20down", "-t", "a", "-W", "20",
        ])
        #expect(result.status == 7, "\(result)")
        #expect(
            result.stderrLines == [
                "mqttctl: error: connection to ws://localhost:\(relay.port)/close/4000/going%20down lost: the broker closed the WebSocket (close frame 4000 \"going down\")"
            ], "\(result)")
    }

    /// --ws-header reaches the server (the relay wants X-Token), and its absence is a 401.
    @Test func headersAreSent() throws {
        let relay = try TestWebSocketRelay.standard()
        let base = [
            "pub", "--ws", "-p", "\(relay.port)", "--ws-path", "/header/X-Token/s3cret", "-t", uniqueTopic(), "-m", "x",
            "-q", "1",
        ]
        let without = try mqttctl(base)
        #expect(without.status == 3, "\(without)")
        #expect(without.stderr.contains("HTTP 401 Unauthorized"), "\(without)")
        let with = try mqttctl(base + ["--ws-header", "X-Token: s3cret", "--ws-header", "X-Other: 1"])
        #expect(with.status == 0, "\(with)")
    }

    /// A plain MQTT port does not answer an HTTP upgrade.
    @Test func plainMQTTPortIsNotAWebSocketListener() throws {
        let broker = try TestBroker.standard()
        let result = try mqttctl([
            "pub", "--ws", "-p", "\(broker.port)", "-t", "a", "-m", "x", "--connect-timeout", "10",
        ])
        #expect(result.status == 3, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("closed the connection without answering the WebSocket upgrade"), "\(result)")
    }

    @Test(arguments: [
        (["pub", "--ws-path", "/x", "-t", "a", "-m", "b"], "--ws-path needs --ws"),
        (["pub", "--ws-header", "A: b", "-t", "a", "-m", "b"], "--ws-header needs --ws"),
        (["pub", "--ws", "-L", "mqtt://h/t", "-m", "b"], "--ws cannot be combined with an mqtt://"),
        (["pub", "--ws", "--ws-path", "mqtt", "-t", "a", "-m", "b"], "invalid --ws-path 'mqtt'"),
        (["pub", "--ws", "--ws-path", "/a b", "-t", "a", "-m", "b"], "invalid --ws-path '/a b'"),
        (["pub", "--ws", "--ws-header", "no colon", "-t", "a", "-m", "b"], "invalid --ws-header 'no colon'"),
        (
            ["pub", "--ws", "--ws-header", "Sec-WebSocket-Protocol: x", "-t", "a", "-m", "b"],
            "cannot set 'Sec-WebSocket-Protocol'"
        ),
        (
            ["pub", "--ws", "--psk", "00", "--psk-identity", "i", "-t", "a", "-m", "b"],
            "--psk is not available over WebSocket"
        ),
        (["pub", "-L", "wsx://h/t", "-m", "b"], "the scheme must be mqtt://, mqtts://, ws:// or wss://"),
    ])
    func badWebSocketOptionsAreUsageErrors(arguments: [String], text: String) throws {
        let result = try mqttctl(arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains(text), "\(result)")
    }

    /// --ws and --ws-path as config-file defaults; an mqtt:// URL drops them.
    @Test func webSocketDefaultsFromTheConfigFile() throws {
        let broker = try TestEjabberd.standard()
        let scratch = try ScratchDirectory()
        try scratch.write(
            "mqttctl/config",
            "-h 127.0.0.1\n-p \(broker.webSocketPort)\n--ws\n--ws-path /mqtt\n-u \(TestEjabberd.username)\n")
        let environment = ["XDG_CONFIG_HOME": scratch.url.path, "MQTTCTL_PASSWORD": TestEjabberd.password]
        let ws = try mqttctl(["conn", "--json"], environment: environment)
        #expect(ws.status == 0, "\(ws)")
        #expect(try jsonDocument(ws).string("transport") == "websocket", "\(ws)")
        let tcp = try mqttctl(["conn", "--json", "-L", "mqtt://127.0.0.1:\(broker.port)"], environment: environment)
        #expect(tcp.status == 0, "\(tcp)")
        #expect(try jsonDocument(tcp).string("transport") == "tcp", "\(tcp)")
    }
}
