import CMosquitto

/// What libmosquitto's SOCKS5 client reports while the proxy sets up the
/// connection (lib/socks_mosq.c), as one line a person can act on.
enum SOCKSFailure {
    /// nil when `rc` is no proxy failure (the caller then reports it as usual).
    static func error(_ rc: Int32, proxy: SOCKSProxy, broker: String) -> MQTTError? {
        let via = "the SOCKS proxy \(proxy.endpoint)"
        let (problem, text): (MQTTError.SOCKSProblem, String)
        switch LibraryCode(rawValue: rc) {
        case .authentication:
            let what =
                proxy.username == nil
                ? "wants a username and password (socks5h://user:password@host:port) or does not allow the connection"
                : "refused the username or password, or does not allow the connection"
            (problem, text) = (
                .authentication(proxy: proxy.endpoint, credentialsSent: proxy.username != nil),
                "\(via) \(what) to \(broker)"
            )
        case .noConnection:
            (problem, text) = (
                .brokerUnreachable(proxy: proxy.endpoint),
                "\(via) cannot reach \(broker) (refused or unreachable from the proxy)"
            )
        case .proxy, .invalidArgument, .protocolError:
            (problem, text) = (
                .notSOCKS5(proxy: proxy.endpoint), "\(via) failed to connect to \(broker) (is it a SOCKS5 proxy?)"
            )
        case .connectionLost:
            (problem, text) = (
                .closedBeforeConnAck(proxy: proxy.endpoint),
                "the connection through \(via) to \(broker) was closed before CONNACK (by the proxy, or by a server behind it that is not an MQTT broker)"
            )
        default:
            return nil
        }
        return MQTTError(
            .cannotConnect, text, libraryCode: LibraryCode(rawValue: rc), cause: .socks(problem), endpoint: broker)
    }
}
