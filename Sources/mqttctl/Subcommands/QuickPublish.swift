import ArgumentParser

/// `pub` as most scripts call it: a publish with the connection options and
/// `pub`'s own, and nothing else. `MQTTCtl.parseSubcommand` tries it first and
/// falls back to `Publish` on anything it does not take (an option of another
/// group, `--help`, any error), so every help text, error line and completion
/// still comes from `Publish`, and what it does take means the same, because it
/// is made of the same option groups. Why: swift-argument-parser builds the
/// definition of every declared option at every parse, about 114 K instructions
/// each, and `Publish` declares 62 of which a one-shot publish uses a handful
/// (bench/README.md, "A command for the common case"). Not a subcommand: it
/// has no help, completion or man page of its own.
struct QuickPublish: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: Publish.configuration.commandName,
        _superCommandName: "mqttctl",  // no completion-script pre-parse (MQTTCtl.parseSubcommand)
        // No help flag: `--help` is `Publish`'s (`mayTake` leaves it to it). With
        // one, every parse would also build the name `--help-hidden` by
        // interpolating an enum of the library's, four failed conformance scans
        // and a reflection pass (bench/README.md, upstream report, item 4).
        helpNames: [])

    /// Every name of its options, sorted (QuickPublishTests checks the list
    /// against the parser's own). `MQTTCtl.parseSubcommand` tries
    /// `QuickPublish` only when each option in argv is one of these: a parse
    /// that fails costs about as much as one that succeeds (5.4 M instructions,
    /// half of a one-shot publish), and every `pub` with a TLS, WebSocket,
    /// keep-alive, will or property option would pay it before `Publish`
    /// parses. A stale list changes nothing but that cost: what it lets
    /// through and `QuickPublish` refuses, and what it holds back, `Publish`
    /// parses as before.
    static let optionNames: [String] = [
        "--ack-timeout", "--connect-timeout", "--debug", "--disable-clean-session", "--file", "--host", "--id",
        "--id-prefix", "--max-inflight", "--message", "--no-config", "--null-message", "--options-file",
        "--password", "--password-file", "--port", "--protocol", "--protocol-version", "--pw", "--qos",
        "--quiet", "--repeat", "--repeat-delay", "--retain", "--session-expiry", "--stdin-file", "--stdin-line",
        "--topic", "--username", "-I", "-M", "-P", "-V", "-c", "-d", "-f", "-h", "-i", "-l", "-m", "-n", "-o",
        "-p", "-q", "-r", "-s", "-t", "-u", "-x",
    ]

    /// Whether `arguments` (after `pub`) name no option but its own: each
    /// option's value is passed over whatever it looks like (`-m -k`), as the
    /// parser takes it. Anything else (a positional word, `--`, `-q1`) it
    /// leaves to the parse.
    static func mayTake(_ arguments: ArraySlice<String>) -> Bool {
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            guard argument.utf8.count > 1, argument.utf8.first == UInt8(ascii: "-") else { continue }
            if argument == "--" { return false }
            let (name, inlineValue) = ArgumentPreprocessor.optionName(in: argument)
            guard optionNames.sortedContains(name) else { return false }
            if inlineValue == nil && ArgumentPreprocessor.takesValue(name) { index += 1 }
        }
        return true
    }

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var options: PublishOptions

    func run() throws {
        try Publish.publish(
            options, connection: connection, transport: nil, keepAlive: KeepAliveOption.defaultSeconds, will: nil,
            properties: nil)
    }
}
