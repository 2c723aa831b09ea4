import ArgumentParser
import Mosquitto

/// MQTT 5 properties in mosquitto's `-D command name value` syntax. The three (or,
/// for user-property, four) words after -D are joined into one argument before
/// parsing (see `ArgumentPreprocessor`), so they arrive here separated by U+001F.
struct PropertyOptions: ParsableArguments {
    static let separator: Character = "\u{1F}"

    @Option(name: [.customShort("D"), .customLong("property")],
            parsing: .unconditionalSingleValue, help: ArgumentHelp("MQTT 5 property: -D COMMAND NAME VALUE, or -D COMMAND user-property KEY VALUE. COMMAND is connect, publish, subscribe, unsubscribe, disconnect or will. Repeatable; implies -V 5.",
                               valueName: "command name value"))
    var raw: [PropertyArgument] = []

    var isEmpty: Bool { raw.isEmpty }

    func validate() throws {
        _ = try parsed()
    }

    /// The properties, sorted by the packet they go in (each was parsed once, when read).
    func parsed() throws(CommandFailure) -> ParsedProperties {
        var result = ParsedProperties()
        for item in raw {
            let (command, property) = try item.parsed.get()
            result.byCommand[command, default: MQTTProperties()].items.append(property)
        }
        return result
    }
}

/// One `-D`, parsed when the parser reads it. A refusal waits for `validate()`,
/// which says it in our words: the parser's line would show the joined words
/// with their U+001F separators.
struct PropertyArgument: ExpressibleByArgument {
    let parsed: Result<(MQTTProperties.Command, MQTTProperties.Property), CommandFailure>

    init(argument: String) {
        parsed = Result { () throws(CommandFailure) in try Self.parse(argument) }
    }

    static func parse(_ joined: String) throws(CommandFailure) -> (MQTTProperties.Command, MQTTProperties.Property) {
        let words = joined.split(separator: PropertyOptions.separator, omittingEmptySubsequences: false).map(String.init)
        guard words.count >= 3 else {
            throw .usage("-D needs a command, a property name and a value, e.g. -D publish content-type text/plain")
        }
        do {
            return try MQTTProperties.parse(command: words[0], name: words[1], values: Array(words[2...]))
        } catch {
            throw .usage(error.message)
        }
    }
}

/// `-D` properties grouped by packet.
struct ParsedProperties {
    var byCommand: [MQTTProperties.Command: MQTTProperties] = [:]

    var connect: MQTTProperties { byCommand[.connect] ?? MQTTProperties() }
    var publish: MQTTProperties { byCommand[.publish] ?? MQTTProperties() }
    var subscribe: MQTTProperties { byCommand[.subscribe] ?? MQTTProperties() }
    var unsubscribe: MQTTProperties { byCommand[.unsubscribe] ?? MQTTProperties() }
    var disconnect: MQTTProperties { byCommand[.disconnect] ?? MQTTProperties() }
    var will: MQTTProperties { byCommand[.will] ?? MQTTProperties() }

    var isEmpty: Bool { byCommand.values.allSatisfy(\.isEmpty) }

    /// Fails unless only the given packets got properties (pub sends no SUBSCRIBE...).
    func requireOnly(_ allowed: Set<MQTTProperties.Command>, in subcommand: String) throws(CommandFailure) {
        for (command, list) in byCommand where !list.isEmpty && !allowed.contains(command) {
            throw .usage("-D \(command.rawValue) ... does not apply to 'mqttctl \(subcommand)'")
        }
    }
}
