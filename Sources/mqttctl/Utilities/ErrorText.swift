#if canImport(Glibc)
import Glibc
#endif
import Mosquitto

/// The library's errors in mqttctl's words: the one place that names mqttctl's
/// options in advice ("check -h and -p"), and that maps an error to an exit
/// status. The library's own messages name no options; where the advice is a
/// suffix it is appended, elsewhere the line is built again from the cause.
enum ErrorText {
    /// The exit status for `error` (the table in `ExitStatus`).
    static func status(for error: MQTTError) -> ExitStatus {
        if case .interrupted(let signal)? = error.cause { return ExitStatus(signal: signal) }
        switch error.kind {
        case .invalidArgument: return .usage
        case .cannotConnect: return .cannotConnect
        case .refused: return .refused
        case .notAuthorized: return .notAuthorized
        case .tls: return .tls
        case .connectionLost, .protocolError: return .connectionLost
        case .timeout: return .timeout
        case .rejected: return .subscriptionRefused
        case .interrupted: return .interrupted
        case .other: return .failure
        }
    }

    /// The line mqttctl prints for `error`.
    static func line(for error: MQTTError) -> String {
        let endpoint = error.endpoint ?? ""
        switch error.cause {
        case .nameLookup?, .webSocketNameLookup?:
            return error.message + " (check -h/--host)"
        case .connectFailed(let errno)? where errno == ECONNREFUSED:
            return error.message + " (is a broker listening there? check -h and -p)"
        case .srvLookupUnsupported?:
            return
                "-S (find the broker by a DNS SRV lookup) is not available: this libmosquitto was built without SRV support (Debian's is); give the broker with -h and -p"
        case .socks(.proxyUnreachable)?:
            return error.message + " (check --proxy)"
        case .socks(.brokerUnreachable(let proxy))?:
            return
                "the SOCKS proxy \(proxy) cannot reach \(endpoint) (refused or unreachable from the proxy; check -h and -p)"
        case .tls(.engine(let name, let problem))?:
            return "TLS error: the OpenSSL engine '\(name)' cannot be used: \(problem) (--tls-engine, --keyform engine)"
        case .tls(let failure)?:
            return "TLS error with \(endpoint): \(tls(failure))"
        case .closedBeforeConnAck(let bytes, let reset)? where bytes.isEmpty && reset:
            return
                "\(endpoint) reset the connection without CONNACK (a TLS listener does that to a plain client: if it is one, use mqtts:// or --cafile)"
        case .closedBeforeConnAck(let bytes, _)? where PreConnAck.isTLSRecord(bytes):
            return error.message + " (use mqtts:// or --cafile)"
        case .connAckRefused(let code, let version, let credentialsSent)?:
            var line = error.message
            if version != .v5 && code == 1 {
                line =
                    "broker refused the connection: unacceptable protocol version (try -V 311 or -V 31) (CONNACK return code 1)"
            } else if version != .v5 && code == 2 {
                line =
                    "broker refused the connection: identifier rejected (check the client id; MQTT 3.1.1 needs one with -c) (CONNACK return code 2)"
            }
            if error.kind == .notAuthorized {
                line +=
                    credentialsSent
                    ? "; check the username and password"
                    : "; the broker wants credentials: -u USER with -P, --password-file or MQTTCTL_PASSWORD"
            }
            return line
        case .timedOut(let phase, let seconds)?:
            return timeout(phase, seconds: seconds, endpoint: endpoint, message: error.message)
        case .settingRejected(let setting, let detail)?:
            return "\(option(setting)): \(detail)"
        case .invalidProperty(let problem)?:
            return property(problem)
        case let cause?:
            return error.message + webSocketHint(cause)
        case nil:
            return error.message
        }
    }

    private static func timeout(
        _ phase: MQTTError.TimeoutPhase, seconds: Double, endpoint: String, message: String
    ) -> String {
        let within = "within \(formatSeconds(seconds)) s (--connect-timeout)"
        switch phase {
        case .connect, .webSocketUpgrade:
            return message + " (--connect-timeout)"
        case .tlsHandshake:
            return "the TLS handshake with \(endpoint) did not complete \(within); is it a TLS port?"
        case .connAck(let after, let plain):
            let what = after ? "no answer from \(endpoint)" : "no CONNACK from \(endpoint)"
            return
                "\(what) \(within); is it an MQTT broker\(plain ? " (or a TLS port? try mqtts:// or --cafile)" : "")?"
        }
    }

    /// The sentence after "TLS error with host:port: ", with what to do.
    static func tls(_ failure: TLSFailure) -> String {
        let plainPort = "for a plain MQTT port use mqtt:// and no TLS options"
        switch failure {
        case .hostnameMismatch, .certificateVerify(.hostnameMismatch, _, _):
            return failure.summary
                + " (connect with a name the certificate lists, or use --insecure to skip this check)"
        case .setup:
            return failure.summary + "; check --cafile, --capath, --cert, --key, --ciphers and --tls-version"
        case .certificateVerify(.selfSigned, _, _):
            return failure.summary + " (trust it with --cafile FILE holding that certificate)"
        case .certificateVerify(.unknownCA, _, _):
            return failure.summary + " (give that CA with --cafile or --capath)"
        case .notTLS:
            return failure.summary + "; " + plainPort
        case .closedDuringHandshake:
            return failure.summary + " (\(plainPort))"
        case .clientCertificateRequired:
            return failure.summary + "; give one with --cert and --key"
        case .pskRejected(let reason):
            return "TLS-PSK handshake failed (\(reason)); check --psk and --psk-identity against the broker's psk_file"
        case .noCipher:
            return failure.summary + "; check --ciphers and --tls-version"
        case .noCommonVersion:
            return failure.summary + "; check --tls-version"
        case .handshakeFailure:
            return failure.summary
                + ": the broker may want a client certificate (--cert, --key), TLS-PSK (--psk), or other --tls-version/--ciphers"
        case .closedAfterHandshake(let sent):
            return "the broker closed the connection after the TLS handshake, before CONNACK: "
                + (sent
                    ? "it probably rejected the client certificate (--cert)"
                    : "it probably requires a client certificate (use --cert and --key)")
        case .pskNotUsed:
            return
                "the broker did not use the pre-shared key (--psk) and presented a certificate instead; it is not a TLS-PSK listener (use --cafile for certificate-based TLS)"
        default:
            return failure.summary
        }
    }

    /// The option that carries `setting`.
    static func option(_ setting: MQTTError.Setting) -> String {
        switch setting {
        case .socksProxy: "--proxy"
        case .useOSCertificates: "--tls-use-os-certs"
        case .insecure: "--insecure"
        case .alpn: "--tls-alpn"
        case .tlsEngine(let engine?): "--tls-engine '\(engine)'"
        case .tlsEngine(nil): "--tls-engine"
        case .keyForm(let form): "--keyform '\(form)'"
        case .engineKeyPasswordSHA1: "--tls-engine-kpass-sha1"
        }
    }

    /// A `-D command name value` that cannot be used.
    static func property(_ problem: PropertyProblem) -> String {
        switch problem {
        case .unknownCommand(let command):
            return
                "invalid -D command '\(command)': use one of \(MQTTProperties.Command.allCases.map(\.rawValue).joined(separator: ", "))"
        case .unknownName(let name):
            return
                "invalid -D property '\(name)': not an MQTT 5 property name (for example content-type, user-property, message-expiry-interval)"
        case .notAllowed(let command, let name):
            return "-D \(command) \(name): the property '\(name)' is not allowed in a \(command.uppercased()) packet"
        case .valueCount(let command, let name, let expected):
            return "-D \(command) \(name) takes \(expected == 2 ? "a key and a value" : "one value")"
        case .notANumber(let command, let name, let value, let maximum):
            return "-D \(command) \(name): '\(value)' is not a number between 0 and \(maximum)"
        case .tooLong(let command, let name):
            return "-D \(command) \(name): value longer than 65535 bytes"
        case .forbiddenValue(let command, let name, let values, let problem):
            return "-D \(command) \(name) \(values.joined(separator: " ")): \(problem)"
        }
    }

    /// What to do about a WebSocket failure the library describes.
    private static func webSocketHint(_ cause: MQTTError.Cause) -> String {
        switch cause {
        case .webSocketRefused(let status):
            switch status {
            case 404: return ": is the path right? --ws-path"
            case 401, 403, 407: return ": does the server want credentials or a token? --ws-header 'Name: value'"
            case 400, 405, 426: return ": is it a WebSocket listener? check -p and --ws-path"
            case 300...399: return ": use the address it names (-h, -p, --ws-path)"
            default: return ""
            }
        case .webSocketSubprotocol:
            return " (check -p and --ws-path)"
        case .webSocketUnreachable:
            return " (is a WebSocket listener there? check -h and -p)"
        case .webSocketNoAnswer:
            return ": is it a WebSocket listener? (a plain MQTT port takes mqtt://, a TLS port wss:// or --cafile)"
        case .webSocketNoTLS:
            return " (is it a TLS port? a plain WebSocket port takes ws:// and no TLS options)"
        default:
            return ""
        }
    }
}
