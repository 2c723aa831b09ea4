import Mosquitto

/// Turns one received message into bytes on stdout. `sub` picks one renderer
/// up front (plain, -F format, --json) and calls it once per message; renderers
/// append to the buffered output and never flush themselves.
protocol MessageRenderer: AnyObject {
    func render(_ message: ReceivedMessage, into output: OutputBuffer)
}

/// mosquitto_sub's default output: the payload, or `topic payload` with -v; a
/// newline after each unless -N. Empty payloads print nothing, or `topic (null)`
/// with -v, as mosquitto_sub does.
final class PlainRenderer: MessageRenderer {
    let verbose: Bool
    let endOfLine: Bool

    init(verbose: Bool, endOfLine: Bool) {
        self.verbose = verbose
        self.endOfLine = endOfLine
    }

    func render(_ message: ReceivedMessage, into output: OutputBuffer) {
        if verbose {
            if message.payload.isEmpty {
                if endOfLine {
                    output.append(message.topic)
                    output.append(" (null)\n" as StaticString)
                }
                return
            }
            output.append(message.topic)
            output.append(32)
            output.append(message.payload)
        } else {
            guard !message.payload.isEmpty else { return }
            output.append(message.payload)
        }
        if endOfLine { output.append(10) }
    }
}
