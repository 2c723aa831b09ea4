/// Everything needed to open one MQTT connection. Plain values; validation of
/// user input happens in the command, libmosquitto re-checks what it cares about.
public struct ConnectOptions: Sendable {
    public var host: String = "localhost"
    public var port: Int = 1883
    /// nil: let the broker assign one (MQTT 3.1.1 and 5) or let libmosquitto generate one (3.1).
    public var clientID: String?
    /// Seconds; 0 turns keep-alive off. libmosquitto accepts 0 or 5...65535.
    public var keepAlive: Int = 60
    public var protocolVersion: ProtocolVersion = .v311
    /// MQTT 3.x clean session / MQTT 5 clean start.
    public var cleanSession: Bool = true
    /// MQTT 5 Session Expiry Interval sent in CONNECT (nil: not sent, i.e. 0).
    public var sessionExpiry: UInt32?
    public var username: String?
    public var password: String?
    public var will: Will?
    /// Further MQTT 5 CONNECT properties (from `-D connect ...`).
    public var connectProperties = MQTTProperties()
    /// Seconds allowed from the start of the TCP connect to CONNACK.
    public var connectTimeout: Double = 10
    /// Messages with QoS > 0 the library may have in flight (MQTT 5: capped by the broker's Receive Maximum).
    public var maxInflight: Int = 20
    /// MQTT 5 Receive Maximum sent in CONNECT (nil: not sent, i.e. 65535).
    public var receiveMaximum: Int?
    public var bindAddress: String?
    public var tcpNoDelay: Bool = false
    /// Connect over this unix domain socket instead of TCP (libmosquitto: host = path, port 0).
    public var unixSocket: String?
    /// Connect through this SOCKS5 proxy (libmosquitto's own SOCKS5 client).
    public var socksProxy: SOCKSProxy?
    /// Find the broker by a DNS SRV lookup of `host` (`_mqtt._tcp.HOST`), if libmosquitto has it.
    public var srvLookup: Bool = false
    /// Acknowledge every read at once (TCP_QUICKACK): for measuring connections,
    /// whose timings must not include a delayed ACK (see `MosquittoHandle.acknowledgeNow`).
    public var quickAck: Bool = false
    public var tls: TLSOptions?

    public init() {}

    /// "host:port" (or the unix socket's path) for messages.
    public var endpoint: String {
        if let unixSocket { return unixSocket }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A Last Will and Testament.
public struct Will: Sendable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: Int
    public var retain: Bool
    /// MQTT 5 will properties (will-delay-interval, message-expiry-interval...).
    public var properties: MQTTProperties

    public init(topic: String, payload: [UInt8] = [], qos: Int = 0, retain: Bool = false, properties: MQTTProperties = MQTTProperties()) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }

    /// MQTT 5 Will Delay Interval in seconds, 0 when absent.
    public var delayInterval: UInt32 {
        if case .uint32(let v)? = properties.first(MQTTProperties.willDelayInterval) { return v }
        return 0
    }
}

/// TLS settings, handed to libmosquitto's own TLS support.
public struct TLSOptions: Sendable {
    public var caFile: String?
    public var caPath: String?
    public var useOSCertificates: Bool = false
    public var certFile: String?
    public var keyFile: String?
    /// Skip the check that the certificate names the host we connect to.
    public var insecure: Bool = false
    public var version: String?
    public var ciphers: String?
    public var alpn: String?
    /// TLS-PSK: hex key and identity (instead of certificates).
    public var psk: String?
    public var pskIdentity: String?
    /// OpenSSL engine (`--tls-engine`), the key's form (`--keyform pem|engine`) and
    /// the SHA-1 of the engine key's password in hex (`--tls-engine-kpass-sha1`).
    public var engine: String?
    public var keyForm: String?
    public var engineKeyPasswordSHA1: String?

    public init() {}
}

/// A SOCKS5 proxy: `socks5h://[user[:password]@]host[:port]` (the proxy resolves names).
public struct SOCKSProxy: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?

    public init(host: String, port: Int = 1080, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    /// "host:port" for messages.
    public var endpoint: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
