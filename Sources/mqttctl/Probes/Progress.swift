#if canImport(Glibc)
import Glibc
#endif
import Mosquitto

/// The one self-overwriting status line a waiting probe shows on stderr: what
/// it waits for, the time elapsed and the limit. Only on a terminal and never
/// with --json (a log file or CI output must not fill with carriage returns);
/// cleared before anything else is printed and at the end.
final class Progress {
    let enabled: Bool
    private var shown = false
    private var timer: Int?
    private weak var loop: EventLoop?

    init(enabled: Bool) {
        self.enabled = enabled
    }

    /// Progress for a command: on when stderr is a terminal and output is not JSON.
    static func forCommand(json: Bool) -> Progress {
        Progress(enabled: !json && Diagnostics.stderrIsTerminal)
    }

    /// Refreshes the line from `text` every `period` seconds while `loop` runs.
    func attach(to loop: EventLoop, every period: Double = 0.2, _ text: @escaping () -> String?) {
        guard enabled else { return }
        self.loop = loop
        func tick() {
            if let line = text() { show(line) } else { clear() }
            timer = loop.schedule(after: period) { tick() }
        }
        tick()
    }

    func detach() {
        if let timer { loop?.cancel(timer) }
        timer = nil
        clear()
    }

    func show(_ text: String) {
        guard enabled else { return }
        // Never wider than the terminal: a wrapped line cannot be overwritten.
        let width = max(20, Self.columns() - 1)
        let line = text.count > width ? String(text.prefix(width - 1)) + "…" : text
        write("\r" + line + "\u{1B}[K")
        shown = true
    }

    func clear() {
        guard enabled, shown else { return }
        write("\r\u{1B}[K")
        shown = false
    }

    /// A diagnostic line while the progress line may be showing.
    func note(_ message: String) {
        clear()
        Diagnostics.note(message)
    }

    private func write(_ text: String) {
        Diagnostics.writeStderr(text)
    }

    private static func columns() -> Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }
}

/// One thing a probe waits for: "keep-alive K=5 s" for MQTT "3.1.1":
/// "silent 7.2 s, limit 8.5 s, max 17 s".
struct ProgressItem: Equatable {
    let what: String
    let version: String
    let detail: String

    /// Items that differ only in the protocol version are shown once
    /// ("keep-alive K=5 s (3.1.1, 5): silent 7.2 s, ..."), so that `probe`
    /// running both versions side by side still fits one line.
    static func line(_ items: [ProgressItem]) -> String? {
        var groups: [(what: String, detail: String, versions: [String])] = []
        for item in items {
            if let i = groups.firstIndex(where: { $0.what == item.what && $0.detail == item.detail }) {
                groups[i].versions.append(item.version)
            } else {
                groups.append((item.what, item.detail, [item.version]))
            }
        }
        guard !groups.isEmpty else { return nil }
        return groups.map { "\($0.what) (MQTT \($0.versions.joined(separator: ", "))): \($0.detail)" }.joined(
            separator: " | ")
    }
}
