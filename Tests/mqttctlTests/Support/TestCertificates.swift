import Foundation
import Synchronization

/// Certificates for the TLS tests, made fresh on each run with the `openssl`
/// command in a temporary directory: a CA, a server certificate for 127.0.0.1 and
/// localhost, a client certificate, and the bad cases (expired, self-signed,
/// wrong host name, a client certificate from an unknown CA). EC keys keep it fast.
final class TestCertificates: Sendable {
    let directory: URL

    private static let shared = Mutex<Result<TestCertificates, BrokerError>?>(nil)

    /// The run's certificates (generated on first use).
    static func get() throws -> TestCertificates {
        try shared.withLock { cached in
            if let cached { return try cached.get() }
            let result: Result<TestCertificates, BrokerError>
            do {
                result = .success(try TestCertificates())
            } catch let error as BrokerError {
                result = .failure(error)
            } catch {
                result = .failure(BrokerError("\(error)"))
            }
            cached = result
            return try result.get()
        }
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    var caFile: String { path("ca.crt") }
    var serverCert: String { path("server.crt") }
    var serverKey: String { path("server.key") }
    var clientCert: String { path("client.crt") }
    var clientKey: String { path("client.key") }
    var expiredCert: String { path("expired.crt") }
    var selfSignedCert: String { path("selfsigned.crt") }
    var selfSignedKey: String { path("selfsigned.key") }
    var wrongHostCert: String { path("wronghost.crt") }
    /// A client certificate signed by a CA the broker does not know.
    var rogueClientCert: String { path("rogue-client.crt") }
    var rogueClientKey: String { path("rogue-client.key") }

    private init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mqttctl-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        // The CA.
        try openssl(
            ["req", "-x509"] + ec + [
                "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
                "-subj", "/CN=mqttctl test CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        try write(
            "server.ext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        try write(
            "wronghost.ext",
            "subjectAltName=DNS:wrong.example\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        try write("client.ext", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")

        // The server: one key, a good certificate, one for another host, an expired one.
        try openssl(["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"])
        try sign("server.csr", "server.crt", ext: "server.ext")
        try sign("server.csr", "wronghost.crt", ext: "wronghost.ext")
        try signExpired("server.csr", "expired.crt", ext: "server.ext")

        // A self-signed server certificate.
        try openssl(
            ["req", "-x509"] + ec + [
                "-keyout", "selfsigned.key", "-out", "selfsigned.crt", "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ])

        // Clients: one from our CA, one self-signed (unknown to the broker).
        try openssl(["req"] + ec + ["-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=mqttctl-client"])
        try sign("client.csr", "client.crt", ext: "client.ext")
        try openssl(
            ["req", "-x509"] + ec + [
                "-keyout", "rogue-client.key", "-out", "rogue-client.crt", "-days", "2",
                "-subj", "/CN=rogue-client",
            ])

        // mosquitto drops root privileges to its own user: it must be able to read these.
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            chmod(path(name), 0o644)
        }
        chmod(directory.path, 0o755)
    }

    private func sign(_ csr: String, _ out: String, ext: String) throws {
        try openssl([
            "x509", "-req", "-in", csr, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", out, "-days", "2", "-extfile", ext,
        ])
    }

    /// `openssl x509` cannot back-date in OpenSSL 3.0; `openssl ca` can (-startdate/-enddate).
    private func signExpired(_ csr: String, _ out: String, ext: String) throws {
        let ca = directory.appendingPathComponent("expired-ca")
        try FileManager.default.createDirectory(
            at: ca.appendingPathComponent("newcerts"), withIntermediateDirectories: true)
        try "".write(to: ca.appendingPathComponent("index.txt"), atomically: true, encoding: .utf8)
        try "1000\n".write(to: ca.appendingPathComponent("serial"), atomically: true, encoding: .utf8)
        try write(
            "expired-ca/ca.cnf",
            """
            [ ca ]
            default_ca = testca
            [ testca ]
            database = \(ca.path)/index.txt
            new_certs_dir = \(ca.path)/newcerts
            serial = \(ca.path)/serial
            certificate = \(path("ca.crt"))
            private_key = \(path("ca.key"))
            default_md = sha256
            policy = policy_any
            unique_subject = no
            [ policy_any ]
            commonName = supplied

            """)
        try openssl([
            "ca", "-batch", "-config", "expired-ca/ca.cnf", "-notext",
            "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
            "-in", csr, "-out", out, "-extfile", ext,
        ])
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    private func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let errors = directory.appendingPathComponent("openssl.err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errors)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw BrokerError("openssl \(arguments.joined(separator: " ")) failed: \(text)")
        }
    }
}

/// The brokers of the TLS and credentials tests (shared by the run, started on first use).
enum SecureBrokers {
    static func tlsConfig(cert: String, key: String, _ certs: TestCertificates, extra: String = "") -> String {
        """
        cafile \(certs.caFile)
        certfile \(cert)
        keyfile \(key)
        \(extra)
        """
    }

    /// TLS with the good server certificate.
    static func tls() throws -> TestBroker {
        let c = try TestCertificates.get()
        return try TestBroker.named(
            "tls", config: "", listenerConfig: tlsConfig(cert: c.serverCert, key: c.serverKey, c))
    }

    static func expired() throws -> TestBroker {
        let c = try TestCertificates.get()
        return try TestBroker.named(
            "tls-expired", config: "", listenerConfig: tlsConfig(cert: c.expiredCert, key: c.serverKey, c))
    }

    static func selfSigned() throws -> TestBroker {
        let c = try TestCertificates.get()
        return try TestBroker.named(
            "tls-selfsigned", config: "", listenerConfig: tlsConfig(cert: c.selfSignedCert, key: c.selfSignedKey, c))
    }

    static func wrongHost() throws -> TestBroker {
        let c = try TestCertificates.get()
        return try TestBroker.named(
            "tls-wronghost", config: "", listenerConfig: tlsConfig(cert: c.wrongHostCert, key: c.serverKey, c))
    }

    /// TLS that requires a client certificate signed by the test CA.
    static func clientCertificate() throws -> TestBroker {
        let c = try TestCertificates.get()
        return try TestBroker.named(
            "tls-clientcert", config: "",
            listenerConfig: tlsConfig(cert: c.serverCert, key: c.serverKey, c, extra: "require_certificate true"))
    }

    static let pskIdentity = "mqttctl-test"
    static let pskKey = "0123456789abcdef0123456789abcdef"

    /// TLS-PSK only.
    static func psk() throws -> TestBroker {
        let c = try TestCertificates.get()
        let file = c.directory.appendingPathComponent("psk")
        if !FileManager.default.fileExists(atPath: file.path) {
            try "\(pskIdentity):\(pskKey)\n".write(to: file, atomically: true, encoding: .utf8)
            chmod(file.path, 0o644)
        }
        return try TestBroker.named("tls-psk", config: "", listenerConfig: "psk_hint mqttctl\npsk_file \(file.path)")
    }

    static let username = "alice"
    /// With a space and shell-special characters, to prove it is passed as is.
    static let password = "s3cret pass!$x"

    /// Plain MQTT with a password file and no anonymous access.
    static func passwords() throws -> TestBroker {
        try TestBroker.named(
            "passwords", config: "allow_anonymous false\n", listenerConfig: "password_file \(try passwordFile())")
    }

    /// TLS plus a password file: what a real 8883 listener looks like.
    static func tlsPasswords() throws -> TestBroker {
        let c = try TestCertificates.get()
        return try TestBroker.named(
            "tls-passwords", config: "allow_anonymous false\n",
            listenerConfig: tlsConfig(
                cert: c.serverCert, key: c.serverKey, c, extra: "password_file \(try passwordFile())"))
    }

    private static let passwordFileLock = Mutex<String?>(nil)

    /// A mosquitto password file made by mosquitto_passwd.
    static func passwordFile() throws -> String {
        try passwordFileLock.withLock { cached in
            if let cached { return cached }
            let c = try TestCertificates.get()
            let file = c.path("passwords")
            _ = FileManager.default.createFile(atPath: file, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_passwd")
            process.arguments = ["-b", file, username, password]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw BrokerError("mosquitto_passwd failed") }
            chmod(file, 0o644)
            cached = file
            return file
        }
    }
}

/// A TCP port that accepts connections (the kernel completes them) but never
/// says anything: a TLS handshake or CONNECT to it gets no answer.
final class SilentListener: Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BrokerError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            throw BrokerError("bind/listen failed")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}

/// A fake broker that answers every CONNECT with fixed bytes (a refusing CONNACK
/// that mosquitto itself never sends, such as return code 4 or reason 0x86).
final class FakeBroker: @unchecked Sendable {
    let port: Int
    private let listener: SilentListener
    private let reply: [UInt8]
    private let thread: Thread

    init(reply: [UInt8]) throws {
        let listener = try SilentListener()
        self.listener = listener
        port = listener.port
        self.reply = reply
        let bytes = reply
        // The thread holds the listener, so that its descriptor stays open (and is
        // not reused by another test's socket) until the thread has seen the
        // shutdown: it may be serving a client when the test ends.
        thread = Thread { [listener] in
            while true {
                let client = accept(listener.fileDescriptor, nil, nil)
                if client < 0 { return }
                var buffer = [UInt8](repeating: 0, count: 4096)
                _ = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
                _ = bytes.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
                usleep(200_000)
                close(client)
            }
        }
        thread.start()
    }

    deinit {
        // Shutting the listening socket down ends accept() and the thread, which
        // then lets go of the listener, and the descriptor is closed.
        shutdown(listener.fileDescriptor, Int32(SHUT_RDWR))
    }
}

extension SilentListener {
    var fileDescriptor: Int32 { fd }
}
