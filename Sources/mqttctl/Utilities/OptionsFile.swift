import ArgumentParser
import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

/// Options files: `-o FILE` on every subcommand (any option the subcommand
/// takes, one per line, the config file's syntax), and mosquitto's own
/// `$XDG_CONFIG_HOME/mosquitto_pub` (drop-in mode, mosquitto's syntax). A file
/// is never parsed here: its lines become arguments, inserted right after the
/// subcommand's name, before the command line's, and swift-argument-parser
/// parses them with the rest. So the command line wins for an option that takes
/// one value, repeatable options (sub's -t, -T, -U, -D) add up as in mosquitto's
/// files, and a bad line gets the parser's own message, with the file and line
/// in front (see `attribute`).
enum OptionsFile {
    enum Dialect {
        /// mqttctl's config file: the line trimmed, `#` after leading blanks, `--name=value`.
        case mqttctl
        /// mosquitto's (client_shared.c): `#` in column 0, the name up to the
        /// first space, the value all the rest (spaces included), CR/LF dropped.
        case mosquitto
    }

    /// One line's arguments and where they came from.
    struct Line {
        let path: String
        let number: Int
        let arguments: [String]
        var origin: String { "\(path):\(number)" }
    }

    /// The OPTIONS FILES and DROP-IN MODE sections of `mqttctl --help` (and the man page).
    static let helpText = """
        OPTIONS FILES
        -o FILE (every subcommand, repeatable) reads options from FILE: any option the \
        subcommand takes, one per line, as in the config file (# comments, the value after the \
        first space, ~/ expanded; -D publish user-property KEY VALUE). They are parsed with the \
        command line and checked alike; a bad line is one error naming FILE and the line. The \
        command line wins; repeatable options (sub -t, -T, -U, -D) add up, as in mosquitto's \
        options files. Precedence: command line, -o files, environment, config file.

        DROP-IN MODE
        Run through a symlink named mosquitto_pub, mosquitto_sub or mosquitto_rr (make \
        install-compat puts them in $PREFIX/lib/mqttctl/compat), mqttctl is that client: it \
        reads $XDG_CONFIG_HOME/mosquitto_pub (else ~/.config/mosquitto_pub; _sub, _rr) in \
        mosquitto's syntax and takes exactly that client's options (2.0.11), with mqttctl's \
        exit statuses and guarantees; mqttctl's config file and MQTTCTL_* do not apply, and \
        mosquitto_rr sends no correlation data.

        """

    /// The lines read for this run, and the arguments around them, for error messages.
    nonisolated(unsafe) static var loaded: [Line] = []
    nonisolated(unsafe) static var names: [String] = []
    nonisolated(unsafe) static var commandLine: [String] = []

    /// The arguments of `path`'s lines; nil when the file does not exist and `optional`.
    static func read(_ path: String, dialect: Dialect, optional: Bool = false) throws(CommandFailure) -> [Line]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if optional && (e == ENOENT || e == ENOTDIR) { return nil }
            throw .usage("cannot read the options file '\(path)': \(String(cString: strerror(e)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR else {
            throw .usage("cannot read the options file '\(path)': it is a directory")
        }
        let bytes: [UInt8]
        do {
            bytes = try InputReading.readSmall(fd)
        } catch {
            throw .usage("cannot read the options file '\(path)': \(InputReading.reason(error))")
        }
        let lines = try parse(bytes, path: path, dialect: dialect)
        if lines.contains(where: { ["-P", "--pw", "--password"].contains($0.arguments.first ?? "") }) {
            try Credentials.checkPrivate(path: path, mode: st.st_mode, what: "options file (it holds a password)")
        }
        return lines
    }

    /// Splits the file into lines of arguments. Only the line's shape is checked
    /// here (an option, a value where one is needed); the parser checks the rest.
    static func parse(_ bytes: [UInt8], path: String, dialect: Dialect) throws(CommandFailure) -> [Line] {
        var result: [Line] = []
        for (index, raw) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let origin = "\(path):\(index + 1)"
            guard let text = String(validating: raw, as: UTF8.self) else {
                throw .usage("\(origin): not valid UTF-8")
            }
            var name: String
            var value: String?
            switch dialect {
            case .mqttctl:
                let line = Defaults.trimmed(text)
                if line.isEmpty || line.hasPrefix("#") { continue }
                if let space = line.firstIndex(where: { $0 == " " || $0 == "\t" }) {
                    name = String(line[..<space])
                    value = Defaults.trimmed(String(line[space...]))
                } else {
                    name = line
                }
                if name.hasPrefix("--"), let eq = name.firstIndex(of: "="), value == nil {
                    value = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
            case .mosquitto:
                if text.hasPrefix("#") { continue }
                var line = Substring(text)
                while let last = line.last, last == "\r" || last == "\n" { line = line.dropLast() }
                line = line.drop(while: { $0 == " " })
                if line.isEmpty { continue }
                if let space = line.firstIndex(of: " ") {
                    name = String(line[..<space])
                    let rest = line[line.index(after: space)...]
                    value = rest.isEmpty ? nil : String(rest)
                } else {
                    name = String(line)
                }
            }
            guard name.hasPrefix("-") else {
                throw .usage("\(origin): expected an option such as '-h broker.example', found '\(name)'")
            }
            if name == "-o" || name == "--options-file" {
                throw .usage("\(origin): an options file cannot name another (-o)")
            }
            if name == "-D" || name == "--property" {
                // mosquitto_pub -D command name value: the words of the value.
                guard let value else {
                    throw .usage("\(origin): '\(name)' needs a command, a property name and a value")
                }
                let words = value.split(separator: " ", maxSplits: 1).map(String.init)
                let width =
                    words.count > 1 && MQTTProperties.takesTwoValues(String(words[1].prefix(while: { $0 != " " })))
                    ? 3 : 2
                let parts = value.split(separator: " ", maxSplits: width, omittingEmptySubsequences: true).map(
                    String.init)
                guard parts.count == width + 1 else {
                    throw .usage(
                        "\(origin): '\(name) \(value)' needs a command, a property name and \(width == 3 ? "a key and a value" : "a value")"
                    )
                }
                let joined: [String]
                do {
                    joined = try ArgumentPreprocessor.joinPropertyOptions([name] + parts)
                } catch {
                    throw .usage("\(origin): \(error.message)")
                }
                result.append(Line(path: path, number: index + 1, arguments: joined))
                continue
            }
            let bare = name.split(separator: "=", maxSplits: 1).first.map(String.init) ?? name
            if ArgumentPreprocessor.takesValue(bare) {
                guard let value, !value.isEmpty else { throw .usage("\(origin): '\(name)' needs a value") }
                var given = value
                if dialect == .mqttctl { given = Defaults.expandingTilde(given) }
                // One argument, so a value starting with '-' stays a value.
                result.append(
                    Line(
                        path: path, number: index + 1,
                        arguments: name.hasPrefix("--") ? ["\(name)=\(given)"] : [name, given]))
            } else {
                if value != nil { throw .usage("\(origin): '\(name)' takes no value") }
                result.append(Line(path: path, number: index + 1, arguments: [name]))
            }
        }
        return result
    }

    /// `arguments` (the subcommand's, after its name) with every `-o FILE`
    /// expanded: the files' lines come first, in the order given, then the
    /// command line as it was (`-o FILE` stays, for the parser to see).
    static func expand(_ arguments: [String], names: [String] = []) throws(CommandFailure) -> [String] {
        Self.names = names
        var files: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--" { break }
            if argument == "-o" || argument == "--options-file" {
                guard i + 1 < arguments.count else { break }  // the parser says the value is missing
                files.append(arguments[i + 1])
                i += 2
                continue
            }
            if argument.hasPrefix("--options-file=") {
                files.append(String(argument.dropFirst("--options-file=".count)))
            }
            i += ArgumentPreprocessor.takesValue(argument) ? 2 : 1
        }
        guard !files.isEmpty else { return arguments }
        var lines: [Line] = []
        for file in files {
            lines += try read(Defaults.expandingTilde(file), dialect: .mqttctl) ?? []
        }
        return inserting(lines, before: arguments)
    }

    /// The file's lines, less those the command line overrides as a group (a
    /// password given one way replaces the file's given another way, -i the
    /// file's -I, -L its host and port...), then the command line.
    static func inserting(_ lines: [Line], before arguments: [String]) -> [String] {
        let scan = Defaults.scanCommandLine(arguments)
        var given = scan.options
        if scan.url != nil { given.insert("--url") }
        let drop = Defaults.superseded(by: given, url: scan.url)
        let kept = lines.filter { line in
            guard let option = line.arguments.first?.split(separator: "=", maxSplits: 1).first.map(String.init) else {
                return true
            }
            let long: String? =
                switch option {
                case "-i", "--id": "--id"
                case "-L", "--url": "--url"
                default: Defaults.spec(named: option)?.long
                }
            guard let long else { return true }
            return !drop.contains(long)
        }
        loaded += kept
        commandLine = arguments
        return kept.flatMap(\.arguments) + arguments
    }

    /// When parsing failed with `message` and files were read: the file line that
    /// brings the failure in (the first prefix of the file lines that fails the
    /// same way), as "FILE:LINE"; nil when the command line alone fails so, or
    /// no prefix does.
    static func origin(of message: String) -> String? {
        guard !loaded.isEmpty else { return nil }
        let names = DropIn.current.map { [$0.subcommand] } ?? Self.names
        func fails(_ count: Int) -> Bool {
            let arguments = names + loaded.prefix(count).flatMap(\.arguments) + commandLine
            do {
                _ = try MQTTCtl.parseAsRoot(arguments)
                return false
            } catch {
                return MQTTCtl.message(for: error) == message
            }
        }
        if fails(0) { return nil }
        for count in 1...loaded.count where fails(count) {
            return loaded[count - 1].origin
        }
        return nil
    }
}
