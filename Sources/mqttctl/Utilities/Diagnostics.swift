#if canImport(Glibc)
import Glibc
#endif

/// Everything mqttctl says on stderr goes through here: one line per message,
/// prefixed with the program name, so scripts can grep it and people can read it.
enum Diagnostics {
    /// `--quiet`: errors and warnings are not printed (usage errors still are,
    /// with `force`, as mosquitto's --quiet spares "invalid user input").
    nonisolated(unsafe) static var quiet = false

    static func error(_ message: String, force: Bool = false) {
        if quiet && !force { return }
        writeLine("mqttctl: error: \(oneLine(message))")
    }

    static func warning(_ message: String) {
        if quiet { return }
        writeLine("mqttctl: warning: \(oneLine(message))")
    }

    static func note(_ message: String) {
        writeLine("mqttctl: \(oneLine(message))")
    }

    /// `message` with control characters shown as escapes. Messages quote what
    /// the user gave (topics, URLs, paths, formats), which may hold a newline or
    /// a NUL; a message must stay one line that a terminal shows as it is.
    static func oneLine(_ message: String) -> String {
        guard message.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return message }
        var result = ""
        for scalar in message.unicodeScalars {
            switch scalar.value {
            case 0x0A: result += "\\n"
            case 0x0D: result += "\\r"
            case 0x09: result += "\\t"
            case 0x00: result += "\\0"
            case 0..<0x20, 0x7F:
                result += "\\x" + HexText.padded(scalar.value, width: 2, uppercase: true)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// A line as is (debug output, progress).
    static func writeLine(_ line: String) {
        writeStderr(line + "\n")
    }

    /// Text to stderr, unbuffered, in as many writes as it takes; a stderr that
    /// fails is given up on (there is nowhere left to say so). The one place
    /// mqttctl writes to stderr.
    static func writeStderr(_ text: String) {
        var text = text
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
