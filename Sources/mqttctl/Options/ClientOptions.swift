import ArgumentParser
import Mosquitto

/// The rest of mosquitto's connection options: other transports (`--unix`,
/// `--proxy`), socket settings (`-A`, `--nodelay`), `-S`, and the OpenSSL
/// engine options. Declared in `TransportOptions`, so every subcommand has them; `applyClientOptions` puts them into the library's settings.
extension TransportOptions {
    /// These options' own combinations (part of `validate()`).
    func validateClientOptions() throws {
        if unixSocket != nil && proxy != nil {
            throw ValidationError("--unix and --proxy cannot be used together (a proxy connects over TCP)")
        }
        if unixSocket != nil && bindAddress != nil {
            throw ValidationError("--unix and -A cannot be used together (-A binds a TCP connection)")
        }
        if srv && (unixSocket != nil || proxy != nil) {
            throw ValidationError("-S cannot be combined with --unix or --proxy")
        }
        if engineKeyPasswordSHA1 != nil && (tlsEngine == nil || keyForm == nil) {
            throw ValidationError("--tls-engine-kpass-sha1 needs --tls-engine and --keyform")
        }
        if keyForm?.engine == true && tlsEngine == nil {
            throw ValidationError("--keyform engine needs --tls-engine (the engine that holds the key)")
        }
    }

    /// Puts these settings into `options`, checking what they cannot be combined with.
    func applyClientOptions(
        to options: inout ConnectOptions, connection: ConnectionOptions
    ) throws(CommandFailure) {
        if let unixSocket {
            if connection.host != nil || connection.port != nil || url != nil {
                throw .usage("--unix replaces -h, -p and -L: give the broker one way")
            }
            options.unixSocket = unixSocket.path
        }
        if let proxy {
            options.socksProxy = proxy.proxy
            if options.protocolVersion == .v5 && (options.sessionExpiry != nil || !options.connectProperties.isEmpty) {
                throw .usage(
                    "--proxy with MQTT 5 CONNECT properties (-x, -c, -D connect ...): libmosquitto 2.0.11 does not send them through a SOCKS proxy, so the session would not be what was asked"
                )
            }
        }
        options.bindAddress = bindAddress?.address
        if noDelay { options.tcpNoDelay = true }
        options.srvLookup = srv
        if keyForm != nil && keyFile == nil {
            throw .usage("--keyform needs --key (and --cert)")
        }
        if tlsEngine != nil || keyForm != nil {
            guard options.tls != nil else {
                throw .usage("--tls-engine and --keyform need TLS (--cafile, --capath, --cert or -L mqtts://)")
            }
            options.tls?.engine = tlsEngine
            options.tls?.keyForm = keyForm.map { $0.engine ? "engine" : "pem" }
            options.tls?.engineKeyPasswordSHA1 = engineKeyPasswordSHA1?.hex
        }
    }
}
