import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

/// TLS settings, spelled as mosquitto's clients spell them. Included in
/// `ConnectionOptions`, so every subcommand has them. Any of them switches TLS
/// on (as does `-L mqtts://...`); the port then defaults to 8883.
struct TLSOptionGroup: ParsableArguments {
    @Option(
        name: .customLong("cafile"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "TLS: file of PEM CA certificates to trust for the broker's certificate. Turns TLS on.", valueName: "file"))
    var caFile: String?

    @Option(
        name: .customLong("capath"),
        parsing: .unconditional,
        help: ArgumentHelp("TLS: directory of hashed PEM CA certificates (c_rehash). Turns TLS on.", valueName: "dir"))
    var caPath: String?

    @Flag(
        name: .customLong("tls-use-os-certs"),
        help: "TLS: trust the system's CA certificates (default for mqtts:// without --cafile/--capath). Turns TLS on.")
    var useOSCertificates = false

    @Option(
        name: .customLong("cert"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "TLS: client certificate (PEM) for brokers that require one; needs --key.", valueName: "file"))
    var certFile: String?

    @Option(
        name: .customLong("key"),
        parsing: .unconditional,
        help: ArgumentHelp("TLS: private key (PEM, not encrypted) of --cert.", valueName: "file"))
    var keyFile: String?

    @Flag(
        name: .customLong("insecure"),
        help:
            "TLS: do not check that the broker's certificate names the host connected to (a warning is printed). The certificate chain is still verified."
    )
    var insecure = false

    @Option(
        name: .customLong("tls-version"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "TLS: lowest TLS version allowed: tlsv1.3, tlsv1.2 (default) or tlsv1.1.", valueName: "version"),
        transform: TLSVersion.value)
    var version: String?

    @Option(
        name: .customLong("ciphers"),
        parsing: .unconditional,
        help: ArgumentHelp("TLS: OpenSSL cipher list for TLS 1.2 and below (see ciphers(1)).", valueName: "list"))
    var ciphers: String?

    @Option(
        name: .customLong("tls-alpn"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "TLS: ALPN protocol to offer (e.g. mqtt, for brokers sharing port 443).", valueName: "protocol"))
    var alpn: String?

    @Option(
        name: .customLong("psk"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "TLS-PSK: pre-shared key in hexadecimal, instead of certificates; needs --psk-identity.", valueName: "hex"))
    var psk: String?

    @Option(
        name: .customLong("psk-identity"),
        parsing: .unconditional, help: ArgumentHelp("TLS-PSK: identity sent with --psk.", valueName: "identity"))
    var pskIdentity: String?

    /// The TLS section of `mqttctl --help` (and so of the man page).
    static let helpText = """
        TLS
        -L mqtts://... or any TLS option turns TLS on (libmosquitto's TLS over OpenSSL); the \
        port then defaults to 8883. The broker's certificate must chain to --cafile/--capath \
        (or to the system's CAs with --tls-use-os-certs or mqtts:// alone) and name the host \
        connected to (--insecure skips only that check). Failures exit with status 6 and say \
        what happened: unknown CA, self-signed, expired, hostname mismatch, client certificate \
        required or rejected, PSK mismatch, handshake failure, a TLS client on a plain port. A \
        plain client on a TLS port only sees the connection closed: status 3, with a hint. The \
        handshake counts against --connect-timeout (status 27).

        """

    /// Whether any TLS option was given.
    var isEnabled: Bool {
        caFile != nil || caPath != nil || useOSCertificates || certFile != nil || keyFile != nil || insecure
            || version != nil || ciphers != nil || alpn != nil || psk != nil || pskIdentity != nil
    }

    func validate() throws {
        if let psk {
            if caFile != nil || caPath != nil || useOSCertificates || certFile != nil || keyFile != nil {
                throw ValidationError(
                    "--psk cannot be combined with certificates (--cafile, --capath, --tls-use-os-certs, --cert, --key)"
                )
            }
            if insecure {
                throw ValidationError("--insecure does not apply to --psk (there is no certificate to check)")
            }
            guard pskIdentity != nil else {
                throw ValidationError("--psk needs --psk-identity")
            }
            if let problem = PreSharedKey.problem(psk) { throw ValidationError(problem) }
        } else if pskIdentity != nil {
            throw ValidationError("--psk-identity needs --psk")
        }
        if certFile != nil && keyFile == nil {
            throw ValidationError("--cert needs --key (the client certificate's private key)")
        }
        if keyFile != nil && certFile == nil {
            throw ValidationError("--key needs --cert")
        }
        if let alpn, alpn.isEmpty || alpn.utf8.count > 254 {
            throw ValidationError("invalid --tls-alpn: use a protocol name of 1 to 254 bytes")
        }
        if let caFile { try Self.checkReadableFile(caFile, option: "--cafile") }
        if let certFile { try Self.checkReadableFile(certFile, option: "--cert") }
        if let keyFile { try Self.checkReadableFile(keyFile, option: "--key") }
        if let caPath {
            var st = stat()
            guard stat(caPath, &st) == 0 else {
                throw ValidationError("cannot use --capath '\(caPath)': \(String(cString: strerror(errno)))")
            }
            if (st.st_mode & S_IFMT) != S_IFDIR {
                throw ValidationError("--capath '\(caPath)' is not a directory (use --cafile for a file)")
            }
        }
    }

    /// The library's TLS settings: nil when TLS is off. `urlTLS` is true for `-L mqtts://`.
    func makeTLSOptions(urlTLS: Bool) -> TLSOptions? {
        guard urlTLS || isEnabled else { return nil }
        var tls = TLSOptions()
        tls.caFile = caFile
        tls.caPath = caPath
        tls.useOSCertificates = useOSCertificates
        tls.certFile = certFile
        tls.keyFile = keyFile
        tls.insecure = insecure
        tls.version = version
        tls.ciphers = ciphers
        tls.alpn = alpn
        tls.psk = psk
        tls.pskIdentity = pskIdentity
        return tls
    }

    /// Fails with a message naming the option unless `path` can be opened for reading as a file.
    static func checkReadableFile(_ path: String, option: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ValidationError("cannot read \(option) '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            throw ValidationError("cannot read \(option) '\(path)': it is a directory")
        }
    }
}
