import Mosquitto

#if canImport(Glibc)
import Glibc
#endif

/// The parsers of user input, each fed arbitrary bytes: by libFuzzer in a fuzz
/// build (`scripts/fuzz`, through `FuzzEntry.swift`), and by the tests, which
/// replay every input the fuzzer ever found trouble with
/// (`Tests/mqttctlTests/FuzzRegressions/<target>/`). A target must return for
/// any input: a value or an error is fine, a trap, a hang or a stray memory
/// access is a bug.
enum FuzzTargets {
    static let names = ["format", "url", "property", "config", "topic", "arguments", "log-line"]

    /// Runs target `name` on `data`; false for an unknown name.
    @discardableResult
    static func run(_ name: String, _ data: UnsafeRawBufferPointer) -> Bool {
        switch name {
        case "format": format(data)
        case "url": url(data)
        case "property": property(data)
        case "config": config(data)
        case "topic": topic(data)
        case "arguments": arguments(data)
        case "log-line": logLine(data)
        default: return false
        }
        return true
    }

    /// The bytes before the first NUL, and after it.
    private static func split(_ data: UnsafeRawBufferPointer) -> ([UInt8], [UInt8]) {
        let bytes = Array(data)
        guard let nul = bytes.firstIndex(of: 0) else { return (bytes, []) }
        return (Array(bytes[..<nul]), Array(bytes[(nul + 1)...]))
    }

    /// Words separated by NUL, as argv would hold them.
    private static func words(_ data: UnsafeRawBufferPointer) -> [[UInt8]] {
        Array(data).split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
    }

    private static func text(_ bytes: [UInt8]) -> String? {
        String(validating: bytes, as: UTF8.self)
    }

    nonisolated(unsafe) private static let sink = OutputBuffer(fd: open("/dev/null", O_WRONLY | O_CLOEXEC))

    /// Properties every renderer can show (%A %C %D %E %F %P %R %S, --json).
    nonisolated(unsafe) private static let propertyList = PropertyList(
        MQTTProperties([
            .init(identifier: MQTTProperties.payloadFormatIndicator, value: .byte(1)),
            .init(identifier: MQTTProperties.messageExpiryInterval, value: .uint32(120)),
            .init(identifier: MQTTProperties.contentType, value: .string("text/plain")),
            .init(identifier: MQTTProperties.responseTopic, value: .string("reply/here")),
            .init(identifier: MQTTProperties.correlationData, value: .binary([0, 1, 0xFF])),
            .init(identifier: MQTTProperties.userProperty, value: .pair("key", "välue")),
            .init(identifier: MQTTProperties.topicAlias, value: .uint16(3)),
        ]))

    /// `-F FORMAT`: the format (before the first NUL) is compiled, then a
    /// message carrying the rest as payload is rendered by it, by --json and by
    /// the plain renderer.
    static func format(_ data: UnsafeRawBufferPointer) {
        let (formatBytes, payload) = split(data)
        guard let format = text(formatBytes) else { return }
        let topic: [UInt8] = Array("fuzz/tópic".utf8)
        var renderers: [MessageRenderer] = [JSONRenderer(), PlainRenderer(verbose: true, endOfLine: true)]
        if let compiled = try? FormatRenderer(format: format, endOfLine: payload.count % 2 == 0) {
            // mosquitto_sub pads to any width; a test input must not print gigabytes.
            if compiled.largestWidth <= 4096 { renderers.append(compiled) }
        }
        topic.withUnsafeBytes { topic in
            payload.withUnsafeBytes { payload in
                let message = ReceivedMessage(
                    mid: 42, qos: 1, retain: true, topic: topic, payload: payload,
                    properties: propertyList)
                for renderer in renderers { renderer.render(message, into: sink) }
            }
        }
        sink.flush()
    }

    /// `-L URL`.
    static func url(_ data: UnsafeRawBufferPointer) {
        guard let url = text(Array(data)) else { return }
        _ = try? BrokerURL(parsing: url)
        _ = BrokerURL.redacted(url)
    }

    /// `-D command name value...`: grouped as argv is, then parsed and turned
    /// into a libmosquitto list.
    static func property(_ data: UnsafeRawBufferPointer) {
        let parts = words(data).compactMap(text)
        guard let joined = try? ArgumentPreprocessor.joinPropertyOptions(["-D"] + parts) else { return }
        for item in joined.dropFirst() {
            let words = item.split(separator: PropertyOptions.separator, omittingEmptySubsequences: false).map(
                String.init)
            guard words.count >= 3,
                let (_, parsed) = try? MQTTProperties.parse(
                    command: words[0], name: words[1], values: Array(words[2...]))
            else { continue }
            let properties = MQTTProperties([parsed])
            _ = properties.encodedLength
            _ = PropertyList(properties)
        }
    }

    /// A config file.
    static func config(_ data: UnsafeRawBufferPointer) {
        _ = try? Defaults.parseConfig(Array(data), path: "fuzz")
    }

    /// Topic names and filters (before and after the first NUL), and matching.
    static func topic(_ data: UnsafeRawBufferPointer) {
        let (first, second) = split(data)
        // The topic must be text, as a received one is after the UTF-8 check.
        guard let a = text(first), text(second) != nil else { return }
        _ = Topic.problemWithName(a)
        _ = Topic.problemWithFilter(a)
        second.withUnsafeBytes { _ = Topic.matches(filter: a, topic: $0) }
    }

    /// A whole command line (words separated by NUL): argv checks, the -D
    /// grouping, the defaults scan, then swift-argument-parser and every
    /// validate() (nothing runs).
    static func arguments(_ data: UnsafeRawBufferPointer) {
        guard let arguments = try? ArgumentPreprocessor.process(words(data)) else { return }
        _ = Defaults.scanCommandLine(Array(arguments.dropFirst()))
        _ = try? MQTTCtl.parseAsRoot(arguments)
    }

    /// libmosquitto's log lines, from which `sub` counts PUBRECs.
    static func logLine(_ data: UnsafeRawBufferPointer) {
        guard let line = text(Array(data)) else { return }
        _ = Acknowledgements.pubrecMessageID(line)
    }
}
