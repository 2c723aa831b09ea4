import ArgumentParser
import Mosquitto

/// What `pub` publishes and how: the message source (exactly one of -m, -f,
/// -s, -l, -n), topic, QoS, retain, repetition and the in-flight window. A
/// group so that `Publish` and the one-shot `QuickPublish` declare them once.
struct PublishOptions: ParsableArguments {
    @Option(name: [.short, .long], parsing: .unconditional, help: "Topic to publish to (or the topic of -L).")
    var topic: String?

    @Option(name: [.short, .customLong("message")], parsing: .unconditional, help: "Message payload.")
    var message: String?

    @Option(
        name: [.short, .customLong("file")], parsing: .unconditional,
        help: ArgumentHelp("Send the content of a file as the message.", valueName: "path"))
    var file: String?

    @Flag(name: [.short, .customLong("stdin-file")], help: "Send all of stdin as one message.")
    var stdinFile = false

    @Flag(
        name: [.customShort("l"), .customLong("stdin-line")],
        help: "Send each line of stdin as a message (the newline is not sent).")
    var stdinLine = false

    @Flag(name: [.short, .customLong("null-message")], help: "Send an empty message.")
    var nullMessage = false

    // The numbers below are optional, their defaults written in the help and
    // applied by the properties after them: for an Int or Double option with a
    // default value, swift-argument-parser describes the default at every parse
    // (five protocol-conformance scans, 0.8 M instructions; bench/README.md).
    @Option(
        name: [.customShort("q"), .customLong("qos")], parsing: .unconditional,
        help: ArgumentHelp("Quality of service: 0, 1 or 2 (default: 0).", valueName: "qos"))
    var givenQoS: Int?
    var qos: Int { givenQoS ?? 0 }

    @Flag(name: [.short, .long], help: "Ask the broker to retain the message.")
    var retain = false

    @Option(
        name: .customLong("repeat"), parsing: .unconditional,
        help: ArgumentHelp("Publish the message this many times (default: 1).", valueName: "count"))
    var givenRepeatCount: Int?
    var repeatCount: Int { givenRepeatCount ?? 1 }

    @Option(
        name: .customLong("repeat-delay"), parsing: .unconditional,
        help: ArgumentHelp("Seconds between repeated messages (fractions allowed; default: 0).", valueName: "seconds"))
    var givenRepeatDelay: Double?
    var repeatDelay: Double { givenRepeatDelay ?? 0 }

    @Option(
        name: [.customShort("M"), .customLong("max-inflight")],
        parsing: .unconditional,
        help: ArgumentHelp(
            "Messages kept in flight (sent, not yet acknowledged) at once (default: 20).", valueName: "count"))
    var givenMaxInflight: Int?
    var maxInflight: Int { givenMaxInflight ?? 20 }

    @Option(
        name: .customLong("ack-timeout"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "Give up when no acknowledgement arrives for this many seconds while messages are outstanding (default: 30).",
            valueName: "seconds"))
    var givenAckTimeout: Double?
    var ackTimeout: Double { givenAckTimeout ?? 30 }

    func validate() throws {
        let sources = [message != nil, file != nil, stdinFile, stdinLine, nullMessage].filter { $0 }.count
        if sources == 0 {
            throw ValidationError(
                "no message given: use one of -m MESSAGE, -f FILE, -s (stdin), -l (stdin lines) or -n (empty)")
        }
        if sources > 1 {
            throw ValidationError("only one of -m, -f, -s, -l and -n can be used")
        }
        if !(0...2).contains(qos) {
            throw ValidationError("-q \(qos): QoS must be 0, 1 or 2")
        }
        if let topic, let problem = Topic.problemWithName(topic) {
            throw ValidationError("invalid topic: \(problem)")
        }
        if repeatCount < 1 {
            throw ValidationError("invalid --repeat \(repeatCount): use 1 or more")
        }
        if repeatCount > 1 && stdinLine {
            throw ValidationError("--repeat cannot be used with -l")
        }
        try Seconds.check(repeatDelay, option: "--repeat-delay", allowZero: true, maximum: Seconds.oneDay)
        if !(1...65535).contains(maxInflight) {
            throw ValidationError("invalid -M \(maxInflight): use 1 to 65535")
        }
        try Seconds.check(ackTimeout, option: "--ack-timeout", maximum: Seconds.oneYear)
    }
}
