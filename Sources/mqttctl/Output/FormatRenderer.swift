import Mosquitto

/// `sub -F FORMAT`: mosquitto_sub's format strings. (Placeholder: %t %p %% and
/// \n only; the full specifier set is being added.)
final class FormatRenderer: MessageRenderer {
    private let format: [UInt8]

    init(format: String) throws(CommandFailure) {
        self.format = Array(format.utf8)
    }

    func render(_ message: ReceivedMessage, into output: OutputBuffer) {
        var i = 0
        while i < format.count {
            let c = format[i]
            if c == 37, i + 1 < format.count {
                switch format[i + 1] {
                case 116: output.append(message.topic)
                case 112: output.append(message.payload)
                default: output.append(format[i + 1])
                }
                i += 2
            } else if c == 92, i + 1 < format.count, format[i + 1] == 110 {
                output.append(10)
                i += 2
            } else {
                output.append(c)
                i += 1
            }
        }
    }
}
