import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

@main
struct MQTTCtl: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "mqttctl",
        abstract:
            "A command-line MQTT toolkit: publish, subscribe, request/response, ping a broker, probe keep-alive and take-over.",
        discussion: """
            pub, sub and rr take the options of mosquitto_pub, mosquitto_sub and mosquitto_rr, never lose a QoS 1/2 \
            message silently, and say what happened in the exit status. As with mosquitto's \
            clients, an option's value is the next argument, whatever it starts with: \
            pub -m -5 publishes "-5".

            \(TransportOptions.tlsHelpText)
            \(TransportOptions.webSocketHelpText)
            \(Defaults.helpText)
            \(OptionsFile.helpText)
            EXIT STATUS
            \(ExitStatus.table)
            """,
        version: version,
        subcommands: subcommands,
        helpNames: [.long]
    )

    /// The subcommands, apart from `configuration`: finding the one that argv
    /// names must not build the root's help, whose discussion interpolates four
    /// help sections and the exit-status table (0.6 M instructions, 2% of a
    /// one-shot publish).
    static let subcommands: [ParsableCommand.Type] = [
        Publish.self, Subscribe.self, Request.self, Ping.self, Conn.self, Probe.self,
    ]

    /// The subcommands of `command`, the root's without its configuration.
    static func subcommands(of command: ParsableCommand.Type) -> [ParsableCommand.Type] {
        ObjectIdentifier(command) == ObjectIdentifier(MQTTCtl.self) ? subcommands : command.configuration.subcommands
    }

    func run() throws {
        throw CommandFailure(.usage, "missing subcommand; see 'mqttctl --help'")
    }

    /// Our own entry point: argv is preprocessed first, and every error becomes
    /// one line on stderr plus a documented exit status (ExitStatus).
    nonisolated static func main() {
        StandardStreams.reserve()
        // Process policy is the command's: SIGINT/SIGTERM end the loop (and a
        // blocking connect) so that we can still send DISCONNECT; SIGPIPE is ignored.
        Signals.install()
        let raw = rawArguments()
        do {
            var arguments = try ArgumentPreprocessor.process(raw)
            if let dropIn = DropIn(programName: CommandLine.arguments.first ?? "") {
                // mosquitto_pub, mosquitto_sub, mosquitto_rr (a symlink): that client.
                DropIn.current = dropIn
                arguments = try dropIn.arguments(arguments)
            } else {
                let names = subcommandNames(in: arguments)
                arguments = try Defaults.apply(
                    to: arguments.prefix(names)
                        + OptionsFile.expand(Array(arguments.dropFirst(names)), names: Array(arguments.prefix(names))))
            }
            var command = try parseSubcommand(arguments) ?? parseAsRoot(arguments)
            try command.run()
            Glibc.exit(0)
        } catch {
            Glibc.exit(report(error, arguments: CommandLine.arguments))
        }
    }

    /// argv after the program name, as bytes. A loop, not closures: a closure here
    /// is inferred to be on the main actor (ParsableCommand is), and its isolation
    /// check would start the concurrency runtime and libdispatch for nothing.
    nonisolated static func rawArguments() -> [[UInt8]] {
        var raw: [[UInt8]] = []
        raw.reserveCapacity(Int(CommandLine.argc))
        for index in 1..<max(1, Int(CommandLine.argc)) {
            guard let cString = CommandLine.unsafeArgv[index] else {
                raw.append([])
                continue
            }
            raw.append(Array(UnsafeRawBufferPointer(start: cString, count: strlen(cString))))
        }
        return raw
    }

    /// Prints `error` the mqttctl way and returns the exit status.
    static func report(_ error: Error, arguments: [String]) -> Int32 {
        if let failure = error as? CommandFailure {
            if !failure.message.isEmpty { Diagnostics.error(failure.message, force: failure.status == .usage) }
            return failure.status.rawValue
        }
        if let error = error as? MQTTError {
            return report(CommandFailure(error), arguments: arguments)
        }
        if let code = error as? ExitCode {
            return code.rawValue
        }
        // swift-argument-parser: help, --version and completion scripts are clean
        // exits, but a help that could not be written is no success.
        let code = exitCode(for: error)
        if code == .success {
            return writeToStdout(fullMessage(for: error) + "\n")
        }
        let raw = MQTTCtl.message(for: error)
        var message = raw
        if message.hasPrefix("Error: ") { message.removeFirst(7) }
        message = message.lowercasedFirst
        // A line of an options file that brought the error in is named.
        if let origin = OptionsFile.origin(of: raw) { message = "\(origin): \(message)" }
        let helpCommand = helpCommand(for: arguments)
        // The whole message: it may quote a value with a newline in it, which
        // Diagnostics shows as an escape, on one line.
        Diagnostics.error("\(message) (see '\(helpCommand)')", force: true)
        return ExitStatus.usage.rawValue
    }
}

extension MQTTCtl {
    /// Writes `text` to stdout; 0, or 1 with one error line when it could not be
    /// written (a full disk, a closed stdout). A closed pipe is the reader's
    /// choice: quietly 141, as a tool killed by SIGPIPE.
    static func writeToStdout(_ text: String) -> Int32 {
        let output = OutputBuffer()
        output.append(text)
        output.flush()
        if output.closed { return ExitStatus.outputClosed.rawValue }
        if let failed = output.failure {
            Diagnostics.error("cannot write to stdout: \(StandardStreams.describe(errno: failed, fd: 1))")
            return ExitStatus.failure.rawValue
        }
        return ExitStatus.success.rawValue
    }

    /// "mqttctl probe keepalive --help" for the (nested) subcommand named at the
    /// start of `arguments`, so a usage error points at the right help.
    static func helpCommand(for arguments: [String]) -> String {
        if let dropIn = DropIn.current { return "\(dropIn.rawValue) --help" }
        var words = ["mqttctl"]
        var candidates = subcommands
        for word in arguments.dropFirst() {
            guard let match = candidates.first(where: { $0.configuration.commandName == word }) else { break }
            words.append(word)
            candidates = match.configuration.subcommands
        }
        return words.joined(separator: " ") + " --help"
    }
}

extension MQTTCtl {
    /// How many of the first arguments name a (nested) subcommand: `pub`, `probe takeover`.
    static func subcommandNames(in arguments: [String]) -> Int {
        var count = 0
        var candidates = subcommands
        while let word = arguments.dropFirst(count).first,
            let match = candidates.first(where: { $0.configuration.commandName == word })
        {
            count += 1
            candidates = match.configuration.subcommands
        }
        return count
    }
}

extension MQTTCtl {
    /// `mqttctl pub ...` parsed by `Publish` alone, as if it were the root command:
    /// the start-up path. Parsed from the root, swift-argument-parser rebuilds the
    /// subcommand's whole option table by reflection for every argument that names
    /// it (`includesPassthroughArguments`, twice) before parsing it again itself,
    /// which is most of a one-shot publish's start-up (bench/README.md).
    ///
    /// Only a complete success counts: the command itself parsed and validated. nil
    /// for anything else — help, --version, completion scripts, any error, a
    /// subcommand with subcommands — and the caller parses from the root, so every
    /// message (usage lines, "mqttctl pub --help", errors) is exactly the root's.
    /// Validation has no side effect but `--quiet`, which is put back.
    ///
    /// `pub` is tried as `QuickPublish` first, the options a one-shot publish
    /// uses (half of its start-up is swift-argument-parser's work per declared
    /// option), when argv names none but its own (`QuickPublish.mayTake`),
    /// then as `Publish`.
    static func parseSubcommand(_ arguments: [String]) -> ParsableCommand? {
        guard let name = arguments.first,
            let subcommand = subcommands.first(where: { $0.configuration.commandName == name }),
            subcommand.configuration.subcommands.isEmpty
        else { return nil }
        let quiet = Diagnostics.quiet
        if ObjectIdentifier(subcommand) == ObjectIdentifier(Publish.self), QuickPublish.mayTake(arguments.dropFirst()),
            let command = try? QuickPublish.parseAsRoot(Array(arguments.dropFirst())),
            ObjectIdentifier(type(of: command)) == ObjectIdentifier(QuickPublish.self)
        {
            return command
        }
        Diagnostics.quiet = quiet
        if let command = try? subcommand.parseAsRoot(Array(arguments.dropFirst())),
            ObjectIdentifier(type(of: command)) == ObjectIdentifier(subcommand)
        {
            return command
        }
        Diagnostics.quiet = quiet
        return nil
    }
}

extension String {
    var lowercasedFirst: String {
        guard let first, !(dropFirst().first?.isUppercase ?? false) else { return self }
        return first.lowercased() + dropFirst()
    }
}
