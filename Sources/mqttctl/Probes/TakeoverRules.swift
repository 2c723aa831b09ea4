import Mosquitto

/// What the MQTT specification says must happen when connection B arrives
/// with the client id of the connected A. Encoded once, here, with the reasons
/// the report and `--help` quote.
///
/// MQTT 3.1.1: the server MUST close A [MQTT-3.1.4-2]. A did not send
/// DISCONNECT, so its will MUST be published when the connection closes
/// [MQTT-3.1.2-8] (§3.1.2.5), whatever the session flags. Session present is 1
/// only when both A and B asked to keep the session (clean session 0)
/// [MQTT-3.2.2-2], [MQTT-3.2.2-3].
///
/// MQTT 5: the server sends DISCONNECT 0x8E (Session taken over) to A and MUST
/// close it [MQTT-3.1.4-3]; the close is the requirement we judge, a missing
/// 0x8E is a note (a failure with --strict). The will follows the session
/// (§3.1.3.2.2, [MQTT-3.1.3-9]): the session ends when B starts clean or A's
/// session expiry is 0, and then the will is published at once, even with a
/// will delay, because "the session ends" comes first. If the session goes on
/// (B with clean start 0, A's session expiry > 0), B's connection to the
/// session exists before A's is closed, so the will delay cannot have passed:
/// the will MUST NOT be published. Session present is 1 exactly when the
/// session goes on [MQTT-3.2.2-2].
struct TakeoverExpectation {
    /// nil without a will.
    let willPublished: Bool?
    let sessionPresent: Bool
    /// One sentence: why the will should (not) be published.
    let willReason: String

    static func expect(version: ProtocolVersion, aCleanStart: Bool, aSessionExpiry: UInt32,
                       bCleanStart: Bool, hasWill: Bool, willDelay: UInt32) -> TakeoverExpectation {
        if version != .v5 {
            return TakeoverExpectation(
                willPublished: hasWill ? true : nil,
                sessionPresent: !aCleanStart && !bCleanStart,
                willReason: "MQTT \(version) §3.1.2.5 [MQTT-3.1.2-8]: A's connection closed without DISCONNECT")
        }
        let sessionGoesOn = !bCleanStart && aSessionExpiry > 0
        let reason: String
        if sessionGoesOn {
            reason = "MQTT 5 [MQTT-3.1.3-9]: the session goes on (B clean start 0, A's session expiry \(aSessionExpiry == UInt32.max ? "∞" : "\(aSessionExpiry) s")), B connected before the will delay could pass"
        } else if bCleanStart {
            reason = "MQTT 5 §3.1.3.2.2: B's clean start ends A's session\(willDelay > 0 ? ", which comes before the will delay" : "")"
        } else {
            reason = "MQTT 5 §3.1.3.2.2: A's session expiry 0 ends the session with A's connection\(willDelay > 0 ? ", before the will delay" : "")"
        }
        return TakeoverExpectation(willPublished: hasWill ? !sessionGoesOn : nil,
                                   sessionPresent: sessionGoesOn, willReason: reason)
    }
}
