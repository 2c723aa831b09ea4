import Testing
@testable import mqttctl

@Suite struct JUnitReportTests {
    @Test func countsOutcomesAndEscapesText() {
        let report = JUnitReport(
            name: "r",
            suites: [
                .init(
                    name: "s",
                    cases: [
                        .init(name: "a<b", className: "c", time: 1.5, outcome: .passed, output: "x & y \u{01}"),
                        .init(
                            name: "f", className: "c", time: 0,
                            outcome: .failed(message: "m \"q\"", type: "MUST", details: "d"), output: ""),
                        .init(name: "s", className: "c", time: 0, outcome: .skipped(message: "why"), output: ""),
                    ])
            ], time: 2, timestamp: "2026-12-01T10:00:00")
        let xml = report.xml
        #expect(
            xml.hasPrefix(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"r\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\" time=\"2.000\">"
            ))
        #expect(xml.contains("<testcase name=\"a&lt;b\" classname=\"c\" time=\"1.500\">"))
        #expect(xml.contains("<system-out>x &amp; y \u{FFFD}</system-out>"), "control characters are not XML")
        #expect(xml.contains("<failure message=\"m &quot;q&quot;\" type=\"MUST\">d</failure>"))
        #expect(xml.contains("<skipped message=\"why\"/>"))
    }

    @Test func findingsBecomeAFailureWithTheClause() {
        let rule = SpecRule(basis: .must, clause: "MQTT 5 [MQTT-3.1.2-22]", quote: "... it MUST close ...")
        let warning = SpecRule(basis: .should, clause: "MQTT 5 §3.1.2.5", quote: "SHOULD")
        let c = JUnitReport.Case.fromFindings(
            name: "k", className: "c", time: 1, facts: ["dropped after 12 s"],
            findings: [
                Finding(rule: rule, level: .fail, expected: "within 8.5 s", observed: "12 s", text: "late"),
                Finding(rule: warning, level: .warning, expected: "prompt", observed: "slow", text: "slow will"),
            ])
        guard case .failed(let message, let type, let details) = c.outcome else {
            Issue.record("not a failure: \(c)")
            return
        }
        #expect(message == "MQTT 5 [MQTT-3.1.2-22]: late")
        #expect(type == "MUST")
        #expect(details.contains("expected: within 8.5 s") && details.contains("it MUST close"))
        #expect(c.output == "dropped after 12 s\nwarning (SHOULD, MQTT 5 §3.1.2.5): slow will")
    }
}
