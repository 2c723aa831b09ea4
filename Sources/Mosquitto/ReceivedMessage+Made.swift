import CMosquitto

/// A libmosquitto property list owned by Swift, for messages made up rather
/// than received (fuzzing the renderers, tests). Freed when released.
public final class PropertyList {
    let raw: OpaquePointer?

    /// nil when libmosquitto refuses a list of these properties.
    public init?(_ properties: MQTTProperties) {
        guard let list = try? properties.makeList() else { return nil }
        raw = list
    }

    deinit {
        var list = raw
        mosquitto_property_free_all(&list)
    }
}

extension ReceivedMessage {
    /// A message made up rather than received. The buffers and `properties`
    /// must outlive its use, as a received message's do its callback.
    public init(
        mid: Int, qos: Int, retain: Bool, topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer,
        properties: PropertyList?
    ) {
        self.init(mid: mid, qos: qos, retain: retain, topic: topic, payload: payload, rawProperties: properties?.raw)
    }
}
