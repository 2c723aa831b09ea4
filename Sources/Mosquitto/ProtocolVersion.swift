/// The MQTT protocol level sent in CONNECT.
public enum ProtocolVersion: Int, Sendable, CaseIterable, CustomStringConvertible {
    case v31 = 3
    case v311 = 4
    case v5 = 5

    /// Accepts the spellings mosquitto's clients accept: `mqttv31`/`31`,
    /// `mqttv311`/`311`, `mqttv5`/`5`.
    public init?(argument: String) {
        switch argument.lowercased() {
        case "31", "mqttv31", "3.1": self = .v31
        case "311", "mqttv311", "3.1.1": self = .v311
        case "5", "mqttv5", "5.0": self = .v5
        default: return nil
        }
    }

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
