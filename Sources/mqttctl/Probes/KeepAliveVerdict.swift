/// The keep-alive verdicts and the one rule that picks them.
///
/// MQTT ([MQTT-3.1.2-24] in 3.1.1, [MQTT-3.1.2-22] in 5): a server that hears
/// nothing from a client for one and a half times the keep-alive MUST close
/// the connection. A client may stay silent for K itself, so a close before K
/// is wrong. The limit is K × backoff × 2 (backoff 0.75 gives the spec's
/// 1.5 × K) plus a grace for brokers that count in whole seconds.
enum KeepAliveVerdict: String {
    /// Dropped between K and the limit (or, for K = 0, not dropped while watched).
    case pass
    /// Dropped before K (or at all, when keep-alive was off).
    case early
    /// Dropped after the limit.
    case late
    /// Not dropped although we watched past the limit.
    case never
    /// Not dropped, but --max-wait ended before the limit: nothing can be concluded.
    case inconclusive
    /// The broker refused the connection with this keep-alive (a CONNACK refusal).
    case refused

    var passed: Bool { self == .pass }

    /// `droppedAfter`: seconds from our last packet to the close, nil if not
    /// dropped; `watched`: how long we watched without a drop.
    static func judge(keepAlive: Int, limit: Double?, droppedAfter: Double?, watched: Double) -> KeepAliveVerdict {
        guard keepAlive > 0, let limit else {
            // Keep-alive off: the broker must not time the client out at all.
            return droppedAfter == nil ? .pass : .early
        }
        if let t = droppedAfter {
            if t < Double(keepAlive) { return .early }
            if t > limit { return .late }
            return .pass
        }
        return watched >= limit ? .never : .inconclusive
    }

    /// The limit in seconds for an effective keep-alive; nil when it is off.
    static func limit(keepAlive: Int, backoff: Double, grace: Double) -> Double? {
        keepAlive > 0 ? Double(keepAlive) * backoff * 2 + grace : nil
    }
}
