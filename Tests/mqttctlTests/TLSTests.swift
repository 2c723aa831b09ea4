import Foundation
import Mosquitto
import Testing

/// TLS through the built binary, against mosquitto TLS listeners using
/// certificates generated for this run (see TestCertificates).
@Suite struct TLSTests {
    /// One line on stderr, starting "mqttctl: error: ".
    func expectOneErrorLine(_ result: RunResult, sourceLocation: SourceLocation = #_sourceLocation) {
        let errors = result.stderrLines.filter { !$0.hasPrefix("mqttctl: warning: ") }
        #expect(errors.count == 1, "\(result)", sourceLocation: sourceLocation)
        #expect(errors.first?.hasPrefix("mqttctl: error: ") == true, "\(result)", sourceLocation: sourceLocation)
    }

    // MARK: Success

    @Test(arguments: ["127.0.0.1", "localhost"])
    func pubAndSubOverTLSWithTheCA(host: String) throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.tls()
        let topic = uniqueTopic()
        let tls = ["-h", host, "-p", "\(broker.port)", "--cafile", certs.caFile]
        let sub = try startSubscriber(tls + ["-t", topic, "-q", "1", "-C", "1", "-v"])
        let pub = try mqttctl(["pub"] + tls + ["-t", topic, "-q", "1", "-m", "over tls"], timeout: 20)
        #expect(pub.status == 0, "\(pub)")
        #expect(pub.stderr.isEmpty, "\(pub)")
        let result = sub.wait(timeout: 20)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "\(topic) over tls\n")
    }

    /// ping's own PINGREQs go through libmosquitto's TLS session (SSL_write).
    @Test func pingOverTLS() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.tls()
        let result = try mqttctl(
            [
                "ping", "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile,
                "-C", "3", "--interval", "0.1", "--json",
            ], timeout: 30)
        #expect(result.status == 0, "\(result)")
        let document = try jsonDocument(result)
        #expect(document.int("sent") == 3 && document.int("received") == 3, "\(result)")
    }

    /// Every probe works over TLS: take-over and keep-alive, both protocol versions.
    @Test(arguments: ["311", "5"])
    func probesOverTLS(version: String) async throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.tls()
        let tls = ["-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile, "-V", version]
        async let takeover = runAsync(["probe", "takeover"] + tls + ["--json"], timeout: 60)
        async let keepAlive = runAsync(["probe", "keepalive"] + tls + ["-k", "5", "--json"], timeout: 60)
        let takeoverResult = try await takeover
        let takeoverDocument = try jsonDocument(takeoverResult)
        #expect(takeoverDocument.bool("old_closed") == true, "\(takeoverResult)")
        let keepAliveResult = try await keepAlive
        let keepAliveDocument = try jsonDocument(keepAliveResult)
        let measured = try #require(keepAliveDocument.objects("results").first)
        // A silent TLS client is dropped like a plain one (the window mosquitto documents).
        let dropped = try #require(measured.number("dropped_after_s"), "\(keepAliveResult)")
        #expect(ProbeKeepAliveTests.mosquittoWindow(5).contains(dropped), "\(measured)")
    }

    @Test func mqttsURLSelectsTLS() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.tls()
        let topic = uniqueTopic()
        let sub = try startSubscriber([
            "-L", "mqtts://localhost:\(broker.port)/\(topic)", "--cafile", certs.caFile, "-C", "1",
        ])
        let pub = try mqttctl(
            ["pub", "-L", "mqtts://localhost:\(broker.port)/\(topic)", "--cafile", certs.caFile, "-m", "via url"],
            timeout: 20)
        #expect(pub.status == 0, "\(pub)")
        let result = sub.wait(timeout: 20)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "via url\n")
    }

    @Test func theDefaultPortFollowsTLS() throws {
        let certs = try TestCertificates.get()
        // Nothing we know of listens on 8883 here; whatever happens, the error names the port.
        for arguments in [["-L", "mqtts://127.0.0.1/t"], ["-h", "127.0.0.1", "-t", "t", "--cafile", certs.caFile]] {
            let result = try mqttctl(
                ["pub"] + arguments + ["--cafile", certs.caFile, "-m", "x", "--connect-timeout", "3"], timeout: 20)
            #expect(result.status != 0, "\(result)")
            #expect(result.stderr.contains("127.0.0.1:8883"), "\(result)")
        }
    }

    @Test func tlsOptionsAreAccepted() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.tls()
        for extra in [
            ["--tls-version", "tlsv1.2"], ["--tls-version", "tlsv1.3"], ["--tls-alpn", "mqtt"],
            ["--tls-version", "tlsv1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"],
            ["--capath", certs.directory.path, "--cafile", certs.caFile],
        ] {
            let result = try mqttctl(
                [
                    "pub", "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile,
                    "-t", uniqueTopic(), "-m", "x",
                ] + extra, timeout: 20)
            #expect(result.status == 0, "\(extra): \(result)")
        }
    }

    @Test func clientCertificateIsAccepted() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.clientCertificate()
        let result = try mqttctl(
            [
                "pub", "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile,
                "--cert", certs.clientCert, "--key", certs.clientKey, "-t", uniqueTopic(), "-m", "x",
            ], timeout: 20)
        #expect(result.status == 0, "\(result)")
    }

    @Test func preSharedKey() throws {
        let broker = try SecureBrokers.psk()
        let topic = uniqueTopic()
        let psk = [
            "-h", "127.0.0.1", "-p", "\(broker.port)", "--psk", SecureBrokers.pskKey, "--psk-identity",
            SecureBrokers.pskIdentity,
        ]
        let sub = try startSubscriber(psk + ["-t", topic, "-C", "1"])
        let pub = try mqttctl(["pub"] + psk + ["-t", topic, "-m", "psk"], timeout: 20)
        #expect(pub.status == 0, "\(pub)")
        let result = sub.wait(timeout: 20)
        #expect(result.stdout == "psk\n", "\(result)")
    }

    @Test func insecureSkipsTheHostNameCheckWithAWarning() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.wrongHost()
        let result = try mqttctl(
            [
                "pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "--cafile", certs.caFile, "--insecure",
                "-t", uniqueTopic(), "-m", "x",
            ], timeout: 20)
        #expect(result.status == 0, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.hasPrefix("mqttctl: warning: --insecure"), "\(result)")
    }

    /// `ping` sends PINGREQ itself (0xC0 0x00 through SSL_write on libmosquitto's
    /// session). The ping command lives on another branch; this checks the raw
    /// PINGREQ over TLS at the library level.
    @Test func rawPingRequestOverTLS() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.tls()
        var options = ConnectOptions()
        options.host = "localhost"
        options.port = broker.port
        options.connectTimeout = 10
        var tls = TLSOptions()
        tls.caFile = certs.caFile
        options.tls = tls
        let client = try MQTTClient(options: options)
        client.keepAliveEnabled = false
        var responses = 0
        client.onPingResponse = { responses += 1 }
        let loop = EventLoop()
        loop.add(client)
        try client.connect()
        loop.run(deadline: MonotonicClock.after(seconds: 15)) { client.state != .connecting }
        #expect(client.state == .connected, "\(String(describing: client.closeReason))")
        for round in 1...3 {
            #expect(client.sendPingRequest())
            loop.run(deadline: MonotonicClock.after(seconds: 5)) { responses >= round || client.state == .closed }
        }
        #expect(responses == 3)
        client.disconnect()
        loop.run(deadline: MonotonicClock.after(seconds: 5)) { client.state == .closed }
    }

    // MARK: Certificate failures (exit 6, one line)

    @Test func unknownCA() throws {
        let broker = try SecureBrokers.tls()
        let result = try mqttctl(
            ["pub", "-h", "localhost", "-p", "\(broker.port)", "--tls-use-os-certs", "-t", "t", "-m", "x"], timeout: 20)
        #expect(result.status == 6, "\(result)")
        expectOneErrorLine(result)
        #expect(result.stderr.contains("certificate verify failed"), "\(result)")
        #expect(result.stderr.contains("unknown CA"), "\(result)")
        #expect(result.stderr.contains("--cafile"), "\(result)")
    }

    @Test func selfSignedServerCertificate() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.selfSigned()
        let result = try mqttctl(
            ["pub", "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile, "-t", "t", "-m", "x"],
            timeout: 20)
        #expect(result.status == 6, "\(result)")
        expectOneErrorLine(result)
        #expect(result.stderr.contains("certificate verify failed: self-signed certificate"), "\(result)")
        // Trusting that very certificate works.
        let trusted = try mqttctl(
            [
                "pub", "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.selfSignedCert,
                "-t", uniqueTopic(), "-m", "x",
            ], timeout: 20)
        #expect(trusted.status == 0, "\(trusted)")
    }

    @Test func expiredServerCertificate() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.expired()
        let result = try mqttctl(
            ["pub", "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile, "-t", "t", "-m", "x"],
            timeout: 20)
        #expect(result.status == 6, "\(result)")
        expectOneErrorLine(result)
        #expect(result.stderr.contains("certificate verify failed: certificate has expired"), "\(result)")
    }

    @Test func hostNameMismatch() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.wrongHost()
        let result = try mqttctl(
            ["sub", "-h", "127.0.0.1", "-p", "\(broker.port)", "--cafile", certs.caFile, "-t", "t", "-E"], timeout: 20)
        #expect(result.status == 6, "\(result)")
        expectOneErrorLine(result)
        #expect(result.stderr.contains("hostname mismatch"), "\(result)")
        #expect(result.stderr.contains("'127.0.0.1'"), "\(result)")
        #expect(result.stderr.contains("--insecure"), "\(result)")
    }

    @Test func clientCertificateRequired() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.clientCertificate()
        let result = try mqttctl(
            ["pub", "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile, "-t", "t", "-m", "x"],
            timeout: 20)
        #expect(result.status == 6, "\(result)")
        expectOneErrorLine(result)
        #expect(result.stderr.contains("client certificate"), "\(result)")
        #expect(result.stderr.contains("--cert"), "\(result)")
    }

    @Test func clientCertificateFromAnUnknownCA() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.clientCertificate()
        let result = try mqttctl(
            [
                "pub", "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile,
                "--cert", certs.rogueClientCert, "--key", certs.rogueClientKey, "-t", "t", "-m", "x",
            ], timeout: 20)
        #expect(result.status == 6, "\(result)")
        expectOneErrorLine(result)
        #expect(result.stderr.contains("client certificate"), "\(result)")
    }

    @Test func wrongPreSharedKey() throws {
        let broker = try SecureBrokers.psk()
        let result = try mqttctl(
            [
                "pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "--psk", "00ff00ff",
                "--psk-identity", SecureBrokers.pskIdentity, "-t", "t", "-m", "x",
            ], timeout: 20)
        #expect(result.status == 6, "\(result)")
        expectOneErrorLine(result)
        #expect(result.stderr.contains("--psk"), "\(result)")
    }

    @Test func preSharedKeyAgainstACertificateListenerIsRefused() throws {
        // OpenSSL would quietly fall back to the broker's (unverified) certificate.
        let broker = try SecureBrokers.tls()
        let result = try mqttctl(
            [
                "pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "--psk", SecureBrokers.pskKey,
                "--psk-identity", SecureBrokers.pskIdentity, "-t", "t", "-m", "x",
            ], timeout: 20)
        #expect(result.status == 6, "\(result)")
        expectOneErrorLine(result)
        #expect(result.stderr.contains("pre-shared key"), "\(result)")
    }

    @Test func badCipherList() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.tls()
        let result = try mqttctl(
            [
                "pub", "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile,
                "--ciphers", "NO-SUCH-CIPHER", "-t", "t", "-m", "x",
            ], timeout: 20)
        #expect(result.status == 6, "\(result)")
        expectOneErrorLine(result)
        #expect(result.stderr.contains("cipher"), "\(result)")
    }

    // MARK: TLS and plain mixed up

    @Test func plainClientOnATLSPort() throws {
        let broker = try SecureBrokers.tls()
        let result = try mqttctl(["pub", "-h", "localhost", "-p", "\(broker.port)", "-t", "t", "-m", "x"], timeout: 20)
        #expect(result.status == 3, "\(result)")
        expectOneErrorLine(result)
        #expect(result.stderr.contains("TLS listener"), "\(result)")
        #expect(result.stderr.contains("mqtts://"), "\(result)")
    }

    @Test func tlsClientOnAPlainPort() throws {
        let certs = try TestCertificates.get()
        let broker = try TestBroker.standard()
        let result = try mqttctl(
            ["sub", "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile, "-t", "t", "-E"], timeout: 20)
        #expect(result.status == 6, "\(result)")
        expectOneErrorLine(result)
        #expect(result.stderr.contains("TLS handshake failed"), "\(result)")
        #expect(result.stderr.contains("no TLS options"), "\(result)")
    }

    @Test func aSilentPortTimesOutDuringTheHandshake() throws {
        let certs = try TestCertificates.get()
        let silent = try SilentListener()
        let started = Date()
        let result = try mqttctl(
            [
                "pub", "-h", "127.0.0.1", "-p", "\(silent.port)", "--cafile", certs.caFile,
                "--connect-timeout", "2", "-t", "t", "-m", "x",
            ], timeout: 30)
        #expect(!result.timedOut, "\(result)")
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(result.status == 27, "\(result)")
        expectOneErrorLine(result)
        #expect(result.stderr.contains("TLS handshake"), "\(result)")
    }

    // MARK: Usage errors (exit 2)

    @Test(arguments: [
        (["--cert", "/etc/hostname"], "--cert needs --key"),
        (["--key", "/etc/hostname"], "--key needs --cert"),
        (["--psk", "abcd", "--psk-identity", "x", "--cafile", "/etc/hostname"], "--psk cannot be combined"),
        (["--psk", "abcd"], "--psk needs --psk-identity"),
        (["--psk-identity", "x"], "--psk-identity needs --psk"),
        (["--psk", "xyz", "--psk-identity", "x"], "hexadecimal"),
        (["--cafile", "/nonexistent/ca.pem"], "cannot read --cafile '/nonexistent/ca.pem': No such file or directory"),
        (["--capath", "/etc/hostname"], "is not a directory"),
        (["--tls-version", "sslv3"], "the value 'sslv3' is invalid for '--tls-version <version>': use tlsv1.3"),
    ])
    func invalidTLSOptions(arguments: [String], message: String) throws {
        let result = try mqttctl(["pub", "-t", "t", "-m", "x"] + arguments)
        #expect(result.status == 2, "\(result)")
        expectOneErrorLine(result)
        #expect(result.stderr.contains(message), "\(result)")
    }
}
