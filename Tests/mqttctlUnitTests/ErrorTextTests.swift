import Testing
@testable import Mosquitto
@testable import mqttctl

/// The library's typed causes in mqttctl's words and exit statuses: each row
/// is an error as the library makes it and the exact stderr line and status
/// the command gives for it (the end-to-end tests match the same lines).
// Swift Testing has an ExitStatus of its own.
typealias Status = mqttctl.ExitStatus

@Suite struct ErrorTextTests {
    struct Row: CustomStringConvertible {
        let error: MQTTError
        let line: String
        let status: Status
        var description: String { line }
    }

    static let e = "127.0.0.1:1883"

    static func error(_ kind: MQTTError.Kind, _ message: String, _ cause: MQTTError.Cause?) -> MQTTError {
        MQTTError(kind, message, cause: cause, endpoint: e)
    }

    static let rows: [Row] = [
        Row(
            error: error(
                .cannotConnect, "cannot resolve host 'nohost': Name or service not known",
                .nameLookup(host: "nohost", code: -2)),
            line: "cannot resolve host 'nohost': Name or service not known (check -h/--host)", status: .cannotConnect),
        Row(
            error: error(.cannotConnect, "cannot connect to \(e): Connection refused", .connectFailed(errno: 111)),
            line: "cannot connect to \(e): Connection refused (is a broker listening there? check -h and -p)",
            status: .cannotConnect),
        Row(
            error: error(
                .cannotConnect, "cannot connect to \(e): No route to host (no route to that host)",
                .connectFailed(errno: 113)),
            line: "cannot connect to \(e): No route to host (no route to that host)", status: .cannotConnect),
        Row(
            error: error(.invalidArgument, "no SRV", .srvLookupUnsupported),
            line:
                "-S (find the broker by a DNS SRV lookup) is not available: this libmosquitto was built without SRV support (Debian's is); give the broker with -h and -p",
            status: .usage),
        Row(
            error: error(
                .cannotConnect, "cannot connect to the SOCKS proxy p:1080: Connection refused",
                .socks(.proxyUnreachable(proxy: "p:1080", reason: "Connection refused"))),
            line: "cannot connect to the SOCKS proxy p:1080: Connection refused (check --proxy)", status: .cannotConnect
        ),
        Row(
            error: error(.cannotConnect, "-", .socks(.brokerUnreachable(proxy: "p:1080"))),
            line: "the SOCKS proxy p:1080 cannot reach \(e) (refused or unreachable from the proxy; check -h and -p)",
            status: .cannotConnect),
        Row(
            error: error(.timeout, "could not connect to \(e) within 2 s", .timedOut(.connect, seconds: 2)),
            line: "could not connect to \(e) within 2 s (--connect-timeout)", status: .timeout),
        Row(
            error: error(.timeout, "-", .timedOut(.tlsHandshake, seconds: 1.5)),
            line: "the TLS handshake with \(e) did not complete within 1.5 s (--connect-timeout); is it a TLS port?",
            status: .timeout),
        Row(
            error: error(.timeout, "-", .timedOut(.connAck(afterConnAck: false, plainTCP: true), seconds: 3)),
            line:
                "no CONNACK from \(e) within 3 s (--connect-timeout); is it an MQTT broker (or a TLS port? try mqtts:// or --cafile)?",
            status: .timeout),
        Row(
            error: error(.timeout, "-", .timedOut(.connAck(afterConnAck: true, plainTCP: false), seconds: 3)),
            line: "no answer from \(e) within 3 s (--connect-timeout); is it an MQTT broker?", status: .timeout),
        Row(
            error: error(
                .timeout, "the WebSocket upgrade with \(e) did not complete within 3 s",
                .timedOut(.webSocketUpgrade, seconds: 3)),
            line: "the WebSocket upgrade with \(e) did not complete within 3 s (--connect-timeout)", status: .timeout),
        Row(
            error: MQTTError.connack(1, protocolVersion: .v311),
            line:
                "broker refused the connection: unacceptable protocol version (try -V 311 or -V 31) (CONNACK return code 1)",
            status: .refused),
        Row(
            error: MQTTError.connack(5, protocolVersion: .v311),
            line:
                "broker refused the connection: not authorised (CONNACK return code 5); the broker wants credentials: -u USER with -P, --password-file or MQTTCTL_PASSWORD",
            status: .notAuthorized),
        Row(
            error: MQTTError.connack(0x86, protocolVersion: .v5, credentialsSent: true),
            line: "broker refused the connection: Bad User Name or Password (0x86); check the username and password",
            status: .notAuthorized),
        Row(
            error: MQTTError.connack(0x95, protocolVersion: .v5),
            line: "broker refused the connection: Packet too large (0x95)", status: .refused),
        Row(
            error: PreConnAck.error(firstBytes: [], version: .v311, endpoint: e, reset: true),
            line:
                "\(e) reset the connection without CONNACK (a TLS listener does that to a plain client: if it is one, use mqtts:// or --cafile)",
            status: .cannotConnect),
        Row(
            error: PreConnAck.error(firstBytes: [0x15, 0x03, 0x01], version: .v311, endpoint: e),
            line: "\(e) answered with a TLS record: it is a TLS port (use mqtts:// or --cafile)", status: .cannotConnect
        ),
        Row(
            error: PreConnAck.error(firstBytes: [], version: .v311, endpoint: e),
            line: "\(e) closed the connection without CONNACK", status: .cannotConnect),
        Row(
            error: error(
                .connectionLost, "connection to \(e) lost: no PINGRESP within the keep-alive interval (5 s)",
                .keepAliveExpired(seconds: 5)),
            line: "connection to \(e) lost: no PINGRESP within the keep-alive interval (5 s)", status: .connectionLost),
        Row(
            error: error(.interrupted, "interrupted by signal 15 while connecting", .interrupted(signal: 15)),
            line: "interrupted by signal 15 while connecting", status: .terminated),
        Row(
            error: error(.interrupted, "interrupted by signal 2 while connecting", .interrupted(signal: 2)),
            line: "interrupted by signal 2 while connecting", status: .interrupted),
        Row(
            error: error(
                .invalidArgument, "-",
                .settingRejected(
                    .tlsEngine("pkcs11"), detail: "the installed OpenSSL has no such engine (see 'openssl engine')")),
            line: "--tls-engine 'pkcs11': the installed OpenSSL has no such engine (see 'openssl engine')",
            status: .usage),
        Row(
            error: error(.invalidArgument, "-", .settingRejected(.socksProxy, detail: "invalid argument")),
            line: "--proxy: invalid argument", status: .usage),
        Row(
            error: error(.protocolError, "\(e) sent a malformed packet", nil),
            line: "\(e) sent a malformed packet", status: .connectionLost),
        Row(error: error(.rejected, "refused", nil), line: "refused", status: .subscriptionRefused),
        Row(error: error(.other, "out of memory", nil), line: "out of memory", status: .failure),
    ]

    @Test(arguments: rows) func causeToLineAndStatus(_ row: Row) {
        #expect(ErrorText.line(for: row.error) == row.line)
        #expect(ErrorText.status(for: row.error) == row.status)
    }

    /// A signal ends the command quietly; the status says which one.
    @Test func interruptionIsQuiet() {
        let failure = CommandFailure(MQTTError(.interrupted, "interrupted", cause: .interrupted(signal: 15)))
        #expect(failure.message == "" && failure.status == .terminated)
        #expect(MQTTError(.interrupted, "x", cause: .interrupted(signal: 15)).reasonCode == nil)
    }

    static let tlsRows: [(TLSFailure, String)] = [
        (
            .hostnameMismatch(host: "h"),
            "certificate verify failed: hostname mismatch: the broker's certificate is not valid for 'h' (connect with a name the certificate lists, or use --insecure to skip this check)"
        ),
        (
            .setup(problem: "unable to load CA", openSSL: nil),
            "cannot set up TLS: unable to load CA; check --cafile, --capath, --cert, --key, --ciphers and --tls-version"
        ),
        (
            .certificateVerify(.selfSigned, code: 18, text: "self-signed certificate"),
            "certificate verify failed: self-signed certificate: the broker's certificate is signed by nobody else (trust it with --cafile FILE holding that certificate)"
        ),
        (
            .certificateVerify(.unknownCA, code: 20, text: "unable to get local issuer certificate"),
            "certificate verify failed: unable to get local issuer certificate: the broker's certificate comes from an unknown CA (give that CA with --cafile or --capath)"
        ),
        (
            .certificateVerify(.expired, code: 10, text: "certificate has expired"),
            "certificate verify failed: certificate has expired (the broker's certificate must be renewed; or this machine's clock is wrong)"
        ),
        (
            .notTLS(openSSL: "wrong version number"),
            "TLS handshake failed: the server does not speak TLS (wrong version number); for a plain MQTT port use mqtt:// and no TLS options"
        ),
        (
            .closedDuringHandshake(reason: nil),
            "TLS handshake failed: the server closed the connection during the handshake; is it a TLS port? (for a plain MQTT port use mqtt:// and no TLS options)"
        ),
        (
            .clientCertificateRequired(openSSL: "certificate required"),
            "the broker requires a client certificate (certificate required); give one with --cert and --key"
        ),
        (
            .pskRejected(openSSL: "decrypt error"),
            "TLS-PSK handshake failed (decrypt error); check --psk and --psk-identity against the broker's psk_file"
        ),
        (
            .noCipher(openSSL: "no cipher match"),
            "no usable cipher (no cipher match); check --ciphers and --tls-version"
        ),
        (
            .noCommonVersion(openSSL: "unsupported protocol"),
            "TLS handshake failed: no TLS version both sides accept (unsupported protocol); check --tls-version"
        ),
        (
            .handshakeFailure(openSSL: "handshake failure"),
            "TLS handshake failed (handshake failure): the broker may want a client certificate (--cert, --key), TLS-PSK (--psk), or other --tls-version/--ciphers"
        ),
        (
            .closedAfterHandshake(clientCertificateSent: false),
            "the broker closed the connection after the TLS handshake, before CONNACK: it probably requires a client certificate (use --cert and --key)"
        ),
        (
            .pskNotUsed,
            "the broker did not use the pre-shared key (--psk) and presented a certificate instead; it is not a TLS-PSK listener (use --cafile for certificate-based TLS)"
        ),
    ]

    @Test func tlsFailuresNameTheOptions() {
        for (failure, text) in Self.tlsRows {
            let error = MQTTError(
                .tls, "TLS error with \(Self.e): \(failure.summary)", cause: .tls(failure), endpoint: Self.e)
            #expect(ErrorText.line(for: error) == "TLS error with \(Self.e): \(text)")
            #expect(ErrorText.status(for: error) == .tls)
            // The library's own words name no option.
            #expect(!failure.summary.contains("--"), "\(failure)")
        }
        let engine = MQTTError(.tls, "-", cause: .tls(.engine(name: "pkcs11", problem: "engine not found")))
        #expect(
            ErrorText.line(for: engine)
                == "TLS error: the OpenSSL engine 'pkcs11' cannot be used: engine not found (--tls-engine, --keyform engine)"
        )
    }

    @Test func propertyProblemsNameDashD() throws {
        func problem(_ words: [String]) -> String? {
            do {
                _ = try MQTTProperties.parse(command: words[0], name: words[1], values: Array(words.dropFirst(2)))
                return nil
            } catch {
                #expect(!error.message.contains("-D"))
                return ErrorText.line(for: error)
            }
        }
        #expect(
            problem(["conect", "content-type", "x"])?.hasPrefix(
                "invalid -D command 'conect': use one of connect, publish") == true)
        #expect(
            problem(["publish", "colour", "x"])
                == "invalid -D property 'colour': not an MQTT 5 property name (for example content-type, user-property, message-expiry-interval)"
        )
        #expect(
            problem(["publish", "session-expiry-interval", "1"])
                == "-D publish session-expiry-interval: the property 'session-expiry-interval' is not allowed in a PUBLISH packet"
        )
        #expect(problem(["publish", "user-property", "k"]) == "-D publish user-property takes a key and a value")
        #expect(
            problem(["publish", "message-expiry-interval", "x"])
                == "-D publish message-expiry-interval: 'x' is not a number between 0 and 4294967295")
        #expect(problem(["publish", "content-type", "text/plain"]) == nil)
    }
}
