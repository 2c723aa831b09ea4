import Mosquitto

/// The take-over variants `probe takeover --matrix` runs at once: where
/// brokers differ most. Each has its own client id and topics.
enum TakeoverVariants {
    struct Variant {
        let name: String
        /// A's clean start, A's session expiry (MQTT 5), B's clean start, B's session expiry.
        let aClean: Bool
        let aExpiry: UInt32?
        let bClean: Bool
        let bExpiry: UInt32?
        var willDelay: UInt32 = 0
        var bWill = false
        var aInflight = false
    }

    static func variants(_ version: ProtocolVersion) -> [Variant] {
        let kept: UInt32? = version == .v5 ? 300 : nil
        var list = [
            Variant(name: "clean", aClean: true, aExpiry: nil, bClean: true, bExpiry: nil),
            Variant(name: "persistent", aClean: false, aExpiry: kept, bClean: false, bExpiry: kept),
            Variant(name: "clean to persistent", aClean: true, aExpiry: nil, bClean: false, bExpiry: kept),
            Variant(name: "persistent to clean", aClean: false, aExpiry: kept, bClean: true, bExpiry: nil),
            Variant(name: "B with a will", aClean: true, aExpiry: nil, bClean: true, bExpiry: nil, bWill: true),
            Variant(
                name: "A silent, message in flight", aClean: false, aExpiry: kept, bClean: false, bExpiry: kept,
                aInflight: true),
        ]
        if version == .v5 {
            list.append(Variant(name: "B other expiry", aClean: false, aExpiry: 300, bClean: false, bExpiry: 10))
            list.append(
                Variant(
                    name: "persistent, will delay 2 s", aClean: false, aExpiry: 300, bClean: false, bExpiry: 300,
                    willDelay: 2))
        }
        return list
    }

    /// The plans for one version; `base` makes the ids, `topics` the topic root.
    static func plans(
        _ version: ProtocolVersion, base: String, topics: String, willQoS: Int, probe: ProbeOptions,
        keepAlive: Int
    ) -> [TakeoverPlan] {
        variants(version).enumerated().map { index, v in
            let id = "\(base)-m\(index + 1)"
            let root = "\(topics)/m\(index + 1)"
            var will = Will(topic: "\(root)/will", payload: Array("mqttctl probe: A gone".utf8), qos: willQoS)
            if v.willDelay > 0 { will.properties.append(MQTTProperties.willDelayInterval, .uint32(v.willDelay)) }
            var plan = TakeoverPlan(
                protocolVersion: version, clientID: id, observerID: "\(id)-obs", cleanStart: v.aClean,
                sessionExpiry: version == .v5 ? v.aExpiry : nil, newCleanStart: false, will: will,
                carryTopic: "\(root)/carry", keepAlive: keepAlive, strict: probe.strict, grace: probe.grace,
                closeWait: probe.maxWait ?? TakeoverPlan.defaultCloseWait, sessionName: v.name)
            plan.waitCap = probe.maxWait ?? TakeoverPlan.defaultWaitCap
            plan.bCleanOverride = v.bClean
            plan.bSessionExpiry = version == .v5 ? (v.bExpiry ?? 0) : nil
            if v.bWill {
                plan.bWill = Will(topic: "\(root)/b-will", payload: Array("mqttctl probe: B gone".utf8), qos: willQoS)
            }
            plan.aInflight = v.aInflight
            return plan
        }
    }
}

extension ProbeReport {
    /// One table per protocol version: a row per variant.
    static func matrixText(endpoint: String, probes: [TakeoverProbe], skipped: [Skipped], elapsed: Double) -> String {
        var out =
            "PROBE takeover --matrix \(endpoint): \(probes.count) take-overs at once in \(Numbers.fixed(elapsed, 1)) s\n"
        var versions: [ProtocolVersion] = []
        for p in probes where !versions.contains(p.plan.protocolVersion) { versions.append(p.plan.protocolVersion) }
        for version in versions {
            out += "MQTT \(version)\n"
            let rows = probes.filter { $0.plan.protocolVersion == version }
            let header = [
                "variant", "A closed", "will", "B session present", "carried over", "in flight resent", "verdict",
            ]
            var table: [[String]] = [header]
            for p in rows {
                let closed = p.closedAfter.map { "\(Numbers.fixed($0, 3)) ms, \(p.aEnd?.kind ?? "?")" } ?? "NOT closed"
                let expected = p.expectation.will?.published.map { $0 ? "yes" : "no" } ?? "either"
                let will = "\(p.willPublished == true ? "yes" : "no") (expected \(expected))"
                let present =
                    p.bConnAck.map { "\($0.sessionPresent ? 1 : 0) (expected \(p.expectation.sessionPresent ? 1 : 0))" }
                    ?? "-"
                let carried = p.subscriptionCarriedOver.map { $0 ? "yes" : "no" } ?? "-"
                let verdict =
                    p.passed
                    ? (p.findings.warnings > 0
                        ? "pass, \(p.findings.warnings) warning\(p.findings.warnings == 1 ? "" : "s")" : "pass")
                    : "FAIL"
                let resent = p.inflightRedelivered.map { $0 ? "yes" : "no" } ?? "-"
                table.append([p.plan.sessionName, closed, will, present, carried, resent, verdict])
            }
            let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
            for row in table {
                out += "  " + row.enumerated().map { pad($0.element, widths[$0.offset]) }.joined(separator: "  ") + "\n"
            }
            for p in rows {
                for line in p.findings.reported.filter({ $0.level != .pass }).compactMap(\.reportLine) {
                    out += "  \(p.plan.sessionName): \(line)\n"
                }
            }
        }
        for skip in skipped { out += "MQTT \(skip.version)\n  skipped: \(skip.reason)\n" }
        let failed = probes.filter { !$0.passed }.count
        out +=
            failed == 0
            ? "--- pass (\(probes.count) of \(probes.count))\n" : "--- \(failed) of \(probes.count) did not pass\n"
        return out
    }
}
