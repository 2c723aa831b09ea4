#if canImport(Glibc)
import Glibc
#endif

/// A report in the JUnit XML format that CI systems display (GitLab, Jenkins,
/// GitHub test reporters): one `<testsuite>` per group (a protocol version),
/// one `<testcase>` per check, the measured figures in `<system-out>`, a broken
/// rule in `<failure>` with its clause, something that could not be decided
/// in `<skipped>`. The format is the common Ant/Jenkins one (testsuites >
/// testsuite > testcase > failure | error | skipped, system-out).
struct JUnitReport {
    struct Case {
        enum Outcome {
            case passed
            /// `message`: one line (the clause and the finding); `details`: the rest.
            case failed(message: String, type: String, details: String)
            /// Something kept the check from running or from reaching a verdict.
            case skipped(message: String)
            /// The check itself went wrong (not the broker).
            case error(message: String)
        }

        var name: String
        var className: String
        /// Seconds.
        var time: Double
        var outcome: Outcome
        /// Figures and findings that are not failures (warnings, notes).
        var output: String
    }

    struct Suite {
        var name: String
        var cases: [Case]
    }

    var name: String
    var suites: [Suite]
    /// Seconds the whole run took.
    var time: Double
    /// ISO 8601 UTC start time.
    var timestamp: String

    var xml: String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        let all = suites.flatMap(\.cases)
        out +=
            "<testsuites name=\"\(Self.escape(name))\" tests=\"\(all.count)\" failures=\"\(Self.count(all, \.isFailure))\""
        out +=
            " errors=\"\(Self.count(all, \.isError))\" skipped=\"\(Self.count(all, \.isSkipped))\" time=\"\(Self.seconds(time))\">\n"
        for (index, suite) in suites.enumerated() {
            out += "  <testsuite name=\"\(Self.escape(suite.name))\" id=\"\(index)\" tests=\"\(suite.cases.count)\""
            out +=
                " failures=\"\(Self.count(suite.cases, \.isFailure))\" errors=\"\(Self.count(suite.cases, \.isError))\""
            out +=
                " skipped=\"\(Self.count(suite.cases, \.isSkipped))\" time=\"\(Self.seconds(suite.cases.map(\.time).reduce(0, +)))\""
            out += " timestamp=\"\(Self.escape(timestamp))\" hostname=\"localhost\">\n"
            for c in suite.cases {
                out +=
                    "    <testcase name=\"\(Self.escape(c.name))\" classname=\"\(Self.escape(c.className))\" time=\"\(Self.seconds(c.time))\">\n"
                switch c.outcome {
                case .passed: break
                case .failed(let message, let type, let details):
                    out +=
                        "      <failure message=\"\(Self.escape(message))\" type=\"\(Self.escape(type))\">\(Self.escape(details))</failure>\n"
                case .skipped(let message):
                    out += "      <skipped message=\"\(Self.escape(message))\"/>\n"
                case .error(let message):
                    out +=
                        "      <error message=\"\(Self.escape(message))\" type=\"error\">\(Self.escape(message))</error>\n"
                }
                if !c.output.isEmpty { out += "      <system-out>\(Self.escape(c.output))</system-out>\n" }
                out += "    </testcase>\n"
            }
            out += "  </testsuite>\n"
        }
        return out + "</testsuites>\n"
    }

    /// Writes the report to `path` (replacing it); a failure is the command's.
    func write(to path: String) throws(CommandFailure) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CommandFailure(
                .failure, "cannot write the JUnit report to '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var text = xml
        let ok = text.withUTF8 { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return false }
            }
            return true
        }
        guard ok else {
            throw CommandFailure(
                .failure, "cannot write the JUnit report to '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    // MARK: Helpers

    private static func count(_ cases: [Case], _ predicate: KeyPath<Case, Bool>) -> Int {
        cases.filter { $0[keyPath: predicate] }.count
    }

    private static func seconds(_ value: Double) -> String {
        Numbers.fixed(max(0, value), 3)
    }

    /// XML text and attribute escaping; characters XML 1.0 cannot carry become U+FFFD.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n", "\t", "\r": out.unicodeScalars.append(scalar)
            default:
                let v = scalar.value
                let allowed = v >= 0x20 && !(0xD800...0xDFFF).contains(v) && v != 0xFFFE && v != 0xFFFF
                out.unicodeScalars.append(allowed ? scalar : "\u{FFFD}")
            }
        }
        return out
    }
}

extension JUnitReport.Case {
    var isFailure: Bool { if case .failed = outcome { return true } else { return false } }
    var isError: Bool { if case .error = outcome { return true } else { return false } }
    var isSkipped: Bool { if case .skipped = outcome { return true } else { return false } }

    /// A case from a probe's findings: the first failure is the failure (all
    /// failures in its text), warnings and notes go to the output with the figures.
    static func fromFindings(
        name: String, className: String, time: Double, facts: [String], findings: [Finding],
        inconclusive: Bool = false
    ) -> JUnitReport.Case {
        let failed = findings.filter { $0.level == .fail }
        let others = findings.reported.filter { $0.level != .fail }
        let output = (facts + others.compactMap(\.reportLine)).joined(separator: "\n")
        let outcome: Outcome
        if let first = failed.first {
            let details = failed.map {
                "\($0.reportLine ?? $0.text)\nexpected: \($0.expected)\nobserved: \($0.observed)\n\($0.rule.clause): \($0.rule.quote)"
            }
            .joined(separator: "\n\n")
            outcome = .failed(
                message: "\(first.rule.clause): \(first.text)", type: first.rule.basis.rawValue, details: details)
        } else if inconclusive {
            let note = findings.first { $0.level == .note }?.text ?? "inconclusive"
            outcome = .skipped(message: note)
        } else {
            outcome = .passed
        }
        return JUnitReport.Case(name: name, className: className, time: time, outcome: outcome, output: output)
    }
}
