import Foundation
import Testing
@testable import mqttctl

/// An option's value is the next argument, whatever it starts with, as with
/// mosquitto's clients: `-m -5` is a negative temperature, `-t -x` a topic.
@Suite struct OptionValueTests {
    /// (subcommand path, option names) of every option that takes a value, as
    /// the parser itself describes them.
    func valueOptions(distinct: Bool = false) throws -> [(command: [String], names: [String])] {
        let dump = try mqttctl(["--experimental-dump-help"])
        let root = try #require(try JSONSerialization.jsonObject(with: dump.stdoutData) as? [String: Any])
        var found: [([String], [String])] = []
        var seen = Set<String>()
        func walk(_ command: [String: Any], _ path: [String]) {
            for argument in command["arguments"] as? [[String: Any]] ?? [] where argument["kind"] as? String == "option"
            {
                let names = (argument["names"] as? [[String: Any]] ?? []).compactMap { name -> String? in
                    guard let text = name["name"] as? String else { return nil }
                    return (name["kind"] as? String == "short" ? "-" : "--") + text
                }
                // One declaration (an option group shared by subcommands) behaves the same everywhere.
                let declaration = names.joined(separator: ",") + "|" + (argument["abstract"] as? String ?? "")
                if distinct && !seen.insert(declaration).inserted { continue }
                found.append((path, names))
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                walk(sub, path + [sub["commandName"] as? String ?? "?"])
            }
        }
        walk(try #require(root["command"] as? [String: Any]), [])
        return found
    }

    @Test func theListOfValueOptionsIsTheParsersOwn() throws {
        let names = Set(try valueOptions().flatMap(\.names))
        #expect(
            names == Set(ArgumentPreprocessor.valueOptions),
            "missing: \(names.subtracting(ArgumentPreprocessor.valueOptions)), extra: \(Set(ArgumentPreprocessor.valueOptions).subtracting(names))"
        )
    }

    /// Every subcommand, the probes included; eight invocations at a time.
    @Test func everyValueOptionTakesAValueStartingWithADash() async throws {
        let closedPort = try TestBroker.freePort()
        var runs: [(String, [String])] = []
        for (command, names) in try valueOptions(distinct: true)
        where ["pub", "sub", "rr", "ping", "conn", "probe"].contains(command.first ?? "") {
            for name in names {
                let base =
                    command + ["-p", "\(closedPort)", "--connect-timeout", "5"]
                    + (command == ["pub"] ? ["-t", "a", "-m", "x"] : []) + (command == ["sub"] ? ["-t", "a"] : [])
                    + (command == ["rr"] ? ["-t", "a", "-e", "r", "-m", "x", "-W", "5"] : [])
                let extra = name == "-D" || name == "--property" ? ["connect", "user-property", "-k", "-v"] : ["-5"]
                runs.append(("\(command) \(name)", base + [name] + extra))
            }
        }
        #expect(runs.count > 80)
        for batch in stride(from: 0, to: runs.count, by: 8).map({ Array(runs[$0..<min($0 + 8, runs.count)]) }) {
            let results = await withTaskGroup(of: (String, RunResult?).self) { group in
                for (label, arguments) in batch {
                    group.addTask { (label, try? await runAsync(arguments, timeout: 30)) }
                }
                var collected: [(String, RunResult?)] = []
                for await item in group { collected.append(item) }
                return collected
            }
            for (label, result) in results {
                guard let result else {
                    Issue.record("\(label): could not run")
                    continue
                }
                #expect(!result.stderr.contains("missing value"), "\(label): \(result)")
                #expect(result.stderrLines.count <= 1, "\(label): \(result)")
                #expect(result.status < 128 && !result.timedOut, "\(label): \(result)")
            }
        }
    }

    @Test func valuesStartingWithADashArriveAsGiven() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let sub = try startSubscriber(["-p", "\(broker.port)", "-t", "-x/\(topic)/#", "-F", "-%t %p", "-C", "2"])
        let pub = try mqttctl([
            "pub", "-p", "\(broker.port)", "-t", "-x/\(topic)/a", "-m", "-5", "-i", "-client-\(topic.suffix(8))",
        ])
        #expect(pub.status == 0, "\(pub)")
        let pubDash = try mqttctl([
            "pub", "-p", "\(broker.port)", "-t", "-x/\(topic)/b", "-m", "-D", "-V", "5", "-x", "-1",
        ])
        #expect(pubDash.status == 0, "\(pubDash)")
        let result = sub.wait(timeout: 10)
        #expect(result.stdout == "--x/\(topic)/a -5\n--x/\(topic)/b -D\n", "\(result)")
        #expect(broker.log.contains("as -client-\(topic.suffix(8))"), "\(broker.log.suffix(300))")
    }

    @Test(arguments: [
        (["pub", "-t", "a", "-m", "x", "-q", "-1"], "-q -1: QoS must be 0, 1 or 2"),
        (["sub", "-t", "a", "-C", "-3"], "invalid -C -3"),
        (
            ["pub", "-t", "a", "-m", "x", "--will-topic", "w", "--will-qos", "-1"],
            "--will-qos -1: QoS must be 0, 1 or 2"
        ),
        (
            ["pub", "-t", "a", "-m", "x", "-k", "-1"],
            "the value '-1' is invalid for '-k <seconds>': use a keep-alive of 0 (off) or 5 to 65535 seconds"
        ),
        (["ping", "-D", "connect", "user-property", "a", "b"], "unknown option '-D'"),
    ])
    func aBadValueGetsTheErrorForThatValue(arguments: [String], text: String) throws {
        let result = try mqttctl(arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains(text), "\(result)")
    }
}
