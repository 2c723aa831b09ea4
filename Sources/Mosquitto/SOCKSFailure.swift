import CMosquitto

/// What libmosquitto's SOCKS5 client reports while the proxy sets up the
/// connection (lib/socks_mosq.c), as one line a person can act on.
enum SOCKSFailure {
    /// nil when `rc` is no proxy failure (the caller then reports it as usual).
    static func error(_ rc: Int32, proxy: SOCKSProxy, broker: String) -> MQTTError? {
        let via = "the SOCKS proxy \(proxy.endpoint)"
        switch rc {
        case MOSQ_ERR_AUTH.rawValue:
            let what = proxy.username == nil
                ? "wants a username and password (socks5h://user:password@host:port) or does not allow the connection"
                : "refused the username or password, or does not allow the connection"
            return MQTTError(.cannotConnect, "\(via) \(what) to \(broker)", libraryCode: rc)
        case MOSQ_ERR_NO_CONN.rawValue:
            return MQTTError(.cannotConnect, "\(via) cannot reach \(broker) (refused or unreachable from the proxy; check -h and -p)", libraryCode: rc)
        case MOSQ_ERR_PROXY.rawValue, MOSQ_ERR_INVAL.rawValue, MOSQ_ERR_PROTOCOL.rawValue:
            return MQTTError(.cannotConnect, "\(via) failed to connect to \(broker) (is it a SOCKS5 proxy?)", libraryCode: rc)
        case MOSQ_ERR_CONN_LOST.rawValue:
            return MQTTError(.cannotConnect, "the connection through \(via) to \(broker) was closed before CONNACK (by the proxy, or by a server behind it that is not an MQTT broker)", libraryCode: rc)
        default:
            return nil
        }
    }
}
