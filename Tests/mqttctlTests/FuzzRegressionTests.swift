import Foundation
import Testing
@testable import mqttctl

/// Replays, in the normal test run, every input that scripts/fuzz ever kept
/// (Tests/mqttctlTests/FuzzRegressions/TARGET/) and every seed it starts from
/// (fuzz/seeds/TARGET/), through the same entry points libFuzzer calls. A
/// parser that traps on one of them fails this run.
@Suite struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    /// (target, file) for every kept input and seed.
    static var inputs: [(String, URL)] {
        let folders = [
            root.appendingPathComponent("FuzzRegressions"),
            root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fuzz/seeds"),
        ]
        var found: [(String, URL)] = []
        for folder in folders {
            for target in FuzzTargets.names {
                let directory = folder.appendingPathComponent(target)
                let files =
                    (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? []
                found += files.sorted { $0.path < $1.path }.map { (target, $0) }
            }
        }
        return found
    }

    @Test func everyKeptInputAndSeedIsHandled() throws {
        let inputs = Self.inputs
        #expect(inputs.count >= FuzzTargets.names.count, "no seeds found under \(Self.root.path)")
        for (target, file) in inputs {
            let data = try Data(contentsOf: file)
            let known = data.withUnsafeBytes { FuzzTargets.run(target, $0) }
            #expect(known, "\(file.path): unknown target \(target)")
        }
    }

    @Test func theScriptAndTheTargetsAgree() throws {
        let script = try String(
            contentsOf: Self.root.deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("scripts/fuzz"), encoding: .utf8)
        #expect(script.contains("all=\"\(FuzzTargets.names.joined(separator: " "))\""))
    }
}
