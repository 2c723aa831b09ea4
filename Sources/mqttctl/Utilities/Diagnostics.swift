#if canImport(Glibc)
import Glibc
#endif

/// Everything mqttctl says on stderr goes through here: one line per message,
/// prefixed with the program name, so scripts can grep it and people can read it.
enum Diagnostics {
    static func error(_ message: String) {
        writeLine("mqttctl: error: \(message)")
    }

    static func warning(_ message: String) {
        writeLine("mqttctl: warning: \(message)")
    }

    static func note(_ message: String) {
        writeLine("mqttctl: \(message)")
    }

    /// A line as is (debug output, progress).
    static func writeLine(_ line: String) {
        var text = line
        text.append("\n")
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(2, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }

    /// Whether stderr is a terminal (progress display is only shown there).
    static let stderrIsTerminal: Bool = isatty(2) == 1
}
