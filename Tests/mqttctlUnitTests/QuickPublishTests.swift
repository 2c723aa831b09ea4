import Foundation
import Testing
@testable import mqttctl
import ArgumentParser

/// `QuickPublish`, the one-shot publish's parse, against `Publish`: whatever it
/// takes it must read exactly as `Publish` does, and everything else it must
/// refuse, so that `MQTTCtl.parseSubcommand` falls back to `Publish`.
@Suite struct QuickPublishTests {
    /// Both parses of `arguments`, the parsed groups as text or nil for a refusal;
    /// `Publish`'s only when `QuickPublish` took them (which is all that matters).
    func parses(_ arguments: [String]) -> (quick: String?, full: String?) {
        func text(_ connection: ConnectionOptions, _ options: PublishOptions) -> String {
            var out = ""
            dump(connection, to: &out)
            dump(options, to: &out)
            return out
        }
        let quiet = Diagnostics.quiet
        defer { Diagnostics.quiet = quiet }
        guard let quick = try? QuickPublish.parse(arguments) else { return (nil, nil) }
        let full = (try? Publish.parse(arguments)).map { text($0.connection, $0.options) }
        return (text(quick.connection, quick.options), full)
    }

    let message = ["-t", "a/b", "-m", "hello"]
    let values = ["1", "5", "x"]  // -q 1, -V 5, text

    @Test func aOneShotPublishIsTakenAndReadAsPublishReadsIt() {
        for arguments in [
            message,
            ["-h", "broker", "-p", "1884", "-q", "1", "-r"] + message,
            ["-V", "5", "-i", "id", "-u", "user", "-P", "pw", "-d", "--quiet", "-x", "30"] + message,
            ["-t", "t", "-f", "/dev/null", "--repeat", "3", "--repeat-delay", "0.5", "-M", "4"],
            ["-c", "-I", "prefix", "--connect-timeout", "2", "--no-config", "-t", "t", "-n", "--ack-timeout", "5"],
            ["-t", "t", "-l"],
        ] {
            let (quick, full) = parses(arguments)
            #expect(quick != nil, "\(arguments)")
            #expect(quick == full, "\(arguments)")
            #expect(QuickPublish.mayTake(arguments[...]), "\(arguments): not tried")
        }
    }

    /// Each option of `Publish`, with each of several values: taken by both alike,
    /// or refused by `QuickPublish`; and refused whenever it is not one of its groups'.
    @Test func everyOtherOptionFallsBackToPublish() throws {
        let own = Set(try (declaredOptions(ConnectionOptions.self) + declaredOptions(PublishOptions.self)).flatMap(\.names))
        var taken = 0
        for option in try declaredOptions(Publish.self) {
            for name in option.names where name != "--help" {
                for value in option.takesValue ? values : [""] {
                    let arguments = message + [name] + (option.takesValue ? [value] : [])
                    #expect(QuickPublish.mayTake(arguments[...]) == own.contains(name), "\(arguments)")
                    let (quick, full) = parses(arguments)
                    guard let quick else { continue }
                    taken += 1
                    #expect(own.contains(name), "QuickPublish took \(arguments), which is not its own")
                    #expect(quick == full, "\(arguments): read differently")
                }
            }
        }
        #expect(taken > 20)
    }

    /// The fall-back is whole: help, version, completions and unknown words are `Publish`'s.
    @Test func helpAndErrorsAreNotItsOwn() {
        for arguments in [
            message + ["--help"], message + ["--version"], message + ["--generate-completion-script", "bash"],
            message + ["--experimental-dump-help"], message + ["extra"], message + ["--", "x"], message + ["-k", "30"],
            message + ["-D", "publish", "content-type", "text/plain"], message + ["--will-topic", "w"],
        ] {
            #expect(parses(arguments).quick == nil, "\(arguments)")
        }
    }
}

extension QuickPublishTests {
    /// Values are passed over whatever they look like; long options may carry theirs after `=`.
    @Test func itsPreCheckReadsValuesAsTheParserDoes() {
        for arguments in [
            ["-t", "a", "-m", "-k"], ["-m", "--will-topic", "-t", "t"], ["--topic=a", "--message=-k"],
            ["-t", "a", "-m", "x", "-"], ["-t", "a", "-f", "-"], ["-t", "t", "-m", "--"],
        ] {
            #expect(QuickPublish.mayTake(arguments[...]), "\(arguments)")
        }
        for arguments in [
            ["-t", "a", "-k", "5"], ["-t", "a", "--keepalive=5"], ["-t", "a", "--", "-m"], ["-t", "a", "--cafile", "c"],
            ["-t", "a", "-q1"], ["-t", "a", "--help"], ["-t", "a", "--version"], ["-L", "mqtt://h/t"],
        ] {
            #expect(!QuickPublish.mayTake(arguments[...]), "\(arguments)")
        }
    }

    /// `QuickPublish.optionNames`, which `MQTTCtl.parseSubcommand` reads before
    /// trying it, is exactly its groups' names as the parser has them (but
    /// `--help`, which it never takes), sorted.
    @Test func itsNameListIsItsOptionsNames() throws {
        let names = try (declaredOptions(ConnectionOptions.self) + declaredOptions(PublishOptions.self)).flatMap(\.names)
            .filter { $0 != "--help" }
        #expect(
            Set(names) == Set(QuickPublish.optionNames),
            "missing: \(Set(names).subtracting(QuickPublish.optionNames).sorted()), extra: \(Set(QuickPublish.optionNames).subtracting(names).sorted())"
        )
        #expect(QuickPublish.optionNames == QuickPublish.optionNames.sorted(), "QuickPublish.optionNames is not sorted")
        #expect(Set(QuickPublish.optionNames).count == QuickPublish.optionNames.count)
    }
}
