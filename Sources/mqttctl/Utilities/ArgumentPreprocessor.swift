import Mosquitto

/// Rewrites argv before swift-argument-parser sees it:
/// - every argument must be valid UTF-8 (a topic or message that is not would
///   otherwise be silently "repaired" into U+FFFD and published wrong);
/// - mosquitto's `-D command name value` (four words for user-property) becomes
///   one `--property` argument, since an option of variable arity cannot be
///   declared directly.
enum ArgumentPreprocessor {
    static func process(_ rawArguments: [[UInt8]]) throws(CommandFailure) -> [String] {
        var arguments: [String] = []
        for (index, bytes) in rawArguments.enumerated() {
            guard let text = String(validating: bytes, as: UTF8.self) else {
                let shown = String(decoding: bytes, as: UTF8.self)
                throw .usage(
                    "argument \(index + 1) ('\(shown)') is not valid UTF-8; topics must be UTF-8, and binary payloads can come from -f FILE or -s"
                )
            }
            arguments.append(text)
        }
        return try joinPropertyOptions(arguments)
    }

    /// Every option that takes a value, in any subcommand. Values are taken
    /// whatever they look like, as mosquitto's clients take them (`-m -5`,
    /// `-t -x`, `-F '-%p'`): swift-argument-parser does so for options declared
    /// with `parsing: .unconditional`, and argv scans here and in `Defaults`
    /// must skip these values too (`-m -D` is a message, not a property). A test
    /// checks this list against the parser's own.
    static let valueOptions: [String] = [
        "--ack-timeout", "--b-host", "--b-port", "--backoff", "--bind-address", "--cafile", "--capath",
        "--cert", "--ciphers", "--connect-timeout", "--count", "--file", "--filter-out", "--format", "--grace",
        "--host", "--id", "--id-prefix", "--interval", "--junit", "--keepalive", "--key", "--keyform",
        "--max-inflight", "--max-payload", "--max-wait", "--message", "--observer-host", "--observer-port",
        "--options-file", "--password", "--password-file", "--port", "--property", "--protocol",
        "--protocol-version", "--proxy", "--psk", "--psk-identity", "--pw", "--qos", "--random-filter",
        "--repeat", "--repeat-delay", "--require", "--response-topic", "--retain-handling", "--samples",
        "--session-expiry", "--spread", "--timeout", "--tls-alpn", "--tls-engine", "--tls-engine-kpass-sha1",
        "--tls-version", "--topic", "--topic-prefix", "--unix", "--unsubscribe", "--url", "--username",
        "--will-delay", "--will-payload", "--will-qos", "--will-topic", "--ws-header", "--ws-path", "-A", "-C",
        "-D", "-F", "-I", "-L", "-M", "-P", "-T", "-U", "-V", "-W", "-e", "-f", "-h", "-i", "-k", "-m", "-o",
        "-p", "-q", "-t", "-u", "-x",
    ]

    /// Whether `name` is an option that takes a value (binary search: the list
    /// is sorted, which a test checks; a `Set` of it cost every start 270 K
    /// instructions of hashing).
    static func takesValue(_ name: String) -> Bool {
        valueOptions.sortedContains(name)
    }

    /// An argument as an option name and the value written after `=`, which
    /// only a long option carries (`--topic=a/b`); any other argument is its
    /// own name, with no value.
    static func optionName(in argument: String) -> (name: String, inlineValue: String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }

    static func joinPropertyOptions(_ arguments: [String]) throws(CommandFailure) -> [String] {
        var result: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--" {
                result.append(contentsOf: arguments[i...])
                break
            }
            guard argument == "-D" || argument == "--property" else {
                result.append(argument)
                i += 1
                if takesValue(argument), i < arguments.count {
                    // A value, even one spelled like an option (`-m -D`).
                    result.append(arguments[i])
                    i += 1
                }
                continue
            }
            let available = arguments.count - (i + 1)
            guard available >= 3 else {
                throw .usage("-D needs a command, a property name and a value, e.g. -D publish content-type text/plain")
            }
            let width = MQTTProperties.takesTwoValues(arguments[i + 2]) ? 4 : 3
            guard available >= width else {
                throw .usage("-D \(arguments[i + 1]) \(arguments[i + 2]) needs a key and a value")
            }
            let words = arguments[(i + 1)...(i + width)]
            // Spelled as given, so that an error names the option the user wrote.
            result.append(argument)
            result.append(words.joined(separator: String(PropertyOptions.separator)))
            i += 1 + width
        }
        return result
    }
}
