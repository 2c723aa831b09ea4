import ArgumentParser

/// Options every probe takes: output form, how long to wait, how much slack
/// to give a broker that counts in whole seconds, where made-up topics go.
struct ProbeOptions: ParsableArguments {
    @Flag(
        name: .customLong("json"),
        help: "Print one JSON document with the results (no progress line, no notes on stderr).")
    var json = false

    @Option(
        name: .customLong("junit"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "Also write the results as a JUnit XML report to FILE (one test case per probe and version; for CI test reporters).",
            valueName: "file"))
    var junit: String?

    @Flag(
        name: .customLong("strict"),
        help:
            "Fail on warnings too: SHOULD, MAY and non-normative expectations (an early drop, a refused keep-alive, no DISCONNECT 0x8E, a late will)."
    )
    var strict = false

    @Option(
        name: .customLong("max-wait"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "Longest wait for the broker to close a connection: the silent one (keepalive; default twice the limit, at most 300 s, 20 s for K=0) or the old one (takeover; default 5 s). Also bounds every other wait (wills: 300 s by default).",
            valueName: "seconds"))
    var maxWait: Double?

    @Option(
        name: .customLong("grace"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "Seconds added to every limit and window, for brokers with whole-second clocks.", valueName: "seconds"))
    var grace: Double = 1

    @Option(
        name: .customLong("topic-prefix"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "Prefix of the topics the probes make up (carry-over check, wills of 'probe').", valueName: "topic"))
    var topicPrefix: String = "mqttctl/probe"

    func validate() throws {
        if let maxWait, !(maxWait > 0) || maxWait > 31_536_000 {
            throw ValidationError("invalid --max-wait \(maxWait): use a number of seconds above 0")
        }
        if !(grace >= 0) || grace > 86400 {
            throw ValidationError("invalid --grace \(grace): use 0 or more seconds")
        }
        if topicPrefix.contains("+") || topicPrefix.contains("#") || topicPrefix.isEmpty {
            throw ValidationError("invalid --topic-prefix '\(topicPrefix)': use a topic name without wildcards")
        }
    }
}

/// The keep-alive values of a sweep and the backoff that sets the limit.
struct KeepAliveSweepOptions: ParsableArguments {
    @Option(
        name: [.short, .customLong("keepalive")], parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "Keep-alive to probe: 0 or 5 to 65535 (libmosquitto's range); repeat to sweep, all at once (default: 5).",
            valueName: "seconds"),
        transform: KeepAlive.value)
    var keepAlives: [Int] = []

    @Option(
        name: .customLong("backoff"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "The limit is K × backoff × 2 + grace; 0.75 gives the specification's 1.5 × K.", valueName: "factor"))
    var backoff: Double = 0.75

    @Option(
        name: .customLong("samples"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "Silent clients per keep-alive, started one after the other over --spread: min/median/max drop times and the broker's check period (default: 1).",
            valueName: "n"))
    var samples: Int = 1

    @Option(
        name: .customLong("spread"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "With --samples: seconds over which the samples of one keep-alive start (default: K, at most 10).",
            valueName: "seconds"))
    var spread: Double?

    var values: [Int] { keepAlives.isEmpty ? [5] : keepAlives }

    func validate() throws {
        var seen = Set<Int>()
        for k in keepAlives {
            if !seen.insert(k).inserted {
                throw ValidationError("-k \(k) is given twice")
            }
        }
        if keepAlives.count > 32 {
            throw ValidationError("at most 32 keep-alive values at once")
        }
        if !(1...20).contains(samples) {
            throw ValidationError("invalid --samples \(samples): use 1 to 20")
        }
        if let spread, !(spread >= 0) || spread > 3600 {
            throw ValidationError("invalid --spread \(spread): use 0 to 3600 seconds")
        }
        if spread != nil && samples == 1 {
            throw ValidationError("--spread applies to --samples 2 or more")
        }
        if !(backoff > 0) || backoff > 100 {
            throw ValidationError(
                "invalid --backoff \(backoff): use a factor above 0 (0.75 is the specification's 1.5 × K)")
        }
    }
}
