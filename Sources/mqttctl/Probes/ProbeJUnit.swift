import Mosquitto

/// The probes' results as JUnit test cases: one per keep-alive subject (with
/// its negative control), one per take-over, one skipped case per protocol
/// version the broker did not accept.
extension ProbeReport {
    static func junit(
        keepAlive: [KeepAliveProbe], takeover: [TakeoverProbe], skipped: [Skipped], name: String,
        elapsed: Double, startedAt: WallClock
    ) -> JUnitReport {
        var versions: [ProtocolVersion] = []
        for version in keepAlive.map(\.plan.protocolVersion) + takeover.map(\.plan.protocolVersion)
            + skipped.map(\.version)
        where !versions.contains(version) {
            versions.append(version)
        }
        let suites = versions.map { version in
            var cases: [JUnitReport.Case] = []
            for probe in keepAlive where probe.plan.protocolVersion == version { cases += junitCases(probe) }
            for probe in takeover where probe.plan.protocolVersion == version { cases.append(junitCase(probe)) }
            for skip in skipped where skip.version == version {
                cases.append(
                    JUnitReport.Case(
                        name: "MQTT \(version)", className: className("probe", version),
                        time: 0, outcome: .skipped(message: skip.reason), output: ""))
            }
            return JUnitReport.Suite(name: "\(name) MQTT \(version)", cases: cases)
        }
        return JUnitReport(name: name, suites: suites, time: elapsed, timestamp: startedAt.isoSecondsUTC)
    }

    static func className(_ probe: String, _ version: ProtocolVersion) -> String {
        "mqttctl.\(probe).mqtt\(version.description.filter { $0 != "." })"
    }

    static func junitCases(_ probe: KeepAliveProbe) -> [JUnitReport.Case] {
        let version = probe.plan.protocolVersion
        var cases = probe.subjects.map { subject in
            JUnitReport.Case.fromFindings(
                name: row(subject).label, className: className("probe.keepalive", version),
                time: subject.watched ?? 0, facts: [describe(subject)] + (describeWill(subject).map { [$0] } ?? []),
                findings: subject.findings, inconclusive: subject.inconclusive)
        }
        if let control = probe.control {
            let finding = control.finding(version: version, strict: probe.plan.strict)
            cases.append(
                .fromFindings(
                    name: "negative control", className: className("probe.keepalive", version),
                    time: control.watched, facts: [controlText(control)], findings: [finding]))
        }
        return cases
    }

    static func junitCase(_ probe: TakeoverProbe) -> JUnitReport.Case {
        .fromFindings(
            name: "take-over, \(probe.plan.sessionName)",
            className: className("probe.takeover", probe.plan.protocolVersion),
            time: probe.elapsed,
            facts: facts(probe).filter { !$0.hasPrefix("FAIL") && !$0.hasPrefix("warning") && !$0.hasPrefix("note (") },
            findings: probe.findings)
    }
}
