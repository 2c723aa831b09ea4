import CMosquitto

extension ReceivedMessage {
    /// A message made up rather than received: for fuzzing the renderers and
    /// for tests. The buffers and the property list (a libmosquitto list, see
    /// `MQTTProperties.makeList`) must outlive its use.
    public init(mid: Int, qos: Int, retain: Bool, topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer,
                propertyList: OpaquePointer?) {
        self.init(mid: mid, qos: qos, retain: retain, topic: topic, payload: payload, rawProperties: propertyList)
    }
}

extension MQTTProperties {
    /// A libmosquitto list of these properties, owned by the caller (free it
    /// with `freeList`). Nil when empty or when libmosquitto refuses one.
    public func makeListIfValid() -> OpaquePointer? {
        try? makeList()
    }

    public static func freeList(_ list: OpaquePointer?) {
        var list = list
        mosquitto_property_free_all(&list)
    }
}
