#if canImport(Glibc)
import Glibc
#endif
import CMosquitto

/// Turns what libmosquitto and OpenSSL leave behind after a failed TLS
/// connection (the certificate verification result, the "host name verification
/// failed" log line, OpenSSL's error queue as logged) into a `TLSFailure` that
/// says what happened. libmosquitto itself only says "A TLS error occurred".
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
        verifyResult == nil && !hostnameMismatch && openSSLReasons.isEmpty && setupErrors.isEmpty
            && handshakeErrno == nil
    }

    mutating func reset() {
        self = TLSDiagnosis()
    }

    /// Records one of libmosquitto's error log lines.
    mutating func record(logLine line: String) {
        if line.includes("host name verification failed") {
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

    /// What the recorded evidence shows, most telling first.
    func failure(host: String, options tls: TLSOptions?) -> TLSFailure {
        if hostnameMismatch { return .hostnameMismatch(host: host) }
        if let setup = setupErrors.first { return .setup(problem: setup, openSSL: openSSLReasons.first) }
        if let verify = verifyResult { return Self.verifyFailure(Int32(verify)) }
        let reasons = openSSLReasons
        func has(_ text: String) -> Bool { reasons.contains { $0.includes(text) } }
        let first = reasons.first ?? ""
        if has("wrong version number") || has("packet length too long") || has("record layer failure")
            || has("http request")
        {
            return .notTLS(openSSL: first)
        }
        if has("unexpected eof") || handshakeErrno != nil {
            return .closedDuringHandshake(reason: handshakeErrno.map { String(cString: strerror($0)).lowercasedFirst })
        }
        if has("certificate required") || has("peer did not return a certificate") {
            return .clientCertificateRequired(openSSL: first)
        }
        if has("alert unknown ca") { return .clientCertificateUntrusted(openSSL: first) }
        if has("alert bad certificate") || has("alert certificate unknown") || has("alert certificate expired")
            || has("alert certificate revoked") || has("alert unsupported certificate")
        {
            return .clientCertificateRejected(openSSL: first)
        }
        if tls?.psk != nil
            && (has("illegal parameter") || has("decrypt") || has("bad record mac") || has("handshake failure"))
        {
            return .pskRejected(openSSL: first)
        }
        if has("no cipher match") || has("no ciphers available") { return .noCipher(openSSL: first) }
        if has("unsupported protocol") || has("protocol version") { return .noCommonVersion(openSSL: first) }
        if has("ca md too weak") || has("ee key too small") { return .weakCertificate(openSSL: first) }
        if has("handshake failure") { return .handshakeFailure(openSSL: first) }
        return .handshake(openSSL: reasons.first)
    }

    /// An X509_V_ERR_* code as a certificate verification failure.
    static func verifyFailure(_ code: Int32) -> TLSFailure {
        let text = String(cString: X509_verify_cert_error_string(Int(code)))
        let problem: TLSFailure.CertificateProblem =
            switch code {
            case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: .selfSigned
            case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
                .unknownCA
            case X509_V_ERR_CERT_HAS_EXPIRED: .expired
            case X509_V_ERR_CERT_NOT_YET_VALID: .notYetValid
            case X509_V_ERR_HOSTNAME_MISMATCH: .hostnameMismatch
            default: .other
            }
        return .certificateVerify(problem, code: code, text: text)
    }
}
