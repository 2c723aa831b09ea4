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
        _superCommandName: "mqttctl")  // no completion-script pre-parse (MQTTCtl.parseSubcommand)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var options: PublishOptions

    func run() throws {
        try Publish.publish(
            options, connection: connection, transport: nil, keepAlive: KeepAliveOption.defaultSeconds, will: nil,
            properties: nil)
    }
}
