import ArgumentParser

/// How `sub` and `rr` print what they receive, declared once for both: the
/// plain payload (-v, -N), a format (-F, --pretty) or JSON (--json).
struct OutputOptions: ParsableArguments {
    @Flag(name: [.short, .long], help: "Print the topic before the payload.")
    var verbose = false

    @Flag(name: [.customShort("N"), .customLong("no-eol")], help: "Do not print a newline after each payload.")
    var noEndOfLine = false

    @Option(
        name: [.customShort("F"), .customLong("format")], parsing: .unconditional,
        help: "Output format (the FORMAT section of 'mqttctl sub --help'); overrides -v.")
    var format: String?

    @Flag(name: .customLong("json"), help: "Print one JSON object per message and line (rr: with \"rtt_ms\").")
    var json = false

    @Flag(
        name: .customLong("pretty"),
        help: "With -F %j or %J: print the JSON indented over several lines, as mosquitto_sub --pretty.")
    var pretty = false

    func validate() throws {
        if json && format != nil {
            throw ValidationError("--json and -F cannot be used together")
        }
        if let format { _ = try FormatRenderer(format: format) }
    }

    /// The renderer asked for; `json` is the one to use for --json (rr adds its
    /// round-trip time to each object).
    func renderer(json: () -> JSONRenderer = { JSONRenderer() }) throws -> MessageRenderer {
        if self.json { return json() }
        if let format {
            let formatted = try FormatRenderer(format: format, endOfLine: !noEndOfLine)
            formatted.pretty = pretty
            return formatted
        }
        return PlainRenderer(verbose: verbose, endOfLine: !noEndOfLine)
    }
}
