/// The MQTT protocol level sent in CONNECT. (How a user spells it is the
/// tool's business: mqttctl's `ProtocolOption`.)
public enum ProtocolVersion: Int, Sendable, CaseIterable, CustomStringConvertible {
    case v31 = 3
    case v311 = 4
    case v5 = 5

    public var description: String {
        switch self {
        case .v31: return "3.1"
        case .v311: return "3.1.1"
        case .v5: return "5"
        }
    }

    /// The value libmosquitto's `MOSQ_OPT_PROTOCOL_VERSION` takes (the protocol level).
    var mosquittoValue: Int32 { Int32(rawValue) }
}
