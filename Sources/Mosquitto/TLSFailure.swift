/// What a failed TLS connection shows, as `TLSDiagnosis` and the client find it.
/// `openSSL` values are OpenSSL's reason ("unexpected eof while reading").
public enum TLSFailure: Sendable, Equatable {
    /// The broker's certificate is not valid for the host name connected to.
    case hostnameMismatch(host: String)
    /// libmosquitto could not set TLS up (a file it cannot load...).
    case setup(problem: String, openSSL: String?)
    /// The broker's certificate failed verification (`code`: X509_V_ERR_*).
    case certificateVerify(CertificateProblem, code: Int32, text: String)
    /// The server answered the handshake with something that is not TLS.
    case notTLS(openSSL: String)
    /// The connection ended during the handshake (`reason`: the errno in words, when it broke).
    case closedDuringHandshake(reason: String?)
    case clientCertificateRequired(openSSL: String)
    /// The broker does not trust the CA of the client certificate.
    case clientCertificateUntrusted(openSSL: String)
    case clientCertificateRejected(openSSL: String)
    /// TLS-PSK: the key or identity did not match the broker's.
    case pskRejected(openSSL: String)
    case noCipher(openSSL: String)
    /// No TLS version both sides accept.
    case noCommonVersion(openSSL: String)
    /// The certificate is too weak for OpenSSL's security level.
    case weakCertificate(openSSL: String)
    /// A handshake failure alert with nothing more telling.
    case handshakeFailure(openSSL: String)
    /// The handshake failed otherwise (nil: OpenSSL gave no reason).
    case handshake(openSSL: String?)
    /// The broker closed after the handshake, before CONNACK (TLS 1.3 checks the
    /// client certificate then); `clientCertificateSent`: we gave one.
    case closedAfterHandshake(clientCertificateSent: Bool)
    /// A pre-shared key was offered, but the broker presented a certificate.
    case pskNotUsed
    /// The OpenSSL engine `name` cannot be used (`problem` is libmosquitto's word).
    case engine(name: String, problem: String)
    /// Only libmosquitto's last log line (or its return code) is known.
    case other(String)

    /// The class of a certificate verification failure.
    public enum CertificateProblem: Sendable, Equatable {
        case selfSigned, unknownCA, expired, notYetValid, hostnameMismatch, other
    }

    /// A neutral sentence (after "TLS error with host:port: ").
    public var summary: String {
        switch self {
        case .hostnameMismatch(let host):
            return "certificate verify failed: hostname mismatch: the broker's certificate is not valid for '\(host)'"
        case .setup(let problem, let openSSL):
            return "cannot set up TLS: \(problem)\(openSSL.map { " (\($0))" } ?? "")"
        case .certificateVerify(let problem, _, let text):
            let detail =
                switch problem {
                case .selfSigned: "\(text): the broker's certificate is signed by nobody else"
                case .unknownCA: "\(text): the broker's certificate comes from an unknown CA"
                case .expired: "\(text) (the broker's certificate must be renewed; or this machine's clock is wrong)"
                case .notYetValid: "\(text) (check this machine's clock)"
                case .hostnameMismatch: "hostname mismatch"
                case .other: text
                }
            return "certificate verify failed: " + detail
        case .notTLS(let reason):
            return "TLS handshake failed: the server does not speak TLS (\(reason))"
        case .closedDuringHandshake(let reason):
            let what = reason.map { "the connection broke (\($0))" } ?? "the server closed the connection"
            return "TLS handshake failed: \(what) during the handshake; is it a TLS port?"
        case .clientCertificateRequired(let reason):
            return "the broker requires a client certificate (\(reason))"
        case .clientCertificateUntrusted(let reason):
            return
                "the broker does not trust the client certificate (\(reason)); use a certificate signed by a CA the broker knows"
        case .clientCertificateRejected(let reason):
            return "the broker rejected the client certificate (\(reason))"
        case .pskRejected(let reason):
            return "TLS-PSK handshake failed (\(reason)); check the key and identity against the broker's psk_file"
        case .noCipher(let reason):
            return "no usable cipher (\(reason))"
        case .noCommonVersion(let reason):
            return "TLS handshake failed: no TLS version both sides accept (\(reason))"
        case .weakCertificate(let reason):
            return "the certificate is too weak for this OpenSSL's security level (\(reason))"
        case .handshakeFailure(let reason):
            return "TLS handshake failed (\(reason))"
        case .handshake(let reason):
            return reason.map { "TLS handshake failed: \($0)" } ?? "TLS handshake failed"
        case .closedAfterHandshake(let sent):
            let why = sent ? "it probably rejected the client certificate" : "it probably requires a client certificate"
            return "the broker closed the connection after the TLS handshake, before CONNACK: \(why)"
        case .pskNotUsed:
            return
                "the broker did not use the pre-shared key and presented a certificate instead; it is not a TLS-PSK listener"
        case .engine(let name, let problem):
            return "the OpenSSL engine '\(name)' cannot be used: \(problem)"
        case .other(let text):
            return text
        }
    }
}
