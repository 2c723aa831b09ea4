import ArgumentParser
import Mosquitto

/// MQTT 5 properties in mosquitto's `-D command name value` syntax. The three (or,
/// for user-property, four) words after -D are joined into one argument before
/// parsing (see `ArgumentPreprocessor`), so they arrive here separated by U+001F.
struct PropertyOptions: ParsableArguments {
    static let separator: Character = "\u{1F}"

    @Option(
        name: [.customShort("D"), .customLong("property")],
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "MQTT 5 property: -D COMMAND NAME VALUE, or -D COMMAND user-property KEY VALUE. COMMAND is connect, publish, subscribe, unsubscribe, disconnect or will. Repeatable; implies -V 5.",
            valueName: "command name value"))
    var raw: [String] = []

    var isEmpty: Bool { raw.isEmpty }

    func validate() throws {
        _ = try parsed()
    }

    /// The properties, sorted by the packet they go in.
    func parsed() throws(CommandFailure) -> ParsedProperties {
        // Most runs have no -D: no cache to set up for them.
        if raw.isEmpty { return ParsedProperties() }
        let (properties, failure) = ParseOnce.locked { () -> (ParsedProperties?, CommandFailure?) in
            if let last = Self.last, last.raw == raw { return (last.properties, last.failure) }
            do throws(CommandFailure) {
                let properties = try Self.parse(raw)
                Self.last = (raw, properties, nil)
                return (properties, nil)
            } catch {
                Self.last = (raw, nil, error)
                return (nil, error)
            }
        }
        if let properties { return properties }
        throw failure ?? .usage("invalid -D")
    }

    /// Parsed once a run (`validate()`, then the subcommand), not by the parser:
    /// its error line would show the joined words with their U+001F separators,
    /// and a type of its own in every command costs each start.
    nonisolated(unsafe) private static var last:
        (raw: [String], properties: ParsedProperties?, failure: CommandFailure?)?

    private static func parse(_ raw: [String]) throws(CommandFailure) -> ParsedProperties {
        var result = ParsedProperties()
        for item in raw {
            let words = item.split(separator: separator, omittingEmptySubsequences: false).map(String.init)
            guard words.count >= 3 else {
                throw .usage("-D needs a command, a property name and a value, e.g. -D publish content-type text/plain")
            }
            let command: MQTTProperties.Command
            let property: MQTTProperties.Property
            do {
                (command, property) = try MQTTProperties.parse(
                    command: words[0], name: words[1], values: Array(words[2...]))
            } catch {
                throw .usage(ErrorText.line(for: error))
            }
            result[command].items.append(property)
        }
        return result
    }
}
/// `-D` properties grouped by packet.
struct ParsedProperties {
    /// One list per packet, in `MQTTProperties.Command.allCases` order: an array
    /// rather than a Dictionary, whose key type's Hashable conformance the runtime
    /// would look up (a scan of every conformance record) at every start.
    private var lists = [MQTTProperties](repeating: MQTTProperties(), count: Self.commands.count)
    private static let commands = MQTTProperties.Command.allCases

    private static func index(_ command: MQTTProperties.Command) -> Int {
        commands.firstIndex(of: command) ?? 0  // every case is in allCases
    }

    /// The properties given for a packet (empty when none were).
    subscript(command: MQTTProperties.Command) -> MQTTProperties {
        get { lists[Self.index(command)] }
        set { lists[Self.index(command)] = newValue }
    }

    var connect: MQTTProperties { self[.connect] }
    var publish: MQTTProperties { self[.publish] }
    var subscribe: MQTTProperties { self[.subscribe] }
    var unsubscribe: MQTTProperties { self[.unsubscribe] }
    var disconnect: MQTTProperties { self[.disconnect] }
    var will: MQTTProperties { self[.will] }

    var isEmpty: Bool { lists.allSatisfy(\.isEmpty) }

    /// Fails unless only the given packets got properties (pub sends no SUBSCRIBE...).
    func requireOnly(_ allowed: [MQTTProperties.Command], in subcommand: String) throws(CommandFailure) {
        for (command, list) in zip(Self.commands, lists) where !list.isEmpty && !allowed.contains(command) {
            throw .usage("-D \(command.rawValue) ... does not apply to 'mqttctl \(subcommand)'")
        }
    }
}
