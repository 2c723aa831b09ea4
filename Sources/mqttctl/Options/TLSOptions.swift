import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

/// TLS settings, spelled as mosquitto's clients spell them: declared in
/// `TransportOptions`, so every subcommand has them. Any of them switches TLS
/// on (as does `-L mqtts://...`); the port then defaults to 8883.
extension TransportOptions {
    /// The TLS section of `mqttctl --help` (and so of the man page).
    static let tlsHelpText = """
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
    var tlsEnabled: Bool {
        caFile != nil || caPath != nil || useOSCertificates || certFile != nil || keyFile != nil || insecure
            || tlsVersion != nil || ciphers != nil || alpn != nil || psk != nil || pskIdentity != nil
    }

    /// The TLS options' own combinations (part of `validate()`).
    func validateTLS() throws {
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
        guard urlTLS || tlsEnabled else { return nil }
        var tls = TLSOptions()
        tls.caFile = caFile
        tls.caPath = caPath
        tls.useOSCertificates = useOSCertificates
        tls.certFile = certFile
        tls.keyFile = keyFile
        tls.insecure = insecure
        tls.version = tlsVersion
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
