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
    /// With `transport` `.tcp`, libmosquitto's own TLS (mqtts); over WebSocket, wss.
    public var tls: TLSOptions?
    /// How MQTT's bytes travel: TCP (the default) or WebSocket.
    public var transport: Transport = .tcp

    public init() {}

    /// "host:port" (or the unix socket's path) for messages; a URL
    /// ("ws://host:port/path") over WebSocket.
    public var endpoint: String {
        if let unixSocket { return unixSocket }
        switch transport {
        case .tcp: return hostAndPort
        case .webSocket(let ws): return "\(tls == nil ? "ws" : "wss")://\(hostAndPort)\(ws.path)"
        }
    }

    /// "host:port" ("[::1]:port" for an IPv6 address).
    public var hostAndPort: String {
        host.includes(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The WebSocket path (nil over TCP).
    public var webSocketPath: String? {
        if case .webSocket(let ws) = transport { return ws.path }
        return nil
    }

    /// The transport's name for reports: "tcp", "tls", "websocket" or "websocket-tls".
    public var transportName: String {
        switch transport {
        case .tcp: return tls == nil ? "tcp" : "tls"
        case .webSocket: return tls == nil ? "websocket" : "websocket-tls"
        }
    }
}

/// How MQTT's bytes reach the broker. libmosquitto 2.0 speaks only TCP (and TLS
/// over it); `.webSocket` is carried by `WebSocketBridge` around it. A
/// libmosquitto with `MOSQ_OPT_TRANSPORT` (2.1) can take `.webSocket` itself:
/// only `MQTTClient` changes, not its callers.
public enum Transport: Sendable, Equatable {
    case tcp
    /// MQTT over WebSocket (RFC 6455; MQTT 3.1.1 and 5.0 section 6); TLS (wss)
    /// when `ConnectOptions.tls` is set.
    case webSocket(WebSocketOptions)

    public var isWebSocket: Bool {
        if case .webSocket = self { return true }
        return false
    }
}

/// The HTTP side of MQTT over WebSocket.
public struct WebSocketOptions: Sendable, Equatable {
    /// The request path of the upgrade ("/mqtt", the common default).
    public var path: String = "/mqtt"
    /// Extra request headers, each "Name: value". A Host header replaces the
    /// default Host (host:port).
    public var headers: [String] = []
    /// The subprotocol asked for, which the server must choose ("mqtt", as
    /// MQTT 3.1.1 and 5.0 require).
    public var subprotocol: String = "mqtt"

    public init(path: String = "/mqtt", headers: [String] = []) {
        self.path = path
        self.headers = headers
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

    public init(
        topic: String, payload: [UInt8] = [], qos: Int = 0, retain: Bool = false,
        properties: MQTTProperties = MQTTProperties()
    ) {
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
        host.includes(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
