import Mosquitto

/// The rules `probe limits` checks, with their clauses and the standards' words.
extension SpecRules {
    static func clientIDAllowed(_ version: ProtocolVersion) -> SpecRule {
        SpecRule(
            basis: .must, clause: "MQTT \(version) [MQTT-3.1.3-5]",
            quote:
                "The Server MUST allow ClientIds which are between 1 and 23 UTF-8 encoded bytes in length, and that contain only the characters \"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\"."
        )
    }

    static func retainFlagOnLiveMessages(_ version: ProtocolVersion) -> SpecRule {
        version == .v5
            ? SpecRule(
                basis: .must, clause: "MQTT 5 [MQTT-3.3.1-12]",
                quote:
                    "If the value of Retain As Published subscription option is set to 0, the Server MUST set the RETAIN flag to 0 when forwarding an Application Message regardless of how the RETAIN flag was set in the received PUBLISH packet."
            )
            : SpecRule(
                basis: .must, clause: "MQTT 3.1.1 [MQTT-3.3.1-9]",
                quote:
                    "It MUST set the RETAIN flag to 0 when a PUBLISH Packet is sent to a Client because it matches an established subscription regardless of how the flag was set in the message it received."
            )
    }

    static let retainAsPublished = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-3.3.1-13]",
        quote:
            "If the value of Retain As Published subscription option is set to 1, the Server MUST set the RETAIN flag equal to the RETAIN flag in the received PUBLISH packet."
    )

    static let noLocal = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-3.8.3-3]",
        quote:
            "Bit 2 of the Subscription Options represents the No Local option. If the value is 1, Application Messages MUST NOT be forwarded to a connection with a ClientID equal to the ClientID of the publishing connection."
    )

    static let retainHandling0 = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-3.3.1-9]",
        quote:
            "If Retain Handling is set to 0 the Server MUST send the retained messages matching the Topic Filter of the subscription to the Client."
    )

    static let retainHandling1 = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-3.3.1-10]",
        quote:
            "If Retain Handling is set to 1 then if the subscription did not already exist, the Server MUST send all retained message matching the Topic Filter of the subscription to the Client, and if the subscription did exist the Server MUST NOT send the retained messages."
    )

    static let retainHandling2 = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-3.3.1-11]",
        quote: "If Retain Handling is set to 2, the Server MUST NOT send the retained messages.")

    static let subscriptionIdentifier = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-3.3.4-3]",
        quote:
            "If the Client specified a Subscription Identifier for any of the overlapping subscriptions the Server MUST send those Subscription Identifiers in the message which is published as the result of the subscriptions."
    )

    static let messageExpiry = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-3.3.2-5]",
        quote:
            "If the Message Expiry Interval has passed and the Server has not managed to start onward delivery to a matching subscriber, then it MUST delete the copy of the message for that subscriber."
    )

    static let receiveMaximum = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-3.3.4-9]",
        quote:
            "The Server MUST NOT send more than Receive Maximum QoS 1 and QoS 2 PUBLISH packets for which it has not received PUBACK, PUBCOMP, or PUBREC with a Reason Code of 128 or greater from the Client."
    )
}
