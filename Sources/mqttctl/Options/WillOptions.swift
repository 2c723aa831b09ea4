import ArgumentParser
import Mosquitto

/// The Last Will: what the broker publishes for us if we vanish without DISCONNECT.
struct WillOptions: ParsableArguments {
    @Option(name: .customLong("will-topic"), parsing: .unconditional, help: "Topic of the will message.")
    var topic: String?

    @Option(
        name: .customLong("will-payload"), parsing: .unconditional,
        help: "Payload of the will message (default: empty).")
    var payload: String?

    /// Optional, the default applied by `qos`: swift-argument-parser describes
    /// an Int option's default value at every parse (PublishOptions.swift says more).
    @Option(
        name: .customLong("will-qos"), parsing: .unconditional,
        help: ArgumentHelp("QoS of the will message: 0, 1 or 2 (default: 0).", valueName: "will-qos"))
    var givenQoS: Int?
    var qos: Int { givenQoS ?? 0 }

    @Flag(name: .customLong("will-retain"), help: "Retain the will message.")
    var retain = false

    @Option(
        name: .customLong("will-delay"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "MQTT 5 will delay interval: seconds the broker waits before publishing the will.", valueName: "seconds"))
    var delay: UInt32?

    func validate() throws {
        if topic == nil && (payload != nil || retain || delay != nil || qos != 0) {
            throw ValidationError("--will-payload, --will-qos, --will-retain and --will-delay need --will-topic")
        }
        if !(0...2).contains(qos) {
            throw ValidationError("--will-qos \(qos): QoS must be 0, 1 or 2")
        }
        if let topic, let problem = Topic.problemWithName(topic) {
            throw ValidationError("invalid --will-topic: \(problem)")
        }
    }

    /// Whether these options need MQTT 5.
    var needsV5: Bool { delay != nil }

    func makeWill(protocolVersion: ProtocolVersion, properties: ParsedProperties?) throws(CommandFailure) -> Will? {
        guard let topic else {
            if let properties, !properties.will.isEmpty {
                throw .usage("-D will ... properties need --will-topic")
            }
            return nil
        }
        var willProperties = properties?.will ?? MQTTProperties()
        if let delay {
            willProperties.append(MQTTProperties.willDelayInterval, .uint32(delay))
        }
        if !willProperties.isEmpty && protocolVersion != .v5 {
            throw .usage("will properties (--will-delay, -D will ...) need MQTT 5 (-V 5)")
        }
        return Will(
            topic: topic, payload: Array((payload ?? "").utf8), qos: qos, retain: retain, properties: willProperties)
    }
}
