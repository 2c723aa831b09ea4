#if canImport(Glibc)
import Glibc
#endif
import CMosquitto

/// Turns what libmosquitto and OpenSSL leave behind after a failed TLS
/// connection (the certificate verification result, the "host name verification
/// failed" log line, OpenSSL's error queue as logged) into one sentence that says
/// what happened and what to do. libmosquitto itself only says "A TLS error occurred".
struct TLSDiagnosis {
    /// `SSL_get_verify_result` when it was not X509_V_OK.
    var verifyResult: Int?
    /// libmosquitto's own host name check failed (it reports no verify code for that).
    var hostnameMismatch = false
    /// Reasons of the OpenSSL errors logged while connecting ("unexpected eof while reading").
    var openSSLReasons: [String] = []
    /// libmosquitto's own TLS set-up errors ("Unable to load client certificate ...").
    var setupErrors: [String] = []
    /// The connection was reset or broken during the handshake (no OpenSSL error then).
    var handshakeErrno: Int32?

    var isEmpty: Bool {
        verifyResult == nil && !hostnameMismatch && openSSLReasons.isEmpty && setupErrors.isEmpty && handshakeErrno == nil
    }

    mutating func reset() {
        self = TLSDiagnosis()
    }

    /// Records one of libmosquitto's error log lines.
    mutating func record(logLine line: String) {
        if line.contains("host name verification failed") {
            hostnameMismatch = true
        } else if line.hasPrefix("OpenSSL Error") {
            openSSLReasons.append(Self.reason(ofOpenSSLLine: line))
        } else if line.hasPrefix("Error: ") {
            var text = line.dropFirst(7)
            if text.hasSuffix(".") { text = text.dropLast() }
            setupErrors.append(String(text).lowercasedFirst)
        }
    }

    /// "OpenSSL Error[0]: error:0A000126:SSL routines::unexpected eof while reading"
    /// → "unexpected eof while reading".
    static func reason(ofOpenSSLLine line: String) -> String {
        guard let colon = line.lastIndex(of: ":") else { return line }
        let reason = line[line.index(after: colon)...].drop { $0 == " " }
        return reason.isEmpty ? line : String(reason)
    }

    /// The sentence after "TLS error with host:port: ".
    func describe(host: String, options tls: TLSOptions?) -> String {
        if hostnameMismatch {
            return "certificate verify failed: hostname mismatch: the broker's certificate is not valid for '\(host)' (connect with a name the certificate lists, or use --insecure to skip this check)"
        }
        if let setup = setupErrors.first {
            let detail = openSSLReasons.first.map { " (\($0))" } ?? ""
            return "cannot set up TLS: \(setup)\(detail); check --cafile, --capath, --cert, --key, --ciphers and --tls-version"
        }
        if let verify = verifyResult {
            return "certificate verify failed: " + Self.describeVerifyResult(Int32(verify))
        }
        let reasons = openSSLReasons
        func has(_ text: String) -> Bool { reasons.contains { $0.contains(text) } }
        if has("wrong version number") || has("packet length too long") || has("record layer failure") || has("http request") {
            return "TLS handshake failed: the server does not speak TLS (\(reasons[0])); for a plain MQTT port use mqtt:// and no TLS options"
        }
        if has("unexpected eof") || handshakeErrno != nil {
            let what = handshakeErrno.map { "the connection broke (\(String(cString: strerror($0)).lowercasedFirst))" }
                ?? "the server closed the connection"
            return "TLS handshake failed: \(what) during the handshake; is it a TLS port? (for a plain MQTT port use mqtt:// and no TLS options)"
        }
        if has("certificate required") || has("peer did not return a certificate") {
            return "the broker requires a client certificate (\(reasons[0])); give one with --cert and --key"
        }
        if has("alert unknown ca") {
            return "the broker does not trust the client certificate (\(reasons[0])); use a certificate signed by a CA the broker knows"
        }
        if has("alert bad certificate") || has("alert certificate unknown") || has("alert certificate expired")
            || has("alert certificate revoked") || has("alert unsupported certificate") {
            return "the broker rejected the client certificate (\(reasons[0]))"
        }
        if tls?.psk != nil && (has("illegal parameter") || has("decrypt") || has("bad record mac") || has("handshake failure")) {
            return "TLS-PSK handshake failed (\(reasons[0])); check --psk and --psk-identity against the broker's psk_file"
        }
        if has("no cipher match") || has("no ciphers available") {
            return "no usable cipher (\(reasons[0])); check --ciphers and --tls-version"
        }
        if has("unsupported protocol") || has("protocol version") {
            return "TLS handshake failed: no TLS version both sides accept (\(reasons[0])); check --tls-version"
        }
        if has("ca md too weak") || has("ee key too small") {
            return "the certificate is too weak for this OpenSSL's security level (\(reasons[0]))"
        }
        if has("handshake failure") {
            return "TLS handshake failed (\(reasons[0])): the broker may want a client certificate (--cert, --key), TLS-PSK (--psk), or other --tls-version/--ciphers"
        }
        if let first = reasons.first {
            return "TLS handshake failed: \(first)"
        }
        return "TLS handshake failed"
    }

    /// An X509_V_ERR_* code in words, with what to do.
    static func describeVerifyResult(_ code: Int32) -> String {
        let text = String(cString: X509_verify_cert_error_string(Int(code)))
        switch code {
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
            return "\(text): the broker's certificate is signed by nobody else (trust it with --cafile FILE holding that certificate)"
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
             X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            return "\(text): the broker's certificate comes from an unknown CA (give that CA with --cafile or --capath)"
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return "\(text) (the broker's certificate must be renewed; or this machine's clock is wrong)"
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return "\(text) (check this machine's clock)"
        case X509_V_ERR_HOSTNAME_MISMATCH:
            return "hostname mismatch (connect with a name the certificate lists, or use --insecure to skip this check)"
        default:
            return text
        }
    }
}
