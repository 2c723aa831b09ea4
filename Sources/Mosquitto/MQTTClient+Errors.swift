#if canImport(Glibc)
import Glibc
#endif
import CMosquitto

/// What a failed or lost connection is reported as: the message, in the words of
/// what was seen (the endpoint, the TLS alert, the WebSocket status or close
/// frame, the bytes before CONNACK), and the typed cause. The state they read is
/// the client's; only MQTTClient.swift changes it.
extension MQTTClient {
    /// Why the WebSocket upgrade failed, from what the bridge reported.
    func upgradeError(_ events: [WebSocketBridge.Event]) -> MQTTError {
        let endpoint = options.endpoint
        if options.tls != nil {
            for case .tlsVerify(let code, _) in events {
                return tlsError(TLSDiagnosis.verifyFailure(Int32(code)))
            }
        }
        guard let last = events.last else {
            return MQTTError(.cannotConnect, "cannot connect to \(endpoint)", cause: .webSocketUnreachable)
        }
        switch last {
        case .httpStatus(let code, let statusLine, let location):
            var line = statusLine.trimmingSpaces
            if !line.hasPrefix(String(code)) { line = "\(code) \(line)".trimmingSpaces }
            let moved = location.isEmpty ? "" : " (Location: \(location))"
            return MQTTError(
                .cannotConnect, "\(endpoint) answered the WebSocket upgrade with HTTP \(line)\(moved)",
                cause: .webSocketRefused(status: code))
        case .subprotocol(let chosen):
            let what = chosen.isEmpty ? "without a subprotocol" : "with the subprotocol '\(chosen)'"
            return MQTTError(
                .cannotConnect,
                "\(endpoint) accepted the WebSocket upgrade \(what), not '\(webSocketSubprotocolAsked)': it is not an MQTT WebSocket endpoint",
                cause: .webSocketSubprotocol(chosen: chosen))
        case .closeFrame(let code, let reason):
            return MQTTError(
                .cannotConnect,
                "\(endpoint) closed the WebSocket during the upgrade (close frame \(WebSocketClose.describe(code: code, reason: reason)))",
                cause: .webSocketClosed(code: code, reason: reason))
        case .ended(let end):
            return MQTTError(
                .cannotConnect,
                "\(endpoint) \(end == .fin ? "closed" : "reset") the connection during the WebSocket upgrade",
                cause: .webSocketUnreachable)
        case .textFrame:
            return MQTTError(.protocolError, "\(endpoint) sent a WebSocket text frame (MQTT uses binary frames only)")
        case .error(let text, let errno):
            return connectFailure(text, errno: errno)
        case .nameLookup(let reason):
            return MQTTError(
                .cannotConnect, "cannot resolve host '\(options.host)': \(reason)", cause: .webSocketNameLookup)
        case .ready, .tlsVerify:
            return MQTTError(.cannotConnect, "cannot connect to \(endpoint)", cause: .webSocketUnreachable)
        }
    }

    var webSocketSubprotocolAsked: String {
        if case .webSocket(let ws) = options.transport { return ws.subprotocol }
        return "mqtt"
    }

    /// A connection that failed before the upgrade, in libwebsockets' words.
    func connectFailure(_ text: String, errno savedErrno: Int32) -> MQTTError {
        let endpoint = options.endpoint
        let lower = text.lowercased()
        if lower.includes("getaddrinfo") || lower.includes("dns") || lower.includes("resolve") {
            return MQTTError(.cannotConnect, "cannot resolve host '\(options.host)'", cause: .webSocketNameLookup)
        }
        if options.tls != nil && (lower.includes("tls") || lower.includes("ssl")) {
            // lws 4.1 words a failed handshake "connect SSL err N" with an empty OpenSSL reason.
            return MQTTError(
                .tls, "TLS error with \(endpoint): TLS handshake failed (\(text)); the server may not speak TLS there",
                cause: .webSocketNoTLS)
        }
        if lower.includes("read failed") || lower.includes("closed") {
            return MQTTError(
                .cannotConnect, "\(endpoint) closed the connection without answering the WebSocket upgrade",
                cause: .webSocketNoAnswer)
        }
        if [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ETIMEDOUT].contains(savedErrno) {
            return MQTTError(
                .cannotConnect, "cannot connect to \(endpoint): \(String(cString: strerror(savedErrno)))",
                cause: .webSocketUnreachable)
        }
        if lower.includes("timed out") || lower.includes("timeout") {
            return upgradeTimeout()
        }
        if lower.includes("connect") && !lower.includes("hs:") {
            return MQTTError(.cannotConnect, "cannot connect to \(endpoint): \(text)", cause: .webSocketUnreachable)
        }
        return MQTTError(
            .cannotConnect, "the WebSocket upgrade with \(endpoint) failed: \(text)", cause: .webSocketUnreachable)
    }

    /// Over WebSocket, once the local socket has ended: what the bridge saw of
    /// the broker's end (a close frame, a TCP end), as the error to report.
    func webSocketEndError() -> MQTTError? {
        guard let bridge else { return nil }
        bridge.readEvents()
        let endpoint = options.endpoint
        // The most telling first: a text frame, a close frame, then a bare TCP end.
        let telling =
            bridge.events.filter {
                if case .textFrame = $0 { return true }; return false
            }
            + bridge.events.filter {
                if case .closeFrame = $0 { return true }; return false
            }
            + bridge.events.filter {
                if case .ended = $0 { return true }; return false
            }
        for event in telling {
            switch event {
            case .textFrame:
                return MQTTError(
                    .protocolError, "\(endpoint) sent a WebSocket text frame (MQTT uses binary frames only)")
            case .closeFrame(let code, let reason):
                let frame = "close frame \(WebSocketClose.describe(code: code, reason: reason))"
                if lifecycle.isConnecting {
                    return MQTTError(
                        .cannotConnect, "\(endpoint) closed the WebSocket before CONNACK (\(frame))",
                        cause: .webSocketClosed(code: code, reason: reason))
                }
                return MQTTError(
                    .connectionLost, "connection to \(endpoint) lost: the broker closed the WebSocket (\(frame))",
                    cause: .webSocketClosed(code: code, reason: reason))
            case .ended(let end):
                let how = end == .fin ? "closed" : "reset"
                if lifecycle.isConnecting {
                    return MQTTError(
                        .cannotConnect,
                        "\(endpoint) \(how) the connection before CONNACK, without a WebSocket close frame",
                        cause: .closedBeforeConnAck(firstBytes: firstBytes ?? [], reset: false), endpoint: endpoint)
                }
                return MQTTError(
                    .connectionLost,
                    "connection to \(endpoint) lost: the broker \(how) the connection (no WebSocket close frame)",
                    cause: .closedByPeer(end))
            default:
                continue
            }
        }
        return nil
    }

    func connectError(_ rc: Int32, errno savedErrno: Int32, timedOut: Bool) -> MQTTError {
        let endpoint = options.endpoint
        let code = LibraryCode(rawValue: rc)
        if options.srvLookup && code == .notSupported {
            return MQTTError(
                .invalidArgument,
                "finding the broker by a DNS SRV lookup is not available: this libmosquitto was built without SRV support",
                libraryCode: code, cause: .srvLookupUnsupported)
        }
        if let proxy = options.socksProxy, code == .errno || code == .nameLookup, savedErrno != EINTR {
            let reason =
                code == .nameLookup ? String(cString: gai_strerror(savedErrno)) : String(cString: strerror(savedErrno))
            return MQTTError(
                .cannotConnect, "cannot connect to the SOCKS proxy \(proxy.endpoint): \(reason)", libraryCode: code,
                cause: .socks(.proxyUnreachable(proxy: proxy.endpoint, reason: reason)), endpoint: endpoint)
        }
        if code == .errno && savedErrno == EINTR {
            if let sig = Signals.received { return interrupted(sig) }
            if timedOut {
                return MQTTError(
                    .timeout, "could not connect to \(endpoint) within \(formatSeconds(options.connectTimeout)) s",
                    cause: .timedOut(.connect, seconds: options.connectTimeout), endpoint: endpoint)
            }
        }
        switch code {
        case .nameLookup:
            let reason = String(cString: gai_strerror(savedErrno))
            return MQTTError(
                .cannotConnect, "cannot resolve host '\(options.host)': \(reason)", libraryCode: code,
                cause: .nameLookup(host: options.host, code: savedErrno), endpoint: endpoint)
        case .errno:
            let hint: String =
                switch savedErrno {
                case ENETUNREACH, EHOSTUNREACH: " (no route to that host)"
                case ETIMEDOUT: " (no answer from that host)"
                default: ""
                }
            return MQTTError(
                .cannotConnect, "cannot connect to \(endpoint): \(String(cString: strerror(savedErrno)))\(hint)",
                libraryCode: code,
                cause: .connectFailed(errno: savedErrno), endpoint: endpoint)
        case .tls:
            return tlsError(rc)
        default:
            return MQTTError.library(rc, errno: savedErrno, context: "cannot connect to \(endpoint)")
        }
    }

    func interrupted(_ sig: Int32) -> MQTTError {
        MQTTError(
            .interrupted, "interrupted by signal \(sig) while connecting to \(options.endpoint)",
            cause: .interrupted(signal: sig), endpoint: options.endpoint)
    }

    func upgradeTimeout() -> MQTTError {
        MQTTError(
            .timeout,
            "the WebSocket upgrade with \(options.endpoint) did not complete within \(formatSeconds(options.connectTimeout)) s",
            cause: .timedOut(.webSocketUpgrade, seconds: options.connectTimeout), endpoint: options.endpoint)
    }

    func lostError(_ rc: Int32, errno readErrno: Int32 = 0) -> MQTTError {
        if lifecycle.isConnecting, let proxy = options.socksProxy,
            let error = SOCKSFailure.error(rc, proxy: proxy, broker: options.endpoint)
        {
            return error
        }
        if var error = webSocketEndError() {
            error.libraryCode = LibraryCode(rawValue: rc)
            return error
        }
        if lifecycle.isConnecting {
            if mosquittoTLS == nil {
                var error = PreConnAck.error(
                    firstBytes: firstBytes ?? [], version: options.protocolVersion, endpoint: options.endpoint,
                    reset: peerReset || readErrno == ECONNRESET)
                error.libraryCode = LibraryCode(rawValue: rc)
                return error
            }
            if let tls = mosquittoTLS, lifecycle.tlsHandshakeDone {
                // With TLS 1.3 the broker checks the client certificate after our side
                // of the handshake is done; its alert is often lost in the reset.
                return tlsError(.closedAfterHandshake(clientCertificateSent: tls.certFile != nil), rc: rc)
            }
            return MQTTError(
                .cannotConnect,
                "\(options.endpoint) closed the connection before CONNACK: \(MQTTError.libraryMessage(rc, errno: errno))",
                libraryCode: LibraryCode(rawValue: rc), cause: .closedBeforeConnAck(firstBytes: [], reset: false),
                endpoint: options.endpoint)
        }
        if rc == MOSQ_ERR_CONN_LOST.rawValue {
            let end: TransportEnd = readErrno == ECONNRESET ? .reset : .fin
            return MQTTError(
                .connectionLost,
                "connection to \(options.endpoint) lost: the broker \(end == .fin ? "closed" : "reset") the connection",
                libraryCode: LibraryCode(rawValue: rc), cause: .closedByPeer(end), endpoint: options.endpoint)
        }
        if rc == MOSQ_ERR_KEEPALIVE.rawValue {
            return MQTTError(
                .connectionLost,
                "connection to \(options.endpoint) lost: no PINGRESP within the keep-alive interval (\(options.keepAlive) s)",
                libraryCode: LibraryCode(rawValue: rc), cause: .keepAliveExpired(seconds: options.keepAlive),
                endpoint: options.endpoint)
        }
        return MQTTError(
            .connectionLost, "connection to \(options.endpoint) lost: \(MQTTError.libraryMessage(rc, errno: errno))",
            libraryCode: LibraryCode(rawValue: rc), endpoint: options.endpoint)
    }

    /// Checks a just-completed TLS handshake. With --psk, OpenSSL (TLS 1.3) falls back
    /// to a certificate the broker presents when it does not take the PSK, and
    /// libmosquitto verifies no certificate in PSK mode: refuse that connection.
    func checkHandshake() -> MQTTError? {
        if options.tls?.psk != nil && handle.tlsPeerPresentedCertificate {
            return tlsError(.pskNotUsed, rc: MOSQ_ERR_TLS.rawValue)
        }
        return nil
    }

    func tlsError(_ rc: Int32) -> MQTTError {
        if let engine = options.tls?.engine, let log = lastErrorLog, log.lowercased().includes("engine") {
            // libmosquitto sets the engine and its key up before any byte is sent.
            var what = Substring(log)
            while let last = what.last, last == " " || last == "\n" || last == "." { what = what.dropLast() }
            let failure = TLSFailure.engine(name: engine, problem: String(what).lowercasedFirst)
            return MQTTError(
                .tls, "TLS error: \(failure.summary)", libraryCode: LibraryCode(rawValue: rc), cause: .tls(failure))
        }
        if tlsDiagnosis.isEmpty, options.tls == nil {
            return tlsError(.other(lastErrorLog ?? MQTTError.libraryMessage(rc)), rc: rc)
        }
        return tlsError(tlsDiagnosis.failure(host: options.host, options: options.tls), rc: rc)
    }

    /// "TLS error with host:port: ..." for `failure`.
    func tlsError(_ failure: TLSFailure, rc: Int32? = nil) -> MQTTError {
        MQTTError(
            .tls, "TLS error with \(options.endpoint): \(failure.summary)",
            libraryCode: rc.map(LibraryCode.init(rawValue:)),
            cause: .tls(failure), endpoint: options.endpoint)
    }
}
