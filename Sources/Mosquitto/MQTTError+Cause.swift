extension MQTTError {
    /// What exactly happened, where a caller has to tell causes apart (the
    /// probes judge a broker by them, a tool words its own advice from them).
    public enum Cause: Sendable, Equatable {
        /// The broker's host name could not be resolved; `code` is getaddrinfo's `EAI_*`.
        case nameLookup(host: String, code: Int32)
        /// connect(2) to the broker failed with this `errno`.
        case connectFailed(errno: Int32)
        /// This libmosquitto cannot look the broker up by DNS SRV (built without it).
        case srvLookupUnsupported
        /// The connection through a SOCKS5 proxy failed.
        case socks(SOCKSProblem)
        /// TLS failed; what the handshake, the certificates or OpenSSL's errors show.
        case tls(TLSFailure)
        /// The connection closed before CONNACK; `firstBytes` holds what the peer
        /// sent first (empty: nothing at all; only seen without TLS); `reset`: it
        /// ended with a reset rather than a FIN.
        case closedBeforeConnAck(firstBytes: [UInt8], reset: Bool)
        /// The broker answered CONNECT with a refusal: the CONNACK return code (MQTT
        /// 3.x) or reason code (MQTT 5), and whether a username or password was sent.
        case connAckRefused(code: Int, version: ProtocolVersion, credentialsSent: Bool)
        /// An MQTT 5 CONNECT was answered with an MQTT 3.1.1 CONNACK carrying this
        /// return code: the broker speaks only MQTT 3.1.1 (or older).
        case answeredAsMQTT311(returnCode: Int)
        /// No PINGRESP came within the keep-alive interval of `seconds`.
        case keepAliveExpired(seconds: Int)
        /// The broker ended an established connection without DISCONNECT.
        case closedByPeer(TransportEnd)
        /// A phase of connecting did not finish within `seconds` (the connect timeout).
        case timedOut(TimeoutPhase, seconds: Double)
        /// SIGINT or SIGTERM (this signal number) arrived while connecting or waiting.
        case interrupted(signal: Int32)
        /// A connection setting was refused by libmosquitto or OpenSSL (`detail` says why).
        case settingRejected(Setting, detail: String)
        /// An MQTT 5 property given as text (`MQTTProperties.parse`) is not valid.
        case invalidProperty(PropertyProblem)
        /// MQTT over WebSocket: the server answered the upgrade with this HTTP
        /// status instead of 101.
        case webSocketRefused(status: Int)
        /// MQTT over WebSocket: the server did not choose the subprotocol asked
        /// for (`chosen` is empty when it chose none).
        case webSocketSubprotocol(chosen: String)
        /// MQTT over WebSocket: the server sent a close frame (code 1005: none given).
        case webSocketClosed(code: Int, reason: String)
        /// MQTT over WebSocket: no connection to the server (refused, unreachable).
        case webSocketUnreachable
        /// MQTT over WebSocket: the host name could not be resolved.
        case webSocketNameLookup
        /// MQTT over WebSocket: the server closed the connection without an HTTP answer
        /// (a plain MQTT port, a TLS port spoken to without TLS).
        case webSocketNoAnswer
        /// MQTT over WebSocket with TLS: the TLS handshake failed without a certificate
        /// verification error (a port without TLS, a handshake the server refused).
        case webSocketNoTLS
    }

    /// The phase of connecting that a connect timeout cut short.
    public enum TimeoutPhase: Sendable, Equatable {
        /// The TCP connection (through a proxy, if any) was not made.
        case connect
        /// The TLS handshake did not complete.
        case tlsHandshake
        /// MQTT over WebSocket: the HTTP upgrade did not complete.
        case webSocketUpgrade
        /// No CONNACK came (`afterConnAck`: a CONNACK came, then no further answer,
        /// as in MQTT 5 enhanced authentication). `plainTCP`: neither TLS nor WebSocket.
        case connAck(afterConnAck: Bool, plainTCP: Bool)
    }

    /// How a connection through a SOCKS5 proxy (at `proxy`, "host:port") failed.
    public enum SOCKSProblem: Sendable, Equatable {
        /// The proxy itself could not be reached (`reason`: strerror or gai_strerror).
        case proxyUnreachable(proxy: String, reason: String)
        /// The proxy wanted credentials, refused them, or does not allow the connection.
        case authentication(proxy: String, credentialsSent: Bool)
        /// The proxy could not reach the broker.
        case brokerUnreachable(proxy: String)
        /// The proxy answered in a way that is no SOCKS5.
        case notSOCKS5(proxy: String)
        /// The connection through the proxy closed before CONNACK.
        case closedBeforeConnAck(proxy: String)
    }

    /// A connection setting libmosquitto or OpenSSL refused.
    public enum Setting: Sendable, Equatable {
        /// `SOCKSProxy` (mosquitto_socks5_set).
        case socksProxy
        /// `TLSOptions.useOSCertificates`.
        case useOSCertificates
        /// `TLSOptions.insecure`.
        case insecure
        /// `TLSOptions.alpn`.
        case alpn
        /// The OpenSSL engine (nil: this build has no engine support at all).
        case tlsEngine(String?)
        /// `TLSOptions.keyForm`.
        case keyForm(String)
        /// `TLSOptions.engineKeyPasswordSHA1`.
        case engineKeyPasswordSHA1

        /// The setting in neutral words ("SOCKS proxy", "TLS engine 'x'").
        public var name: String {
            switch self {
            case .socksProxy: "SOCKS proxy"
            case .useOSCertificates: "using the system's CA certificates"
            case .insecure: "skipping the certificate host name check"
            case .alpn: "TLS ALPN"
            case .tlsEngine(let engine?): "TLS engine '\(engine)'"
            case .tlsEngine(nil): "TLS engine"
            case .keyForm(let form): "key form '\(form)'"
            case .engineKeyPasswordSHA1: "TLS engine key password SHA-1"
            }
        }
    }
}
