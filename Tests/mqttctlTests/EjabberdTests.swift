import Foundation
import Testing

/// mqttctl against the suite's second real broker, ejabberd's mod_mqtt (see
/// TestEjabberd): pub/sub round trips, ping, and its MQTT-over-WebSocket listener.
@Suite struct EjabberdTests {
    @Test(arguments: [("311", 0), ("311", 1), ("311", 2), ("5", 0), ("5", 1), ("5", 2)])
    func publishReachesSubscriber(version: String, qos: Int) throws {
        let broker = try TestEjabberd.standard()
        let topic = uniqueTopic()
        let connection = ["-p", "\(broker.port)", "-V", version] + TestEjabberd.credentials
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

    /// The subscriber gets each message at the lower of the publish and subscription QoS.
    @Test(arguments: ["311", "5"])
    func deliveredQoSIsTheLowerOfBoth(version: String) throws {
        let broker = try TestEjabberd.standard()
        let topic = uniqueTopic()
        let connection = ["-p", "\(broker.port)", "-V", version] + TestEjabberd.credentials
        let sub = try startSubscriber(connection + ["-t", topic, "-q", "1", "-C", "2", "-F", "%q %p", "-W", "30"])
        for qos in [2, 0] {
            let pub = try mqttctl(["pub"] + connection + ["-t", topic, "-q", "\(qos)", "-m", "q\(qos)"])
            #expect(pub.status == 0, "\(pub)")
        }
        let result = sub.wait(timeout: 30)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "1 q2\n0 q0\n", "\(result)")
    }

    /// mod_mqtt refuses a CONNECT without a password, even with anonymous login:
    /// that is why every other test passes TestEjabberd.credentials.
    @Test(arguments: ["311", "5"])
    func connectWithoutPasswordIsNotAuthorised(version: String) throws {
        let broker = try TestEjabberd.standard()
        let result = try mqttctl(["pub", "-p", "\(broker.port)", "-V", version, "-t", uniqueTopic(), "-m", "x"])
        #expect(result.status == 5, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
    }

    @Test(arguments: ["311", "5"])
    func pingCountsThreeReplies(version: String) async throws {
        let broker = try TestEjabberd.standard()
        let result = try await runAsync(
            ["ping", "-p", "\(broker.port)", "-V", version, "-C", "3", "--interval", "0.1"]
                + TestEjabberd.credentials)
        #expect(result.status == 0, "\(result)")
        let lines = result.stdoutLines
        for seq in 1...3 {
            #expect(
                lines.contains { $0.hasPrefix("PINGRESP from localhost:\(broker.port): seq=\(seq) time=") }, "\(result)"
            )
        }
        #expect(lines.contains { $0.hasPrefix("3 sent, 3 received, 0% loss, time ") }, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
    }

    /// What the scripted peer imitates, from a real broker: ejabberd drops a silent
    /// MQTT 5 client round(1.5 × K) s after its last byte (8 s for K = 5), with
    /// DISCONNECT 0x8D first, and publishes its will.
    @Test func probeKeepAliveSeesDisconnect0x8D() async throws {
        let broker = try TestEjabberd.standard()
        // --grace 3: on a loaded machine the Erlang VM's timer and our loop may both run late.
        let result = try await runAsync(
            [
                "probe", "keepalive", "-p", "\(broker.port)", "-V", "5", "-k", "5", "--grace", "3",
                "--will-topic", "\(uniqueTopic())/will", "--json",
            ] + TestEjabberd.credentials,
            timeout: 60)
        #expect(result.status == 0, "\(result)")
        let document = try jsonDocument(result)
        let measured = try #require(document.objects("results").first, "\(result)")
        #expect(measured.int("server_keepalive") == 5, "\(measured)")
        #expect(measured.string("closed_by") == "disconnect", "\(measured)")
        #expect(measured.int("disconnect_reason") == 0x8D, "\(measured)")
        let dropped = try #require(measured.number("dropped_after_s"), "\(measured)")
        #expect(dropped >= 7.5 && dropped <= 10.5, "\(measured)")
        #expect(measured.bool("will_published") == true, "\(measured)")
    }

    /// A real 0x8E: B's clean start ends A's session, so A's will is published at
    /// once even with a will delay.
    @Test func probeTakeoverSeesDisconnect0x8E() async throws {
        let broker = try TestEjabberd.standard()
        let result = try await runAsync(
            [
                "probe", "takeover", "-p", "\(broker.port)", "-V", "5", "--strict",
                "--will-topic", "\(uniqueTopic())/will", "--will-delay", "3", "--json",
            ]
                + TestEjabberd.credentials, timeout: 60)
        #expect(result.status == 0, "\(result)")
        let document = try jsonDocument(result)
        #expect(document.bool("old_closed") == true, "\(result)")
        #expect(document.string("closed_by") == "disconnect", "\(result)")
        #expect(document.int("disconnect_reason") == 0x8E, "\(result)")
        #expect(document.bool("will_published") == true, "\(result)")
        #expect(document.bool("session_present") == false, "\(result)")
    }

    /// Unlike mosquitto 2.0.11, ejabberd publishes the will of a persistent MQTT
    /// 3.1.1 session taken over by a persistent one (A got no DISCONNECT), and B
    /// resumes the session with A's subscription.
    @Test func probeTakeoverPersistent311PublishesTheWill() async throws {
        let broker = try TestEjabberd.standard()
        let result = try await runAsync(
            [
                "probe", "takeover", "-p", "\(broker.port)", "-V", "311", "-c",
                "--will-topic", "\(uniqueTopic())/will", "--json",
            ] + TestEjabberd.credentials,
            timeout: 60)
        #expect(result.status == 0, "\(result)")
        let document = try jsonDocument(result)
        #expect(document.bool("old_closed") == true, "\(result)")
        #expect(document.string("closed_by") == "fin", "\(result)")
        #expect(document.bool("will_published") == true, "\(result)")
        #expect(document.bool("session_present") == true, "\(result)")
        #expect(document.bool("subscription_carried_over") == true, "\(result)")
    }

    /// The counterpart of mosquitto's failure (ProbeTakeoverTests): a persistent
    /// MQTT 5 session resumed by B with will delay 0 — ejabberd publishes A's will
    /// at the close, as [MQTT-3.1.2-8] and both non-normative comments say, and
    /// passes; A got 0x8E with ejabberd's reason string.
    @Test func probeTakeoverPersistentMQTT5PublishesTheWillAndPasses() async throws {
        let broker = try TestEjabberd.standard()
        let result = try await runAsync(
            [
                "probe", "takeover", "-p", "\(broker.port)", "-V", "5", "-c", "-x", "300", "--strict",
                "--will-topic", "\(uniqueTopic())/will", "--json",
            ] + TestEjabberd.credentials, timeout: 60)
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.bool("will_expected") == true, "\(d)")
        #expect(d.bool("will_published") == true, "\(d)")
        #expect(d.int("disconnect_reason") == 0x8E, "\(d)")
        #expect(d.string("disconnect_reason_string") == "Resumed by another connection", "\(d)")
        #expect(d.bool("session_present") == true, "\(d)")
        #expect(d.bool("subscription_carried_over") == true, "\(d)")
        #expect(d.objects("findings").isEmpty, "\(d)")
    }

    /// Every probe, both versions, --strict: ejabberd follows every rule the
    /// probes check (mosquitto 2.0.11 breaks three), and its reason strings show.
    @Test func probeAllPassesStrictly() async throws {
        let broker = try TestEjabberd.standard()
        // --grace 3: a loaded machine must not turn a drop at 8.0 s into "late".
        let junit = try JUnitSchema.reportFile()
        let result = try await runAsync(
            ["probe", "-p", "\(broker.port)", "--strict", "--grace", "3", "--json", "--junit", junit.path]
                + TestEjabberd.credentials, timeout: 90)
        #expect(result.status == 0, "\(result)")
        #expect(try JUnitSchema.problems(in: junit) == nil)
        let xml = try String(contentsOf: junit, encoding: .utf8)
        #expect(xml.contains("tests=\"8\" failures=\"0\" errors=\"0\" skipped=\"0\""), "\(xml)")
        #expect(xml.contains("Idle connection"), "\(xml)")
        let d = try jsonDocument(result)
        #expect(d.bool("pass") == true, "\(d)")
        let keepAlive5 = d.objects("keepalive").first { $0.string("protocol") == "5" }?.objects("results").first
        #expect(keepAlive5?.string("disconnect_reason_string") == "Idle connection", "\(d)")
        let takeover5 = d.objects("takeover").filter { $0.string("protocol") == "5" }
        #expect(
            takeover5.map { $0.string("disconnect_reason_string") } == [
                "Replaced by another connection", "Resumed by another connection",
            ], "\(takeover5)")
        #expect(d.objects("takeover").allSatisfy { $0.bool("will_published") == true }, "\(d)")
        // The wills come with the close, not 40 ms later (no delayed ACK held them back).
        // A held-back will is late in every variant; one late by scheduling alone (a
        // loaded machine) is not, so the best of them must be prompt.
        let gaps = d.objects("takeover").map { abs($0.number("will_after_close_ms") ?? 999) }
        #expect(gaps.count == 4 && (gaps.min() ?? 999) < 20 && gaps.allSatisfy { $0 < 500 }, "\(gaps) ms")
    }

    /// Its TLS listener (certificate, chain and key in one PEM, as ejabberd wants) with the test CA.
    @Test(arguments: ["311", "5"])
    func publishOverTLS(version: String) throws {
        let certs = try TestCertificates.get()
        let broker = try TestEjabberd.tls()
        let tlsPort = try #require(broker.tlsPort)
        let connection =
            ["-h", "localhost", "-p", "\(tlsPort)", "--cafile", certs.caFile, "-V", version] + TestEjabberd.credentials
        let topic = uniqueTopic()
        let sub = try startSubscriber(connection + ["-t", topic, "-q", "1", "-C", "1", "-v", "-W", "30"])
        let pub = try mqttctl(["pub"] + connection + ["-t", topic, "-q", "1", "-m", "over tls"], timeout: 30)
        #expect(pub.status == 0, "\(pub)")
        #expect(pub.stderr.isEmpty, "\(pub)")
        let result = sub.wait(timeout: 30)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "\(topic) over tls\n", "\(result)")
    }

    /// The WebSocket listener: an upgrade to /mqtt with subprotocol mqtt gets 101
    /// and the subprotocol back, and an MQTT CONNECT in a binary frame then gets a
    /// CONNACK; another path is refused (ejabberd_http answers 404 Not Found).
    @Test func webSocketListenerUpgradesOnlyItsPath() throws {
        let broker = try TestEjabberd.standard()
        let good = try WebSocketProbe(port: broker.webSocketPort, path: broker.webSocketPath, protocol: "mqtt")
        #expect(good.statusLine.hasPrefix("HTTP/1.1 101 "), "\(good.response)")
        #expect(good.header("sec-websocket-protocol") == "mqtt", "\(good.response)")
        #expect(good.header("upgrade")?.lowercased() == "websocket", "\(good.response)")
        // MQTT 3.1.1 CONNECT, clean session, keep-alive 30, with the credentials.
        let connect = WebSocketProbe.connectPacket(
            clientID: uniqueID("ws"), username: TestEjabberd.username,
            password: TestEjabberd.password)
        let reply = try good.exchange(binary: connect)
        #expect(reply == [0x20, 0x02, 0x00, 0x00], "CONNACK expected, got \(reply.map { String(format: "%02x", $0) })")

        let wrong = try WebSocketProbe(port: broker.webSocketPort, path: "/not-mqtt", protocol: "mqtt")
        #expect(!wrong.statusLine.hasPrefix("HTTP/1.1 101"), "\(wrong.response)")
        #expect(wrong.statusLine.hasPrefix("HTTP/1.1 404 "), "\(wrong.response)")
    }
}

/// A raw WebSocket client for one test: sends the HTTP Upgrade, keeps the
/// response, and can exchange one binary frame.
private final class WebSocketProbe {
    let response: String
    private let fd: Int32
    private var pending: [UInt8]

    var statusLine: String { String(response.prefix { $0 != "\r" }) }

    init(port: Int, path: String, protocol subprotocol: String?) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BrokerError("socket() failed") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            close(fd)
            throw BrokerError("cannot connect to 127.0.0.1:\(port)")
        }
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        var request =
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if let subprotocol { request += "Sec-WebSocket-Protocol: \(subprotocol)\r\n" }
        request += "\r\n"
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            close(fd)
            throw BrokerError("cannot send the upgrade request")
        }
        // Read until the end of the headers (or the end of the connection).
        var received: [UInt8] = []
        var headerEnd: Int?
        while headerEnd == nil {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            received += buffer[0..<n]
            headerEnd = Self.find([13, 10, 13, 10], in: received)
        }
        let end = headerEnd ?? received.count
        self.fd = fd
        response = String(decoding: received[0..<end], as: UTF8.self)
        pending = headerEnd.map { Array(received[($0 + 4)...]) } ?? []
    }

    deinit { close(fd) }

    func header(_ name: String) -> String? {
        for line in response.components(separatedBy: "\r\n").dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == name {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// Sends one masked binary frame and returns the payload of the first frame back.
    func exchange(binary payload: [UInt8]) throws -> [UInt8] {
        precondition(payload.count < 126)
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        let frame =
            [0x82, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        guard frame.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == frame.count else {
            throw BrokerError("cannot send the frame")
        }
        var data = pending
        while true {
            if data.count >= 2 {
                let length = Int(data[1] & 0x7f)
                precondition(length < 126 && data[1] & 0x80 == 0, "short unmasked server frames only")
                if data.count >= 2 + length { return Array(data[2..<(2 + length)]) }
            }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { throw BrokerError("connection ended (or 10 s passed) before a frame came back") }
            data += buffer[0..<n]
        }
    }

    static func connectPacket(clientID: String, username: String, password: String) -> [UInt8] {
        func string(_ s: String) -> [UInt8] {
            let bytes = Array(s.utf8)
            return [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xff)] + bytes
        }
        // Protocol name, level 4, flags: user name, password, clean session; keep-alive 30.
        let body = string("MQTT") + [4, 0xC2, 0, 30] + string(clientID) + string(username) + string(password)
        return [0x10, UInt8(body.count)] + body
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where Array(haystack[i..<(i + needle.count)]) == needle {
            return i
        }
        return nil
    }
}
