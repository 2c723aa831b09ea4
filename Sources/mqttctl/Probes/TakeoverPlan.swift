import Mosquitto

/// What `probe takeover` does: connection A, then B with the same client id.
struct TakeoverPlan {
    var protocolVersion: ProtocolVersion
    var clientID: String
    var observerID: String
    /// A's clean session / clean start flag.
    var cleanStart: Bool
    /// A's (and B's) MQTT 5 session expiry; nil: not sent (0).
    var sessionExpiry: UInt32?
    /// B starts clean even when A kept its session.
    var newCleanStart: Bool
    /// A's will, with its topic.
    var will: Will?
    /// A subscribes here when its session can outlive the connection; the
    /// observer publishes here after the take-over; B must receive it unsubscribed.
    var carryTopic: String
    var keepAlive: Int
    var strict: Bool
    var grace: Double
    /// How long A may take to be closed after B's CONNECT (--max-wait).
    var closeWait: Double
    /// No wait of the probe is longer (--max-wait, else `defaultWaitCap`).
    var waitCap: Double = TakeoverPlan.defaultWaitCap
    /// "clean" or "persistent", for reports.
    var sessionName: String
    /// B's clean start when it differs from A's rule (`newCleanStart`): the
    /// clean-to-persistent variant.
    var bCleanOverride: Bool?
    /// B's MQTT 5 session expiry when it differs from A's.
    var bSessionExpiry: UInt32?
    /// A will of B's own: it must not be published, B stays connected.
    var bWill: Will?
    /// A holds a QoS 1 message it has not acknowledged when B takes over (the
    /// half-open case: A's socket open, A answering nothing): a session that
    /// goes on must deliver it to B again.
    var aInflight = false
    /// Where B (and the observer) connect when it is not where A does: another
    /// node of a cluster, which must take the session over all the same.
    var bEndpoint: (host: String, port: Int)?
    var observerEndpoint: (host: String, port: Int)?

    /// How long a will may take after A's close (beyond its will delay).
    static let willWait = 3.0
    /// How long the carried-over message may take after B's CONNACK.
    static let carryWait = 3.0
    static let defaultCloseWait = 5.0
    static let defaultWaitCap = 300.0

    /// How long A's will is watched for after A's close: its delay plus
    /// `willWait` and the grace, never longer than `waitCap`.
    func willWindow(delay: UInt32) -> Double {
        min(Double(delay) + Self.willWait + grace, waitCap)
    }

    var bCleanStart: Bool { bCleanOverride ?? (newCleanStart || cleanStart) }
    var bSessionExpiryValue: UInt32? { bSessionExpiry ?? sessionExpiry }

    /// Whether A's session can outlive A's connection (then we check it carries over).
    var aSessionSurvives: Bool {
        protocolVersion == .v5 ? (sessionExpiry ?? 0) > 0 : !cleanStart
    }

    var expectation: TakeoverExpectation {
        TakeoverExpectation.expect(
            version: protocolVersion, aCleanStart: cleanStart, aSessionExpiry: sessionExpiry ?? 0,
            bCleanStart: bCleanStart, hasWill: will != nil, willDelay: will?.delayInterval ?? 0)
    }
}
