import Mosquitto

/// Every rule the probes judge a broker by, with its clause, its level and the
/// words of the OASIS standards (MQTT 3.1.1 of 29 October 2014, MQTT 5.0 of 7
/// March 2019). The verdict code picks rules from here; nothing else decides
/// what a broker must do.
enum SpecRules {
    private static func v(_ version: ProtocolVersion) -> String { "MQTT \(version)" }

    // MARK: Keep-alive

    /// The server must close a connection silent for 1.5 × K.
    static func keepAliveClose(_ version: ProtocolVersion) -> SpecRule {
        version == .v5
            ? SpecRule(
                basis: .must, clause: "MQTT 5 [MQTT-3.1.2-22]",
                quote:
                    "If the Keep Alive value is non-zero and the Server does not receive an MQTT Control Packet from the Client within one and a half times the Keep Alive time period, it MUST close the Network Connection to the Client as if the network had failed."
            )
            : SpecRule(
                basis: .must, clause: "\(v(version)) [MQTT-3.1.2-24]",
                quote:
                    "If the Keep Alive value is non-zero and the Server does not receive a Control Packet from the Client within one and a half times the Keep Alive time period, it MUST disconnect the Network Connection to the Client as if the network had failed."
            )
    }

    /// A client may be silent for K; a server may still drop it earlier.
    static func keepAliveNotBeforeK(_ version: ProtocolVersion) -> SpecRule {
        version == .v5
            ? SpecRule(
                basis: .nonNormative, clause: "MQTT 5 §3.1.2.10, non-normative comment",
                quote:
                    "Keep Alive \"is the maximum time interval that is permitted to elapse between the point at which the Client finishes transmitting one MQTT Control Packet and the point it starts sending the next\"; but: \"The Server may have other reasons to disconnect the Client, for instance because it is shutting down. Setting Keep Alive does not guarantee that the Client will remain connected.\""
            )
            : SpecRule(
                basis: .may, clause: "\(v(version)) §3.1.2.10",
                quote:
                    "Keep Alive \"is the maximum time interval that is permitted to elapse between the point at which the Client finishes transmitting one Control Packet and the point it starts sending the next\"; but: \"Note that a Server is permitted to disconnect a Client that it determines to be inactive or non-responsive at any time, regardless of the Keep Alive value provided by that Client.\""
            )
    }

    /// Keep-alive 0 turns the mechanism off.
    static func keepAliveZero(_ version: ProtocolVersion) -> SpecRule {
        version == .v5
            ? SpecRule(
                basis: .nonNormative, clause: "MQTT 5 §3.1.2.10, non-normative comment",
                quote:
                    "\"A Keep Alive value of 0 has the effect of turning off the Keep Alive mechanism.\" \"Setting Keep Alive does not guarantee that the Client will remain connected.\""
            )
            : SpecRule(
                basis: .may, clause: "\(v(version)) §3.1.2.10",
                quote:
                    "\"If the Keep Alive value is zero (0), it has the effect of turning off the keep alive mechanism. This means that, in this case, the Server is not required to disconnect the Client on the grounds of inactivity.\" \"Note that a Server is permitted to disconnect a Client that it determines to be inactive or non-responsive at any time.\""
            )
    }

    /// Refusing a keep-alive is a check the server may make.
    static func keepAliveRefusal(_ version: ProtocolVersion) -> SpecRule {
        version == .v5
            ? SpecRule(
                basis: .may, clause: "MQTT 5 [MQTT-3.1.4-2]",
                quote:
                    "The Server MAY check that the contents of the CONNECT packet meet any further restrictions and SHOULD perform authentication and authorization checks. If any of these checks fail, it MUST close the Network Connection."
            )
            : SpecRule(
                basis: .may, clause: "\(v(version)) §3.1.4",
                quote:
                    "The Server MAY check that the contents of the CONNECT Packet meet any further restrictions and MAY perform authentication and authorization checks. If any of these checks fail, it SHOULD send an appropriate CONNACK response with a non-zero return code as described in section 3.2 and it MUST close the Network Connection."
            )
    }

    /// What `inconclusive` rests on: the rule that could not be checked in time.
    static func measurementLimit(_ version: ProtocolVersion) -> SpecRule {
        keepAliveClose(version)
    }

    // MARK: Wills

    /// The will must be published when the connection closes without a (normal) DISCONNECT.
    static func willPublished(_ version: ProtocolVersion) -> SpecRule {
        version == .v5
            ? SpecRule(
                basis: .must, clause: "MQTT 5 [MQTT-3.1.2-8]",
                quote:
                    "The Will Message MUST be published after the Network Connection is subsequently closed and either the Will Delay Interval has elapsed or the Session ends, unless the Will Message has been deleted by the Server on receipt of a DISCONNECT packet with Reason Code 0x00 (Normal disconnection) or a new Network Connection for the ClientID is opened before the Will Delay Interval has elapsed."
            )
            : SpecRule(
                basis: .must, clause: "\(v(version)) [MQTT-3.1.2-8]",
                quote:
                    "The Will Message MUST be published when the Network Connection is subsequently closed unless the Will Message has been deleted by the Server on receipt of a DISCONNECT Packet."
            )
    }

    /// After a normal DISCONNECT the will is deleted.
    static func willDeletedByDisconnect(_ version: ProtocolVersion) -> SpecRule {
        version == .v5
            ? SpecRule(
                basis: .must, clause: "MQTT 5 [MQTT-3.1.2-10]",
                quote:
                    "The Will Message MUST be removed from the stored Session State in the Server once it has been published or the Server has received a DISCONNECT packet with a Reason Code of 0x00 (Normal disconnection) from the Client."
            )
            : SpecRule(
                basis: .must, clause: "\(v(version)) [MQTT-3.1.2-10]",
                quote:
                    "The Will Message MUST be removed from the stored Session state in the Server once it has been published or the Server has received a DISCONNECT packet from the Client."
            )
    }

    /// MQTT 5: promptly after the delay, or when the session ends, whichever is first.
    static let willPromptly = SpecRule(
        basis: .should, clause: "MQTT 5 §3.1.2.5",
        quote:
            "The Server SHOULD publish Will Messages promptly after the Network Connection is closed and the Will Delay Interval has passed, or when the Session ends, whichever occurs first."
    )

    /// MQTT 5: not before the will delay, unless the session ended.
    static let willNotBeforeDelay = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-3.1.2-8]",
        quote:
            "The Will Message MUST be published after the Network Connection is subsequently closed and either the Will Delay Interval has elapsed or the Session ends."
    )

    // MARK: Take-over

    /// The old connection must be closed.
    static func takeoverClose(_ version: ProtocolVersion) -> SpecRule {
        version == .v5
            ? SpecRule(
                basis: .must, clause: "MQTT 5 [MQTT-3.1.4-3]",
                quote:
                    "If the ClientID represents a Client already connected to the Server, the Server sends a DISCONNECT packet to the existing Client with Reason Code of 0x8E (Session taken over) as described in section 4.13 and MUST close the Network Connection of the existing Client."
            )
            : SpecRule(
                basis: .must, clause: "\(v(version)) [MQTT-3.1.4-2]",
                quote:
                    "If the ClientId represents a Client already connected to the Server then the Server MUST disconnect the existing Client."
            )
    }

    /// MQTT 5: DISCONNECT 0x8E before the close; the MUST of [MQTT-3.1.4-3] binds only the close.
    static let takeoverDisconnect = SpecRule(
        basis: .should, clause: "MQTT 5 [MQTT-3.1.4-3], §3.14",
        quote:
            "\"the Server sends a DISCONNECT packet to the existing Client with Reason Code of 0x8E (Session taken over) … and MUST close the Network Connection of the existing Client\": the MUST binds the close; the DISCONNECT is described, not required, and §3.14 says \"The Client or Server MAY send a DISCONNECT packet before closing the Network Connection.\""
    )

    /// MQTT 3.1.1 take-over: A did not send DISCONNECT, so its will must be published.
    static let takeoverWill311 = SpecRule(
        basis: .must, clause: "MQTT 3.1.1 [MQTT-3.1.2-8]",
        quote:
            "The Will Message MUST be published when the Network Connection is subsequently closed unless the Will Message has been deleted by the Server on receipt of a DISCONNECT Packet. (The will is \"associated with the Network Connection\", so on a take-over it is published whatever the session flags.)"
    )

    /// MQTT 5 take-over with B's clean start 1, or A's session expiry 0: the session ends.
    static let takeoverWillSessionEnds = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-3.1.2-8], §3.1.4",
        quote:
            "\"The Will Message MUST be published after the Network Connection is subsequently closed and either the Will Delay Interval has elapsed or the Session ends\" [MQTT-3.1.2-8]; §3.1.4, non-normative: \"If the Session Expiry Interval of the existing Network Connection is 0, or the new Network Connection has Clean Start set to 1 then if the existing Network Connection has a Will Message it will be sent because the original Session is ended on the takeover.\""
    )

    /// MQTT 5 take-over, the session goes on, will delay 0: published at the close.
    static let takeoverWillNoDelay = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-3.1.2-8], §3.1.3.2.2, §3.1.4",
        quote:
            "\"The Will Message MUST be published after the Network Connection is subsequently closed and either the Will Delay Interval has elapsed or the Session ends\" [MQTT-3.1.2-8]: a delay of 0 has elapsed at the close (B's connection, opened before, cannot have come before it). Both non-normative comments say so: §3.1.3.2.2 \"If the Will Delay is 0 the Will Message is sent at the close of the existing Network Connection\"; §3.1.4 \"If the Will Delay Interval of the existing Network Connection is 0 and there is a Will Message, it will be sent because the Network Connection is closed.\""
    )

    /// MQTT 5 take-over, the session goes on, will delay > 0: not published.
    static let takeoverWillDelayed = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-3.1.3-9]",
        quote:
            "If a new Network Connection to this Session is made before the Will Delay Interval has passed, the Server MUST NOT send the Will Message."
    )

    /// MQTT 5 take-over, A's session expiry 0, B clean start 0, will delay > 0: the texts disagree.
    static let takeoverWillUnsettled = SpecRule(
        basis: .unsettled, clause: "MQTT 5 §3.1.3.2.2 vs §3.1.4 (non-normative), [MQTT-3.1.2-8]",
        quote:
            "Not published, by §3.1.3.2.2: \"the Will Message for the exiting connection is sent unless the new connection specifies Clean Start of 0 and the Will Delay is greater than zero\", and by the exception of [MQTT-3.1.2-8]: \"or a new Network Connection for the ClientID is opened before the Will Delay Interval has elapsed\". Published, by §3.1.4: \"If the Session Expiry Interval of the existing Network Connection is 0 … it will be sent because the original Session is ended on the takeover\"."
    )

    /// A will is published only after its connection closed.
    static func willNotBeforeClose(_ version: ProtocolVersion) -> SpecRule {
        version == .v5
            ? SpecRule(
                basis: .must, clause: "MQTT 5 [MQTT-3.1.2-8]",
                quote:
                    "The Will Message MUST be published after the Network Connection is subsequently closed and either the Will Delay Interval has elapsed or the Session ends. (B's connection is open: its will has no reason to be published.)"
            )
            : SpecRule(
                basis: .must, clause: "\(v(version)) [MQTT-3.1.2-8]",
                quote:
                    "The Will Message MUST be published when the Network Connection is subsequently closed. (B's connection is open: its will has no reason to be published.)"
            )
    }

    /// A resumed session resends what was not acknowledged.
    static func unacknowledgedResent(_ version: ProtocolVersion) -> SpecRule {
        version == .v5
            ? SpecRule(
                basis: .must, clause: "MQTT 5 [MQTT-4.4.0-1]",
                quote:
                    "When a Client reconnects with Clean Start set to 0 and a session is present, both the Client and Server MUST resend any unacknowledged PUBLISH packets (where QoS > 0) and PUBREL packets using their original Packet Identifiers."
            )
            : SpecRule(
                basis: .must, clause: "\(v(version)) [MQTT-4.4.0-1]",
                quote:
                    "When a Client reconnects with CleanSession set to 0, both the Client and Server MUST re-send any unacknowledged PUBLISH Packets (where QoS > 0) and PUBREL Packets using their original Packet Identifiers."
            )
    }

    /// Session present after B's CONNECT.
    static func sessionPresent(_ version: ProtocolVersion, bCleanStart: Bool, aSessionSurvives: Bool) -> SpecRule {
        if version == .v5 {
            if bCleanStart {
                return SpecRule(
                    basis: .must, clause: "MQTT 5 [MQTT-3.2.2-2]",
                    quote:
                        "If the Server accepts a connection with Clean Start set to 1, the Server MUST set Session Present to 0 in the CONNACK packet in addition to setting a 0x00 (Success) Reason Code in the CONNACK packet."
                )
            }
            if !aSessionSurvives {
                return SpecRule(
                    basis: .nonNormative, clause: "MQTT 5 §3.1.4, non-normative comment",
                    quote:
                        "If the Session Expiry Interval of the existing Network Connection is 0, or the new Network Connection has Clean Start set to 1 then … the original Session is ended on the takeover. (So B finds no session; [MQTT-3.2.2-3] alone would count the session A still had when B connected.)"
                )
            }
            return SpecRule(
                basis: .must, clause: "MQTT 5 [MQTT-3.2.2-3]",
                quote:
                    "If the Server accepts a connection with Clean Start set to 0 and the Server has Session State for the ClientID, it MUST set Session Present to 1 in the CONNACK packet, otherwise it MUST set Session Present to 0 in the CONNACK packet."
            )
        }
        if bCleanStart {
            return SpecRule(
                basis: .must, clause: "\(v(version)) [MQTT-3.2.2-1]",
                quote:
                    "If the Server accepts a connection with CleanSession set to 1, the Server MUST set Session Present to 0 in the CONNACK packet in addition to setting a zero return code in the CONNACK packet."
            )
        }
        if !aSessionSurvives {
            return SpecRule(
                basis: .must, clause: "\(v(version)) [MQTT-3.1.2-6], [MQTT-3.2.2-3]",
                quote:
                    "A's session had CleanSession 1: \"This Session lasts as long as the Network Connection. State data associated with this Session MUST NOT be reused in any subsequent Session\" [MQTT-3.1.2-6]; \"If the Server does not have stored Session state, it MUST set Session Present to 0 in the CONNACK packet\" [MQTT-3.2.2-3]."
            )
        }
        return SpecRule(
            basis: .must, clause: "\(v(version)) [MQTT-3.2.2-2]",
            quote:
                "If the Server accepts a connection with CleanSession set to 0, the value set in Session Present depends on whether the Server already has stored Session state for the supplied client ID. If the Server has stored Session state, it MUST set Session Present to 1 in the CONNACK packet."
        )
    }

    /// A's subscription is part of the session: it goes on with it, or ends with it.
    static func subscriptionCarriedOver(_ version: ProtocolVersion, sessionGoesOn: Bool) -> SpecRule {
        switch (version == .v5, sessionGoesOn) {
        case (true, true):
            return SpecRule(
                basis: .must, clause: "MQTT 5 [MQTT-3.1.2-5]",
                quote:
                    "If a CONNECT packet is received with Clean Start set to 0 and there is a Session associated with the Client Identifier, the Server MUST resume communications with the Client based on state from the existing Session. (The session state includes the client's subscriptions, §4.1.)"
            )
        case (true, false):
            return SpecRule(
                basis: .must, clause: "MQTT 5 [MQTT-3.1.2-4]",
                quote:
                    "If a CONNECT packet is received with Clean Start is set to 1, the Client and Server MUST discard any existing Session and start a new Session."
            )
        case (false, true):
            return SpecRule(
                basis: .must, clause: "\(v(version)) [MQTT-3.1.2-4]",
                quote:
                    "If CleanSession is set to 0, the Server MUST resume communications with the Client based on state from the current Session (as identified by the Client identifier). (The session state includes the client's subscriptions, §4.1.)"
            )
        case (false, false):
            return SpecRule(
                basis: .must, clause: "\(v(version)) [MQTT-3.1.2-6]",
                quote:
                    "If CleanSession is set to 1, the Client and Server MUST discard any previous Session and start a new one."
            )
        }
    }
}
