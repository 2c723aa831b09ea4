import Mosquitto

/// What `probe keepalive` does for one protocol version.
struct KeepAlivePlan {
    struct Subject {
        let keepAlive: Int
        let clientID: String
        /// Where this connection's will goes (nil: no will).
        let willTopic: String?
        /// With --samples: which sample of its keep-alive this is (0 for the first).
        var sample = 0
        /// Seconds after the start this connection connects (samples are staggered).
        var startOffset: Double = 0
    }

    /// The subjects of a sweep, `samples` per keep-alive, staggered evenly over
    /// `spread` seconds (nil: K, at most 10 s): brokers that check keep-alive on
    /// a timer drop samples started at different moments at different times.
    static func subjects(
        keepAlives: [Int], samples: Int, spread: Double?,
        id: (Int, Int) -> String, willTopic: (Int, Int) -> String?
    ) -> [Subject] {
        keepAlives.flatMap { k in
            (0..<samples).map { i in
                let window = spread ?? min(Double(max(k, 1)), 10)
                return Subject(
                    keepAlive: k, clientID: id(k, i), willTopic: willTopic(k, i), sample: i,
                    startOffset: samples > 1 ? window * Double(i) / Double(samples) : 0)
            }
        }
    }

    /// A client that connects with a will and disconnects cleanly: its will must not appear.
    struct Control {
        let clientID: String
        let willTopic: String
    }

    var protocolVersion: ProtocolVersion
    var subjects: [Subject]
    /// The will template (payload, QoS, retain, delay); each connection gets its own topic.
    var will: Will?
    var control: Control?
    var observerID: String
    var backoff: Double
    var grace: Double
    /// --max-wait; nil: the default per keep-alive (see `defaultWait`).
    var maxWait: Double?
    /// --strict: warnings fail.
    var strict = false

    /// How long a will may take after the drop (beyond its will delay) before we say it did not come.
    static let willWait = 5.0
    /// How long the negative control is watched after its DISCONNECT (beyond the will delay).
    static let controlWait = 3.0
    /// The default --max-wait never exceeds this: a Server Keep Alive of 65535 s
    /// would otherwise mean waiting 27 hours.
    static let defaultWaitCap = 300.0
    /// The default --max-wait for keep-alive 0 (nothing to time out).
    static let zeroKeepAliveWait = 20.0

    /// How long the will is watched for after a drop (or the control's DISCONNECT):
    /// its delay plus `extra` and the grace, never longer than --max-wait (or
    /// `defaultWaitCap`), so that no will delay can make the probe wait for ever.
    func willWindow(delay: UInt32, extra: Double = willWait) -> Double {
        min(Double(delay) + extra + grace, maxWait ?? Self.defaultWaitCap)
    }

    /// Twice the limit (at most 5 minutes); for K = 0 20 s, or as long as the
    /// longest other keep-alive of the sweep is watched anyway.
    func defaultWait(effectiveKeepAlive k: Int) -> Double {
        if let limit = KeepAliveVerdict.limit(keepAlive: k, backoff: backoff, grace: grace) {
            return min(2 * limit, Self.defaultWaitCap)
        }
        let others = subjects.filter { $0.keepAlive > 0 }.map { defaultWait(effectiveKeepAlive: $0.keepAlive) }
        return max(Self.zeroKeepAliveWait, others.max() ?? 0)
    }
}
